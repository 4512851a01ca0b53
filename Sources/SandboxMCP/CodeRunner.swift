import SandboxProtocol

/// Where the MCP tools send their requests (`run_python`'s runs, the file
/// tools' `session/files/*`, `reset_session`'s `session/close`): one
/// protocol v1 client of sandboxd, over WebSocket (`sandbox mcp`) or
/// in-process (sandboxd's `/mcp`). The tools' logic (arguments, sessions per
/// MCP client, results) is the same over either.
public protocol CodeRunner: Sendable {
    /// Runs `params` in a fresh sandbox, or in `session`, and returns the
    /// verdict. `record` gets the run's output and displays as they arrive.
    /// Cancelling the calling task cancels the run (`$/cancelRequest`).
    func run(
        _ params: RunParams, in session: SessionHandle?, record: @escaping @Sendable (RunEvent) -> Void
    ) async throws(RunnerError) -> RunResult

    /// Opens a session (`session/open`) with `params` (the tool sets its
    /// `memoryMb` and `packages`; the rest are the server's defaults).
    func openSession(_ params: SessionOpenParams) async throws(RunnerError) -> OpenedSession

    /// Why `session` has ended, once the runner knows it has (`session/ended`,
    /// or the connection it belonged to closed); nil while it may be open.
    func endOfSession(_ session: SessionHandle) -> SessionEnd?

    /// Sends `session/files/*` (`params.method`) to `session`, which the
    /// runner names in the params, and returns the response's `result`:
    /// `SessionFilesListResult`, `…ReadResult`, `…WriteResult` or
    /// `…RemoveResult` as JSON. A refusal (-32009 and the rest) is `.refused`.
    func sessionFiles(_ params: SessionFilesParams, in session: SessionHandle) async throws(RunnerError) -> JSONValue

    /// Closes `session` (`session/close`): its running and queued runs end
    /// cancelled, its state and files are gone. Once answered, the runner
    /// no longer counts it among its open sessions, whatever the answer.
    func closeSession(_ session: SessionHandle) async throws(RunnerError)
}

/// A session as its runner knows it. Opaque to the tool: a runner that
/// reconnects tells its connections' sessions apart with `connection`.
public struct SessionHandle: Sendable, Hashable, CustomStringConvertible {
    /// The server's id (`session/open`'s result), valid on its connection only.
    public var id: String
    /// Which of the runner's connections opened it.
    public var connection: Int

    public init(id: String, connection: Int = 0) {
        self.id = id
        self.connection = connection
    }

    public var description: String { id }
}

/// A session `openSession` opened, with the limits the service gave it.
public struct OpenedSession: Sendable, Equatable {
    public var handle: SessionHandle
    /// `session/open`'s `limits`: what a later call asking for another memory limit is told the session has.
    public var limits: SessionOpenResult.Limits

    public init(handle: SessionHandle, limits: SessionOpenResult.Limits) {
        self.handle = handle
        self.limits = limits
    }
}

/// Why a session ended, in words for the agent.
public struct SessionEnd: Sendable, Equatable {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    /// From `session/ended` or the data of error -32007.
    public init(_ reason: SessionEndReason, message: String? = nil) {
        let words = switch reason {
        case .idleTimeout: "it was idle for longer than its idle timeout"
        case .memoryLimit: "it reached its memory limit"
        case .cpuLimit: "it used up its CPU time"
        case .crashed: "its Python interpreter exited (os._exit or a crash)"
        case .killed: "an interrupted run did not stop, so the session was killed"
        case .shutdown: "the sandbox service is shutting down"
        case .reclaimed: "it was idle while the sandbox service was full, so its place went to another client"
        }
        self.reason = message.map { "\(words): \($0)" } ?? words
    }

    public static let connectionLost = SessionEnd(reason: "the connection to the sandbox service was lost")
}

/// What a run sends before its verdict that the tool shows.
public enum RunEvent: Sendable {
    case output(RunOutputParams)
    case display(RunDisplayParams)
}

/// Why a runner has no verdict for a request.
public enum RunnerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The service cannot be reached, or the connection broke.
    case unreachable(String)
    /// The service answered with a JSON-RPC error (queue full, too many sessions, session ended, …).
    case refused(RPCError)
    /// The service answered something protocol v1 does not allow.
    case protocolViolation(String)
    /// The calling task was cancelled (the MCP client cancelled its request).
    case cancelled
    /// The request is larger than the service takes in one message
    /// (`limits.maxMessageBytes`), so it was not sent: a WebSocket service
    /// would close the connection, ending its sessions.
    case tooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .unreachable(let reason): reason
        case .refused(let error): "\(error.message) (JSON-RPC error \(error.code))"
        case .protocolViolation(let reason): "protocol violation: \(reason)"
        case .cancelled: "cancelled"
        case .tooLarge(let bytes, let limit): "the request takes \(bytes) bytes, over the service's limit of \(limit) bytes a message"
        }
    }
}
