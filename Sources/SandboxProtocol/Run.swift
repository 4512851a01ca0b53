/// Method and notification names of protocol v1.
public enum Method {
    public static let initialize = "initialize"
    public static let run = "run"
    public static let runStdin = "run/stdin"
    public static let cancelRequest = "$/cancelRequest"
    public static let runStatus = "run/status"
    public static let runOutput = "run/output"
    public static let runDisplay = "run/display"
    public static let runStdinWanted = "run/stdinWanted"
    public static let runTest = "run/test"
    public static let sessionOpen = "session/open"
    public static let sessionClose = "session/close"
    public static let sessionEnded = "session/ended"
    public static let codeComplete = "code/complete"
    public static let codeInspect = "code/inspect"
    public static let codeIsComplete = "code/isComplete"
    public static let sessionFork = "session/fork"
    public static let sessionFilesList = "session/files/list"
    public static let sessionFilesRead = "session/files/read"
    public static let sessionFilesWrite = "session/files/write"
    public static let sessionFilesRemove = "session/files/remove"
}

/// `run` params. `init(params:)` checks types and rejects unknown fields; the
/// server checks the limits against its maxima.
public struct RunParams: Sendable, Equatable, Codable {
    public var code: String
    public var stdin: String?
    public var interactive: Bool?
    public var files: [String: FileContent]?
    /// Glob patterns, relative to the working directory, of files to send back in the verdict.
    public var returnFiles: [String]?
    public var timeoutMs: Int?
    public var memoryMb: Int?
    public var maxOutputBytes: Int?
    /// CPU time of all the run's processes together.
    public var cpuTimeMs: Int?
    /// The session (`session/open`) whose `__main__` the code runs in.
    public var session: String?
    /// PEP 508 requirements (a name, extras, a version specifier) the run
    /// imports: installed once by the service, mounted read-only.
    public var packages: [String]?
    /// Inputs to run the program against, each in a fresh sandbox (`RunTest`).
    public var tests: [RunTest]?

    public init(
        code: String, stdin: String? = nil, interactive: Bool? = nil, files: [String: FileContent]? = nil,
        returnFiles: [String]? = nil, timeoutMs: Int? = nil, memoryMb: Int? = nil, maxOutputBytes: Int? = nil,
        cpuTimeMs: Int? = nil, session: String? = nil, packages: [String]? = nil, tests: [RunTest]? = nil
    ) {
        self.tests = tests
        self.session = session
        self.packages = packages
        self.code = code
        self.stdin = stdin
        self.interactive = interactive
        self.files = files
        self.returnFiles = returnFiles
        self.timeoutMs = timeoutMs
        self.memoryMb = memoryMb
        self.maxOutputBytes = maxOutputBytes
        self.cpuTimeMs = cpuTimeMs
    }

    /// The least each limit may be: what a run may ask for, and a server may default to.
    public static let minimumTimeoutMs = 1
    public static let minimumMemoryMb = 16
    public static let minimumMaxOutputBytes = 0
    public static let minimumCpuTimeMs = 1

    static let fields: Set = [
        "code", "stdin", "interactive", "files", "returnFiles", "timeoutMs", "memoryMb", "maxOutputBytes", "cpuTimeMs",
        "session", "packages", "tests",
    ]

    public init(params: [String: JSONValue]) throws(RPCError) {
        if let unknown = params.keys.sorted().first(where: { !Self.fields.contains($0) }) {
            throw .invalidParams("unknown field '\(unknown)'")
        }
        guard let codeValue = params["code"] else { throw .invalidParams("code: required string missing") }
        guard case .string(let code) = codeValue else { throw .invalidParams("code: must be a string, not \(codeValue.typeName)") }
        self.code = code
        stdin = try Self.optional(params, "stdin") { $0.stringValue }
        session = try Self.optional(params, "session") { $0.stringValue }
        interactive = try Self.optional(params, "interactive") { $0.boolValue }
        timeoutMs = try Self.integer(params, "timeoutMs", minimum: Self.minimumTimeoutMs)
        memoryMb = try Self.integer(params, "memoryMb", minimum: Self.minimumMemoryMb)
        maxOutputBytes = try Self.integer(params, "maxOutputBytes", minimum: Self.minimumMaxOutputBytes)
        cpuTimeMs = try Self.integer(params, "cpuTimeMs", minimum: Self.minimumCpuTimeMs)
        files = try Self.files(params["files"])
        returnFiles = try Self.optional(params, "returnFiles", Self.strings)
        packages = try Self.optional(params, "packages", Self.strings)
        if let value = params["tests"], value != .null { tests = try RunTest.parse(value) }
    }

