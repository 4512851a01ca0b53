/// `session/files/list`, `read`, `write` and `remove` (PROTOCOL.md §4.16):
/// a session's working folder as an API, for agents and editors.
public struct SessionFilesParams: Sendable, Equatable {
    public enum Method: String, Sendable, Equatable, CaseIterable {
        case list
        case read
        case write
        case remove

        /// The method's name on the wire (`session/files/list`, …).
        public var name: String { "session/files/" + rawValue }
    }

    public var method: Method
    public var session: String
    /// Relative to the session's working folder; "" (the folder itself) for `list` only.
    public var path: String
    /// `write`'s content.
    public var content: FileContent?

    public init(method: Method, session: String, path: String = "", content: FileContent? = nil) {
        self.method = method
        self.session = session
        self.path = path
        self.content = content
    }

    public init(_ method: Method, params: [String: JSONValue]) throws(RPCError) {
        let fields: Set<String> = method == .write ? ["session", "path", "content"] : ["session", "path"]
        if let unknown = params.keys.sorted().first(where: { !fields.contains($0) }) {
            throw .invalidParams("unknown field '\(unknown)'")
        }
        self.method = method
        session = try Self.string(params, "session")
        if method == .list {
            path = try RunParams.optional(params, "path") { $0.stringValue } ?? ""
        } else {
            path = try Self.string(params, "path")
        }
        try Self.check(path, emptyMeansFolder: method == .list)
        if method == .write {
            guard let value = params["content"], value != .null else {
                throw .invalidParams("content: required string or {\"base64\": string} missing")
            }
            content = try FileContent(json: value, field: "content")
        }
    }

    private static func string(_ params: [String: JSONValue], _ name: String) throws(RPCError) -> String {
        guard let value = params[name], value != .null else { throw .invalidParams("\(name): required string missing") }
        guard case .string(let text) = value else { throw .invalidParams("\(name): must be a string, not \(value.typeName)") }
        return text
    }

    /// `run`'s rules for `files` paths: relative, no `.`, `..` or empty
    /// segment, no NUL; the service never names anything outside the folder.
    public static func check(_ path: String, emptyMeansFolder: Bool) throws(RPCError) {
        if path.isEmpty {
            if emptyMeansFolder { return }
            throw .invalidParams("path: '' must be a relative path")
        }
        if path.hasPrefix("/") { throw .invalidParams("path: '\(path)' must be a relative path") }
        if path.utf8.contains(0) { throw .invalidParams("path: contains a NUL byte") }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
            throw .invalidParams("path: '\(path)' must not contain '..', '.' or empty segments")
        }
    }

    /// The session's helper's request, as JSON (`SessionFilesProgram`).
    public func helperRequest(maxReadBytes: Int, maxEntries: Int) -> JSONValue {
        .object([
            "method": .string(method.rawValue), "path": .string(path),
            "maxBytes": .integer(Int64(maxReadBytes)), "maxEntries": .integer(Int64(maxEntries)),
        ])
    }
}

/// The params as a client sends them.
extension SessionFilesParams: Encodable {
    private enum CodingKeys: String, CodingKey {
        case session, path, content
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(session, forKey: .session)
        if method != .list || !path.isEmpty { try container.encode(path, forKey: .path) }
        try container.encodeIfPresent(content, forKey: .content)
    }
}

/// `session/files/list`'s result: the folder's entries, sorted by name.
public struct SessionFilesListResult: Sendable, Equatable, Codable {
    public struct Entry: Sendable, Equatable, Codable {
        public var name: String
        /// `file`, `directory`, `symlink` or `other` (a FIFO, a socket, a device).
        public var type: String
        public var size: Int
        public var modifiedMs: Int
        /// The name is not UTF-8: `name` shows each byte that is not as `\xNN`.
        public var nameNotUTF8: Bool?

        public init(name: String, type: String, size: Int, modifiedMs: Int, nameNotUTF8: Bool? = nil) {
            self.name = name
            self.type = type
            self.size = size
            self.modifiedMs = modifiedMs
            self.nameNotUTF8 = nameNotUTF8
        }
    }

    public var path: String
    public var entries: [Entry]
    /// More entries than `limits.sessions.maxListEntries`: the first ones by name came.
    public var truncated: Bool

    public init(path: String, entries: [Entry], truncated: Bool) {
        self.path = path
        self.entries = entries
        self.truncated = truncated
    }
}

/// `session/files/read`'s result: the file's bytes, as text when they are UTF-8.
public struct SessionFilesReadResult: Sendable, Equatable, Codable {
    public var path: String
    public var size: Int
    public var text: String?
    public var base64: String?

    public init(path: String, size: Int, text: String? = nil, base64: String? = nil) {
        self.path = path
        self.size = size
        self.text = text
        self.base64 = base64
    }

    /// The file's bytes, whichever way they came.
    public var bytes: [UInt8]? {
        if let text { return Array(text.utf8) }
        return base64.flatMap(Base64.decode)
    }
}

/// `session/files/write`'s result.
public struct SessionFilesWriteResult: Sendable, Equatable, Codable {
    public var path: String
    public var size: Int
    /// The file did not exist before.
    public var created: Bool

    public init(path: String, size: Int, created: Bool) {
        self.path = path
        self.size = size
        self.created = created
    }
}

/// `session/files/remove`'s result: what was removed (a folder with all it held).
public struct SessionFilesRemoveResult: Sendable, Equatable, Codable {
    public var path: String
    /// `file`, `directory`, `symlink` or `other`.
    public var removed: String

    public init(path: String, removed: String) {
        self.path = path
        self.removed = removed
    }
}

/// -32009's reasons (`data.reason`).
public enum SessionFileErrorReason: String, Sendable, Equatable, CaseIterable {
    case notFound
    case notADirectory
    case isADirectory
    case symlink
    case notRegularFile
    case tooLarge
    case noSpace
    /// The session could not answer (its request was stopped, the session is out of memory).
    case failed
}
