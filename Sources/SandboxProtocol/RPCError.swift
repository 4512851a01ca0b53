/// A JSON-RPC error object. `code` is one of `RPCErrorCode`'s; `message`
/// starts with the code's phrase and says what was wrong.
public struct RPCError: Error, Sendable, Equatable, Codable {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(_ code: RPCErrorCode, _ detail: String? = nil, data: JSONValue? = nil) {
        self.code = code.rawValue
        self.message = detail.map { "\(code.phrase): \($0)" } ?? code.phrase
        self.data = data
    }
}

/// The error codes of protocol v1 (PROTOCOL.md, "Errors").
public enum RPCErrorCode: Int, Sendable, CaseIterable {
    case parseError = -32700
    case invalidRequest = -32600
    case methodNotFound = -32601
    case invalidParams = -32602
    case internalError = -32603
    case queueFull = -32001
    case tooManyInFlight = -32002
    case codeTooLarge = -32003
    case rateLimited = -32004
    case shuttingDown = -32005
    case tooManySessions = -32006
    case sessionEnded = -32007
    /// The run's (or session's) `packages` could not be installed; `data`
    /// says which requirement and why (`PackagesUnavailable`).
    case packagesUnavailable = -32008
    /// A `session/files/*` request found the path missing, of another
    /// kind, or too large; `data` says why (`SessionFileError`).
    case fileError = -32009
    /// `session/fork` could not copy the session (its state too large, its
    /// pickling stopped, the copy's loading failed); the original goes on.
    case forkFailed = -32010
    /// The tenant's daily CPU quota is spent; `data` says which quota, how
    /// much was used and when it resets (`resetsAt`, `retryAfterMs`).
    case quotaExceeded = -32011

    /// The phrase every message of this code starts with.
    public var phrase: String {
        switch self {
        case .parseError: "Parse error"
        case .invalidRequest: "Invalid request"
        case .methodNotFound: "Method not found"
        case .invalidParams: "Invalid params"
        case .internalError: "Internal error"
        case .queueFull: "Queue full"
        case .tooManyInFlight: "Too many runs in flight"
        case .codeTooLarge: "Code too large"
        case .rateLimited: "Rate limited"
        case .shuttingDown: "Server shutting down"
        case .tooManySessions: "Too many sessions"
        case .sessionEnded: "Session ended"
        case .packagesUnavailable: "Packages unavailable"
        case .fileError: "File error"
        case .forkFailed: "Fork failed"
        case .quotaExceeded: "Quota exceeded"
        }
    }
}

extension RPCError {
    public static func invalidParams(_ detail: String) -> RPCError { RPCError(.invalidParams, detail) }
    public static func invalidRequest(_ detail: String) -> RPCError { RPCError(.invalidRequest, detail) }
}
