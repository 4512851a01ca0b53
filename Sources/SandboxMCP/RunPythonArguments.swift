import Foundation
import MCP
import SandboxProtocol

/// `run_python`'s arguments, checked. Wrong ones are the agent's to fix, so
/// each error names the argument and what it must be.
public struct RunPythonArguments: Sendable, Equatable {
    public enum Session: Sendable, Equatable {
        /// A fresh sandbox for this call alone.
        case none
        /// The MCP client's session of this name (`true` is "default").
        case named(String)
    }

    public var code: String
    public var stdin: String?
    public var timeoutMs: Int?
    public var session: Session
    /// The call's own text budget (`ResultBudget.textBytes`); nil for the service's.
    public var resultTextBytes: Int?
    /// PyPI requirements the code imports (PROTOCOL.md, "Packages"); nil
    /// when none were given. Checked by the service, which names a bad one.
    public var packages: [String]?
    /// The run's memory limit in MiB, or with a session the session's (its
    /// `session/open`'s); nil for the service's default. Its range is the service's to check.
    public var memoryMb: Int?
    /// Files written into the working folder before the code runs, as
    /// `run`'s `files` (PROTOCOL.md §4.2); nil when none. The service checks the paths.
    public var files: [String: FileContent]?
    /// Glob patterns of files to bring back, as `run`'s `returnFiles`; nil
    /// when none. The service checks the patterns.
    public var returnFiles: [String]?
    /// Inputs to run the code against, each in a fresh sandbox, as `run`'s
    /// `tests` (PROTOCOL.md §4.17); nil when none. Not with a session.
    public var tests: [RunTest]?

    public init(
        code: String, stdin: String? = nil, timeoutMs: Int? = nil, session: Session = .none, resultTextBytes: Int? = nil,
        packages: [String]? = nil, memoryMb: Int? = nil, files: [String: FileContent]? = nil, returnFiles: [String]? = nil
    ) {
        self.code = code
        self.stdin = stdin
        self.timeoutMs = timeoutMs
        self.session = session
        self.resultTextBytes = resultTextBytes
        self.packages = packages
        self.memoryMb = memoryMb
        self.files = files
        self.returnFiles = returnFiles
    }

    /// The session `session: true` means.
    public static let defaultSessionName = "default"
    /// Longer names are refused: a name is a label, not a place for data.
    public static let maxSessionNameLength = 64
    /// Every argument, in the order the unknown-argument message names them.
    static let names = [
        "code", "stdin", "timeoutMs", "memoryMb", "session", "packages", "files", "returnFiles", "tests", "resultTextBytes",
    ]

    public init(_ arguments: [String: Value]?) throws(ArgumentError) {
        let arguments = arguments ?? [:]
        if let unknown = arguments.keys.sorted().first(where: { !Self.names.contains($0) }) {
            let takes = Self.names.dropLast().joined(separator: ", ") + " and " + Self.names.last!
            throw ArgumentError("unknown argument '\(unknown)'; run_python takes \(takes)")
        }
        guard let code = arguments["code"], !code.isNull else { throw ArgumentError("code: required, the Python source to run") }
        guard case .string(let text) = code else { throw ArgumentError("code: must be a string, not \(code.typeName)") }
        self.code = text
        stdin = try Self.string(arguments, "stdin")
        timeoutMs = try Self.integer(arguments, "timeoutMs", unit: "milliseconds")
        session = try Self.session(arguments["session"])
        resultTextBytes = try Self.integer(arguments, "resultTextBytes", unit: "bytes")
        packages = try Self.packages(arguments["packages"])
        memoryMb = try Self.integer(arguments, "memoryMb", unit: "MiB")
        files = try Self.files(arguments["files"])
        returnFiles = try Self.returnFiles(arguments["returnFiles"])
        tests = try Self.tests(arguments["tests"])
        if tests != nil, session != .none {
            throw ArgumentError("tests: each test runs in a fresh sandbox, not in a session; leave out session")
        }
    }