    static func strings(_ value: JSONValue) -> [String]? {
        guard case .array(let items) = value else { return nil }
        let strings = items.compactMap(\.stringValue)
        return strings.count == items.count ? strings : nil
    }

    /// Each file's content is a string (text) or `{"base64": string}` (bytes).
    private static func files(_ value: JSONValue?) throws(RPCError) -> [String: FileContent]? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value else {
            throw .invalidParams("files: must be an object of strings or {\"base64\": string} objects, not \(value.typeName)")
        }
        var files: [String: FileContent] = [:]
        for (path, content) in members.sorted(by: { $0.key < $1.key }) {
            files[path] = try FileContent(json: content, field: "files: '\(path)'")
        }
        return files
    }

    static func optional<T>(
        _ params: [String: JSONValue], _ name: String, _ convert: (JSONValue) -> T?
    ) throws(RPCError) -> T? {
        guard let value = params[name], value != .null else { return nil }
        guard let converted = convert(value) else {
            let expected = switch name {
            case "returnFiles", "packages": "an array of strings"
            case "interactive": "a boolean"
            default: "a string"
            }
            throw .invalidParams("\(name): must be \(expected)")
        }
        return converted
    }

    static func integer(_ params: [String: JSONValue], _ name: String, minimum: Int) throws(RPCError) -> Int? {
        guard let value = params[name], value != .null else { return nil }
        let number: Int
        switch value {
        case .integer(let integer):
            guard let fitting = Int(exactly: integer) else { throw .invalidParams("\(name): \(integer) is out of range") }
            number = fitting
        case .number(let double) where value.isIntegerBeyond64Bits:
            throw .invalidParams("\(name): \(double) is out of range")
        case .number(let double):
            throw .invalidParams("\(name): must be an integer, not \(double)")
        default:
            throw .invalidParams("\(name): must be an integer, not \(value.typeName)")
        }
        guard number >= minimum else { throw .invalidParams("\(name): \(number) is below the minimum \(minimum)") }
        return number
    }
}

/// `run`'s result (PROTOCOL.md, "run"): the run's `Verdict` and how long
/// it waited for a worker, as one flat object. Read the verdict's fields
/// directly: `result.status`, `result.exitCode`.
@dynamicMemberLookup
public struct RunResult: Sendable, Equatable, Codable {
    public var verdict: Verdict
    public var queuedMs: Int
    /// A run with `tests`: each test's result, in the order given, and their summary.
    public var tests: [TestResult]?
    public var summary: TestSummary?

    public init(_ verdict: Verdict, queuedMs: Int, tests: [TestResult]? = nil) {
        self.verdict = verdict
        self.queuedMs = queuedMs
        self.tests = tests
        summary = tests.map(TestSummary.init)
    }

    public subscript<Value>(dynamicMember field: WritableKeyPath<Verdict, Value>) -> Value {
        get { verdict[keyPath: field] }
        set { verdict[keyPath: field] = newValue }
    }

    private enum CodingKeys: String, CodingKey {
        case queuedMs, tests, summary
    }

    public init(from decoder: any Decoder) throws {
        verdict = try Verdict(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        queuedMs = try container.decode(Int.self, forKey: .queuedMs)
        tests = try container.decodeIfPresent([TestResult].self, forKey: .tests)
        summary = try container.decodeIfPresent(TestSummary.self, forKey: .summary)
    }

    public func encode(to encoder: any Encoder) throws {
        try verdict.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(queuedMs, forKey: .queuedMs)
        try container.encodeIfPresent(tests, forKey: .tests)
        try container.encodeIfPresent(summary, forKey: .summary)
    }
}

/// `run/status` params.
public struct RunStatusParams: Sendable, Equatable, Codable {
    /// `installing`: the run's `packages` are being installed (before `queued`
    /// or `running`); absent from servers before 0.11.0.
    public enum State: String, Sendable, Codable { case installing, queued, running }
    public var id: JSONValue
    public var state: State
    public var position: Int?

