/// `session/open` params: all optional; unknown members are refused.
public struct SessionOpenParams: Sendable, Equatable, Codable {
    /// Memory of the session over its whole life.
    public var memoryMb: Int?
    /// The session ends after this long with no run.
    public var idleTimeoutMs: Int?
    /// Requirements every cell of the session can import (as `run`'s `packages`).
    public var packages: [String]?
    /// What a run that fails by a signal, a limit or a stuck interrupt does
    /// to the session: rolls it back (the default) or ends it.
    public var onFailure: OnFailure?

    public enum OnFailure: String, Sendable, Equatable, Codable {
        case rollback
        case end
    }

    public init(memoryMb: Int? = nil, idleTimeoutMs: Int? = nil, packages: [String]? = nil) {
        self.memoryMb = memoryMb
        self.idleTimeoutMs = idleTimeoutMs
        self.packages = packages
    }

    /// The least an idle timeout may be.
    public static let minimumIdleTimeoutMs = 1000

    public init(params: [String: JSONValue]) throws(RPCError) {
        if let unknown = params.keys.sorted().first(where: { !["memoryMb", "idleTimeoutMs", "packages", "onFailure"].contains($0) }) {
            throw .invalidParams("unknown field '\(unknown)'")
        }
        memoryMb = try RunParams.integer(params, "memoryMb", minimum: RunParams.minimumMemoryMb)
        idleTimeoutMs = try RunParams.integer(params, "idleTimeoutMs", minimum: Self.minimumIdleTimeoutMs)
        packages = try RunParams.optional(params, "packages", RunParams.strings)
        if let value = params["onFailure"], value != .null {
            guard let text = value.stringValue, let choice = OnFailure(rawValue: text) else {
                throw .invalidParams("onFailure: must be \"rollback\" or \"end\", not \(value)")
            }
            onFailure = choice
        }
    }
}

/// `session/open`'s result: the session's id, for `run`'s `session` and
/// `session/close`, and the limits it got.
public struct SessionOpenResult: Sendable, Equatable, Codable {
    public struct Limits: Sendable, Equatable, Codable {
        public var memoryMb: Int
        public var idleTimeoutMs: Int
        /// CPU time of the session's processes over its whole life.
        public var cpuTimeMs: Int

        public init(memoryMb: Int, idleTimeoutMs: Int, cpuTimeMs: Int) {
            self.memoryMb = memoryMb
            self.idleTimeoutMs = idleTimeoutMs
            self.cpuTimeMs = cpuTimeMs
        }
    }

    public var session: String
    public var limits: Limits
    /// Absent from servers before 0.13.0, whose failed runs end the session.
    public var onFailure: SessionOpenParams.OnFailure?

    public init(session: String, limits: Limits, onFailure: SessionOpenParams.OnFailure? = nil) {
        self.session = session
        self.limits = limits
        self.onFailure = onFailure
    }
}

/// `session/close` params.
public struct SessionCloseParams: Sendable, Equatable, Codable {
    public var session: String

    public init(session: String) {
        self.session = session
    }

    public init(params: [String: JSONValue]) throws(RPCError) {
        if let unknown = params.keys.sorted().first(where: { $0 != "session" }) {
            throw .invalidParams("unknown field '\(unknown)'")
        }
        guard let value = params["session"], value != .null else { throw .invalidParams("session: required string missing") }
        guard case .string(let session) = value else { throw .invalidParams("session: must be a string, not \(value.typeName)") }
        self.session = session
    }
}

/// Why a session ended without `session/close` (`session/ended`).
public enum SessionEndReason: String, Sendable, Codable, CaseIterable {
    /// No run for its `idleTimeoutMs`.
    case idleTimeout
    /// Its processes together reached its `memoryMb`.
    case memoryLimit
    /// Its processes together used its lifetime `cpuTimeMs`.
    case cpuLimit
    /// Its interpreter ended on its own (`os._exit`, a crash).
    case crashed
    /// A run was cancelled or reached a limit, and did not stop when
    /// interrupted: the session was killed to end it.
    case killed
    /// The server is shutting down.
    case shutdown
    /// Every session place was taken and another client, holding fewer,
    /// asked for one: this session, idle, gave its place up.
    case reclaimed
}

/// `session/ended` params.
public struct SessionEndedParams: Sendable, Equatable, Codable {
    public var session: String
    public var reason: SessionEndReason
    public var message: String?

    public init(session: String, reason: SessionEndReason, message: String? = nil) {
        self.session = session
        self.reason = reason
        self.message = message
    }
}