    /// An array of {stdin, expectedStdout?, compare?, name?} objects, read as the service reads `run`'s tests.
    private static func tests(_ value: Value?) throws(ArgumentError) -> [RunTest]? {
        guard let value, !value.isNull else { return nil }
        guard let data = try? JSONEncoder().encode(value), let json = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw ArgumentError("tests: must be an array of {\"stdin\": …, \"expectedStdout\": …} objects")
        }
        do throws(RPCError) {
            return try RunTest.parse(json)
        } catch {
            throw ArgumentError(error.message)
        }
    }

    /// An object of relative path → a string (text) or `{"base64": "…"}`
    /// (bytes), as `run`'s `files`, read as the service reads it; an empty one
    /// is none. The service checks the paths (relative, no `..`, not `main.py`) and sizes.
    private static func files(_ value: Value?) throws(ArgumentError) -> [String: FileContent]? {
        guard let value, !value.isNull else { return nil }
        guard case .object(let members) = value else {
            throw ArgumentError(
                "files: must be an object mapping relative paths to contents (a string for text, {\"base64\": \"…\"} for bytes), not \(value.typeName)")
        }
        var files: [String: FileContent] = [:]
        for (path, content) in members.sorted(by: { $0.key < $1.key }) {
            switch content {
            case .string(let text):
                files[path] = .text(text)
            case .object(let object):
                guard object.count == 1, case .string(let encoded)? = object["base64"] else {
                    throw ArgumentError("files: '\(path)': an object must be {\"base64\": \"…\"} and nothing else")
                }
                guard let bytes = Base64.decode(encoded) else {
                    throw ArgumentError("files: '\(path)': base64 is not valid base64 (standard alphabet, padded, no line breaks)")
                }
                files[path] = .bytes(bytes)
            default:
                throw ArgumentError("files: '\(path)': must be a string (text) or {\"base64\": \"…\"} (bytes), not \(content.typeName)")
            }
        }
        return files.isEmpty ? nil : files
    }

    /// An array of glob patterns; an empty one is none.
    private static func returnFiles(_ value: Value?) throws(ArgumentError) -> [String]? {
        guard let value, !value.isNull else { return nil }
        guard case .array(let items) = value else {
            throw ArgumentError("returnFiles: must be an array of glob patterns such as [\"out/*.csv\", \"plot.png\"], not \(value.typeName)")
        }
        var patterns: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let pattern) = item else {
                throw ArgumentError("returnFiles[\(index)]: must be a glob pattern (a string) such as \"out/*.csv\", not \(item.typeName)")
            }
            patterns.append(pattern)
        }
        return patterns.isEmpty ? nil : patterns
    }

    /// An array of strings; an empty one is none.
    private static func packages(_ value: Value?) throws(ArgumentError) -> [String]? {
        guard let value, !value.isNull else { return nil }
        guard case .array(let items) = value else {
            throw ArgumentError("packages: must be an array of requirement strings such as [\"requests\", \"pandas>=2\"], not \(value.typeName)")
        }
        var requirements: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                throw ArgumentError("packages[\(index)]: must be a string such as \"requests\" or \"pandas>=2\", not \(item.typeName)")
            }
            requirements.append(text)
        }
        return requirements.isEmpty ? nil : requirements
    }

    private static func string(_ arguments: [String: Value], _ name: String) throws(ArgumentError) -> String? {
        guard let value = arguments[name], !value.isNull else { return nil }
        guard case .string(let text) = value else { throw ArgumentError("\(name): must be a string, not \(value.typeName)") }
        return text
    }

    /// Whole numbers only; JSON writers that send 5000 as 5000.0 are let through.
    private static func integer(_ arguments: [String: Value], _ name: String, unit: String) throws(ArgumentError) -> Int? {
        guard let value = arguments[name], !value.isNull else { return nil }
        switch value {
        case .int(let number):
            guard number >= 1 else { throw ArgumentError("\(name): must be at least 1, not \(number)") }
            return number
        case .double(let number) where number.rounded() == number && number >= 1 && number < 1e15:
            return Int(number)
        default:
            throw ArgumentError("\(name): must be a positive integer (\(unit)), not \(value.typeName) \(value)")
        }
    }

    /// `name` if it may name a session (here and in the tools that act on sessions).
    static func checkedName(_ name: String) throws(ArgumentError) -> String {
        guard !name.isEmpty else { throw ArgumentError("session: a session name must not be empty") }
        guard name.count <= maxSessionNameLength else {
            throw ArgumentError("session: a session name has at most \(maxSessionNameLength) characters")
        }
        return name
    }

    private static func session(_ value: Value?) throws(ArgumentError) -> Session {
        guard let value, !value.isNull else { return .none }
        switch value {
        case .bool(let keep):
            return keep ? .named(defaultSessionName) : .none
        case .string(let name):
            return .named(try checkedName(name))
        default:
            throw ArgumentError("session: must be true, false or a session name (a string), not \(value.typeName)")
        }
    }
}

/// Arguments the tool cannot run with.
public struct ArgumentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

extension Value {
    /// The JSON type's name, for error messages.
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .double: "a number"
        case .string: "a string"
        case .data: "a data URL"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
