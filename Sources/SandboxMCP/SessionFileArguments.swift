import MCP
import SandboxProtocol

/// The arguments of the tools that act on one of the client's sessions by
/// name (`list_files`, `read_file`, `write_file`, `reset_session`), checked.
/// Wrong ones are the agent's to fix, so each error names the argument.
public struct SessionFileArguments: Sendable, Equatable {
    /// The session's name, as `run_python`'s `session` gives it ("default" when left out).
    public var session: String
    /// Relative to the session's working folder (/tmp); "" is the folder itself (`list_files` only).
    public var path: String
    /// `write_file`'s.
    public var content: FileContent?

    public init(session: String = RunPythonArguments.defaultSessionName, path: String = "", content: FileContent? = nil) {
        self.session = session
        self.path = path
        self.content = content
    }

    /// The arguments each tool takes, in the order its unknown-argument message names them.
    static func names(of tool: String) -> [String] {
        switch tool {
        case SessionFileTools.readName: ["path", "session"]
        case SessionFileTools.writeName: ["path", "content", "encoding", "session"]
        case ResetSessionTool.name: ["session"]
        default: ["path", "session"]
        }
    }

    public init(_ arguments: [String: Value]?, for tool: String) throws(ArgumentError) {
        let arguments = arguments ?? [:]
        let names = Self.names(of: tool)
        if let unknown = arguments.keys.sorted().first(where: { !names.contains($0) }) {
            let takes = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last!
            throw ArgumentError("unknown argument '\(unknown)'; \(tool) takes \(takes)")
        }
        session = try Self.session(arguments["session"])
        path = ""
        if names.contains("path") {
            path = try Self.path(arguments["path"], required: tool != SessionFileTools.listName)
        }
        if tool == SessionFileTools.writeName {
            content = try Self.content(arguments["content"], encoding: arguments["encoding"])
        }
    }

    /// A name, or `true` for "default" as in `run_python`; left out, "default".
    private static func session(_ value: Value?) throws(ArgumentError) -> String {
        guard let value, !value.isNull else { return RunPythonArguments.defaultSessionName }
        switch value {
        case .string(let name): return try RunPythonArguments.checkedName(name)
        case .bool(true): return RunPythonArguments.defaultSessionName
        default:
            throw ArgumentError(
                "session: must be a session name (a string, as given to run_python's session; \"default\" when left out), not \(value.typeName)")
        }
    }

    /// The working folder is /tmp, so "/tmp/x" is taken for "x" (and "/tmp",
    /// "." for the folder itself); a trailing "/" and a leading "./" go.
    /// Anything else must be as `run`'s `files` paths are: relative, without
    /// ".", ".." or empty parts. The service checks again.
    static func path(_ value: Value?, required: Bool) throws(ArgumentError) -> String {
        let example = "a path relative to the session's working directory /tmp, such as \"data/input.csv\""
        guard let value, !value.isNull else {
            if required { throw ArgumentError("path: required, \(example)") }
            return ""
        }
        guard case .string(let given) = value else { throw ArgumentError("path: must be a string, \(example), not \(value.typeName)") }
        var path = given
        if path == "/tmp" || path == "." { path = "" }
        if path.hasPrefix("/tmp/") { path.removeFirst("/tmp/".count) }
        while path.hasPrefix("./") { path.removeFirst(2) }
        if path.count > 1, path.hasSuffix("/") { path.removeLast() }
        if path.isEmpty && required {
            throw ArgumentError("path: '\(given)' is the working directory itself; give a file's path, \(example)")
        }
        do throws(RPCError) {
            try SessionFilesParams.check(path, emptyMeansFolder: true)
        } catch {
            let prefix = RPCErrorCode.invalidParams.phrase + ": "
            let reason = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
            throw ArgumentError("\(reason): paths are relative to the session's working directory /tmp (which may be written in front) "
                + "and cannot name anything outside it")
        }
        return path
    }

    private static func content(_ value: Value?, encoding: Value?) throws(ArgumentError) -> FileContent {
        let base64: Bool
        switch encoding {
        case nil, .null?, .string("text")?: base64 = false
        case .string("base64")?: base64 = true
        case let other?: throw ArgumentError("encoding: must be \"text\" or \"base64\", not \(other)")
        }
        guard let value, !value.isNull else {
            throw ArgumentError("content: required, the file's text (or its bytes in base64, with encoding \"base64\")")
        }
        guard case .string(let text) = value else {
            throw ArgumentError("content: must be a string (the file's text, or base64 with encoding \"base64\"), not \(value.typeName)")
        }
        guard base64 else { return .text(text) }
        guard let bytes = Base64.decode(text) else {
            throw ArgumentError("content: not valid base64 (standard alphabet, padded, no line breaks)")
        }
        return .bytes(bytes)
    }
}
