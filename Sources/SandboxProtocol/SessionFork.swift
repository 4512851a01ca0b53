/// `session/fork` params (PROTOCOL.md §4.15): the session to copy, and the
/// copy's own limits (the original's where left out).
public struct SessionForkParams: Sendable, Equatable, Codable {
    public var session: String
    public var memoryMb: Int?
    public var idleTimeoutMs: Int?
    public var onFailure: SessionOpenParams.OnFailure?

    public init(session: String, memoryMb: Int? = nil, idleTimeoutMs: Int? = nil, onFailure: SessionOpenParams.OnFailure? = nil) {
        self.session = session
        self.memoryMb = memoryMb
        self.idleTimeoutMs = idleTimeoutMs
        self.onFailure = onFailure
    }

    public init(params: [String: JSONValue]) throws(RPCError) {
        if let unknown = params.keys.sorted().first(where: { !["session", "memoryMb", "idleTimeoutMs", "onFailure"].contains($0) }) {
            throw .invalidParams("unknown field '\(unknown)'")
        }
        guard let value = params["session"], value != .null else { throw .invalidParams("session: required string missing") }
        guard case .string(let session) = value else { throw .invalidParams("session: must be a string, not \(value.typeName)") }
        self.session = session
        // The copy's limits are checked as session/open's.
        let open = try SessionOpenParams(params: params.filter { $0.key != "session" })
        memoryMb = open.memoryMb
        idleTimeoutMs = open.idleTimeoutMs
        onFailure = open.onFailure
    }
}

/// `session/fork`'s result: the copy, as `session/open` answers, and what was copied.
public struct SessionForkResult: Sendable, Equatable, Codable {
    /// What of the original's state the copy has.
    public struct Copied: Sendable, Equatable, Codable {
        /// Names of `__main__` copied.
        public var names: Int
        /// Files, folders and links of the working folder copied.
        public var files: Int
        /// The state's size as it travelled, in bytes.
        public var bytes: Int
        /// What could not be copied, and why (a lock, a generator, a FIFO).
        public var notCopied: [NotCopied]

        public init(names: Int, files: Int, bytes: Int, notCopied: [NotCopied]) {
            self.names = names
            self.files = files
            self.bytes = bytes
            self.notCopied = notCopied
        }
    }

    public struct NotCopied: Sendable, Equatable, Codable {
        /// A name of `__main__`, or `file PATH`.
        public var name: String
        public var reason: String

        public init(name: String, reason: String) {
            self.name = name
            self.reason = reason
        }
    }

    public var session: String
    public var limits: SessionOpenResult.Limits
    public var onFailure: SessionOpenParams.OnFailure
    public var copied: Copied

    public init(session: String, limits: SessionOpenResult.Limits, onFailure: SessionOpenParams.OnFailure, copied: Copied) {
        self.session = session
        self.limits = limits
        self.onFailure = onFailure
        self.copied = copied
    }
}
