import Foundation
import SandboxMCP
import SandboxProtocol
import Synchronization

/// The MCP tools' runner inside sandboxd: protocol v1 spoken in-process to
/// an `RPCConnection` of its own, as a WebSocket client would speak it, so
/// an MCP client's runs and sessions get the limits, fairness and
/// cancellation of a connection. `deliver()` hands the connection's messages
/// to the requests waiting for them; the runner's owner runs it.
final class InProcessRunner: CodeRunner {
    /// What the connection sends about one request.
    private enum Incoming: Sendable {
        case event(RunEvent)
        case response(JSONValue)
    }

    private struct State {
        var nextID: Int64 = 1
        var pending: [JSONValue: AsyncStream<Incoming>.Continuation] = [:]
        var openSessions: Set<String> = []
        var ended: [String: SessionEnd] = [:]
        var closed = false
        /// When a request was last sent to the connection or answered by it.
        var lastActivity = ContinuousClock.now
    }

    let connection: RPCConnection
    private let outbox: Outbox
    private let state = Mutex(State())

    init(server: ServerState, address: String, tenant: Tenant = AccessPolicy.defaultTenant) {
        outbox = Outbox(limit: Outbox.limit(
            maxOutputBytes: server.configuration.maxOutputBytes.max, maxReturnBytes: server.configuration.maxReturnBytes))
        connection = RPCConnection(server: server, outbox: outbox, address: address, tenant: tenant, via: "mcp")
    }

    /// Whether a request of the client's is with the connection (a run, a
    /// session opening: each ends within the server's own limits), or one
    /// was sent or answered within `timeout`.
    func isBusy(within timeout: Duration) -> Bool {
        state.withLock { !$0.pending.isEmpty || $0.lastActivity + timeout > .now }
    }

    /// Delivers the connection's messages until `close()` (or cancellation).
    func deliver() async {
        await outbox.write { [self] message in dispatch(message) }
    }

    /// Cancels the connection's runs (its sessions end with it) and fails what waits.
    func close() async {
        let pending = state.withLock { state in
            state.closed = true
            for session in state.openSessions { state.ended[session] = .connectionLost }
            state.openSessions = []
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for waiting in pending { waiting.finish() }
        await connection.close()
        outbox.finish()
    }

    // MARK: CodeRunner

    func run(
        _ params: RunParams, in session: SessionHandle?, record: @escaping @Sendable (RunEvent) -> Void
    ) async throws(RunnerError) -> RunResult {
        var params = params
        params.session = session?.id
        let response = try await request(Method.run, params, record: record)
        do {
            return try Self.result(of: response, as: RunResult.self)
        } catch {
            if let session, case .refused(let refusal) = error, refusal.code == RPCErrorCode.sessionEnded.rawValue {
                state.withLock { _ = $0.openSessions.remove(session.id) }
            }
            throw error
        }
    }

    func openSession(_ params: SessionOpenParams) async throws(RunnerError) -> OpenedSession {
        let response = try await request(Method.sessionOpen, params, record: { _ in })
        let opened = try Self.result(of: response, as: SessionOpenResult.self)
        state.withLock { _ = $0.openSessions.insert(opened.session) }
        return OpenedSession(handle: SessionHandle(id: opened.session), limits: opened.limits)
    }

    func endOfSession(_ session: SessionHandle) -> SessionEnd? {
        state.withLock { $0.ended[session.id] }
    }

    func sessionFiles(_ params: SessionFilesParams, in session: SessionHandle) async throws(RunnerError) -> JSONValue {
        var params = params
        params.session = session.id
        let response = try await request(params.method.name, params, record: { _ in })
        do {
            return try Self.result(of: response, as: JSONValue.self)
        } catch {
            if case .refused(let refusal) = error, refusal.code == RPCErrorCode.sessionEnded.rawValue {
                state.withLock { _ = $0.openSessions.remove(session.id) }
            }
            throw error
        }
    }

    func closeSession(_ session: SessionHandle) async throws(RunnerError) {
        let response = try await request(Method.sessionClose, SessionCloseParams(session: session.id), record: { _ in })
        // Closed, or not a session of the connection any more: either way not open.
        state.withLock { _ = $0.openSessions.remove(session.id) }
        _ = try Self.result(of: response, as: JSONValue.self)
    }

    // MARK: Messages

    /// Sends a request and waits for its response; if the calling task is
    /// cancelled first, the request is cancelled (`$/cancelRequest`).
    private func request(
        _ method: String, _ params: some Encodable & Sendable, record: @escaping @Sendable (RunEvent) -> Void
    ) async throws(RunnerError) -> JSONValue {
        let (incoming, sink) = AsyncStream.makeStream(of: Incoming.self)
        let id = try state.withLock { state throws(RunnerError) -> JSONValue in
            guard !state.closed else { throw .unreachable("this MCP session has ended") }
            let id = JSONValue.integer(state.nextID)
            state.nextID += 1
            state.pending[id] = sink
            state.lastActivity = .now
            return id
        }
        sink.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                state.pending[id] = nil
                state.lastActivity = .now
            }
        }
        await connection.receive(ClientMessage.request(id: id, method: method, params: params))
        for await message in incoming {
            switch message {
            case .event(let event): record(event)
            case .response(let response): return response
            }
        }
        // The stream ends early when this task is cancelled, or the runner closed.
        if state.withLock({ $0.closed }) { throw .unreachable("this MCP session has ended") }
        await connection.receive(ServerMessage.notification(Method.cancelRequest, ["id": id] as JSONValue))
        throw .cancelled
    }

    private func dispatch(_ text: String) {
        guard let message = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return }
        if let method = message["method"]?.stringValue {
            notified(method, message["params"] ?? .object([:]))
            return
        }
        guard let id = message["id"], let waiting = state.withLock({ state in
            state.lastActivity = .now
            return state.pending.removeValue(forKey: id)
        }) else { return }
        waiting.yield(.response(message))
        waiting.finish()
    }

    private func notified(_ method: String, _ params: JSONValue) {
        let event: RunEvent
        switch method {
        case Method.runOutput:
            guard let output = try? params.decoded(as: RunOutputParams.self) else { return }
            event = .output(output)
        case Method.runDisplay:
            guard let display = try? params.decoded(as: RunDisplayParams.self) else { return }
            event = .display(display)
        case Method.sessionEnded:
            guard let ended = try? params.decoded(as: SessionEndedParams.self) else { return }
            state.withLock { state in
                state.openSessions.remove(ended.session)
                state.ended[ended.session] = SessionEnd(ended.reason, message: ended.message)
            }
            return
        default:
            return  // run/status, and anything a later server adds
        }
        guard let id = params["id"] else { return }
        _ = state.withLock { $0.pending[id] }?.yield(.event(event))
    }

    private static func result<T: Decodable>(of response: JSONValue, as type: T.Type) throws(RunnerError) -> T {
        if let error = response["error"] {
            guard let refusal = try? error.decoded(as: RPCError.self) else { throw .protocolViolation("a malformed error: \(error)") }
            throw .refused(refusal)
        }
        guard let result = response["result"], let decoded = try? result.decoded(as: type) else {
            throw .protocolViolation("an unexpected response: \(response)")
        }
        return decoded
    }
}

/// A client's request as protocol v1 writes it.
private enum ClientMessage {
    private struct Request<Params: Encodable>: Encodable {
        var jsonrpc = "2.0"
        var id: JSONValue
        var method: String
        var params: Params
    }

    static func request(id: JSONValue, method: String, params: some Encodable) -> String {
        let data = (try? JSONEncoder.protocolEncoder.encode(Request(id: id, method: method, params: params))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