    public init(id: JSONValue, state: State, position: Int? = nil) {
        self.id = id
        self.state = state
        self.position = position
    }
}

/// `run/output` params.
public struct RunOutputParams: Sendable, Equatable, Codable {
    public enum Stream: String, Sendable, Codable { case stdout, stderr }
    public var id: JSONValue
    public var stream: Stream
    public var text: String
    public var seq: Int

    public init(id: JSONValue, stream: Stream, text: String, seq: Int) {
        self.id = id
        self.stream = stream
        self.text = text
        self.seq = seq
    }
}

/// `run/stdinWanted` params: the run's program blocks reading stdin with
/// nothing to read (a client may put its user's focus on its input line).
public struct RunStdinWantedParams: Sendable, Equatable, Codable {
    public var id: JSONValue

    public init(id: JSONValue) {
        self.id = id
    }
}

/// `run/stdin` params; malformed ones are ignored like any bad notification.
public struct RunStdinParams: Sendable, Equatable, Codable {
    public var id: JSONValue
    public var data: String?
    public var eof: Bool?

    public init(id: JSONValue, data: String? = nil, eof: Bool? = nil) {
        self.id = id
        self.data = data
        self.eof = eof
    }

    public init?(params: [String: JSONValue]) {
        guard let id = params["id"], Envelope.isValidID(id) else { return nil }
        self.id = id
        // null counts as absent, as in request params.
        data = params["data"]?.stringValue
        eof = params["eof"]?.boolValue
        if let given = params["data"], given != .null, data == nil { return nil }
        if let given = params["eof"], given != .null, eof == nil { return nil }
    }
}

/// A file of `run`'s `files`: text, or bytes sent as `{"base64": …}`.
public enum FileContent: Sendable, Equatable, Codable {
    case text(String)
    case bytes([UInt8])

    /// What is written into the working directory.
    public var bytes: [UInt8] {
        switch self {
        case .text(let text): Array(text.utf8)
        case .bytes(let bytes): bytes
        }
    }

    /// A content as a request carries it: a string, or `{"base64": string}`
    /// and nothing else; `field` starts the message of a refusal.
    public init(json content: JSONValue, field: String) throws(RPCError) {
        switch content {
        case .string(let text):
            self = .text(text)
        case .object(let object):
            guard object.count == 1, case .string(let encoded)? = object["base64"] else {
                throw .invalidParams("\(field): an object must be {\"base64\": string} and nothing else")
            }
            guard let bytes = Base64.decode(encoded) else {
                throw .invalidParams("\(field): base64 is not valid base64")
            }
            self = .bytes(bytes)
        default:
            throw .invalidParams("\(field): must be a string or {\"base64\": string}, not \(content.typeName)")
        }
    }

    private enum CodingKeys: String, CodingKey { case base64 }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self = .text(text)
            return
        }
        let encoded = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .base64)
        guard let bytes = Base64.decode(encoded) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not valid base64"))
        }
        self = .bytes(bytes)
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .text(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case .bytes(let bytes):
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(Base64.encode(bytes), forKey: .base64)
        }
    }
}

/// `run/display` params: one rich result (a plot, a table, an image), as a
/// MIME bundle the way Jupyter's `display_data` has it. `seq` is shared with
/// `run/output`, so the two interleave as the program wrote them.
public struct RunDisplayParams: Sendable, Equatable, Codable {
    public var id: JSONValue
    public var seq: Int
    /// MIME type → content: `text/plain` always; images base64; `application/json` any JSON.
    public var data: [String: JSONValue]
    public var metadata: [String: JSONValue]?

    public init(id: JSONValue, seq: Int, data: [String: JSONValue], metadata: [String: JSONValue]? = nil) {
        self.id = id
        self.seq = seq
        self.data = data
        self.metadata = metadata
    }
}
