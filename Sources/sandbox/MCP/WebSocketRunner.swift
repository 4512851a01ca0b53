import Foundation
import SandboxClient
import SandboxMCP
import SandboxProtocol
import Synchronization

/// The MCP tools' runner for `sandbox mcp`: one WebSocket connection to
/// sandboxd at a time, made when a call first needs it and made again after
/// it closes. Sessions belong to the connection that opened them, so when it
/// closes they are reported ended. `maintain()` owns the connections.
final class WebSocketRunner: CodeRunner {
    /// The connection in use, and its number: sessions carry it in their handles.
    struct Line: Sendable {
        let connection: ProtocolConnection
        let number: Int
        /// The service's `limits.maxMessageBytes`: it closes a connection that sends more in one message.
        let maxMessageBytes: Int
    }

    private struct State {
        var line: Line?
        /// Calls waiting for `maintain()` to connect.
        var waiters: [CheckedContinuation<Result<Line, RunnerError>, Never>] = []
        var connections = 0
        /// Sessions open on `line`, as far as this runner knows.
        var openSessions: Set<SessionHandle> = []
        var ended: [SessionHandle: SessionEnd] = [:]
    }

    private let url: String
    private let token: String?
    private let state = Mutex(State())
    private let wanted: AsyncStream<Void>.Continuation
    private let wants: AsyncStream<Void>

    init(url: String, token: String?) {
        self.url = url
        self.token = token
        (wants, wanted) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Connects whenever a call needs a connection, and holds each until it
    /// closes; returns when cancelled (closing the connection it holds).
    func maintain() async {
        for await _ in wants {
            guard !Task.isCancelled else { break }
            await connectAndServe()
        }
        let waiters = state.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: .failure(.unreachable("sandbox mcp is shutting down"))) }
    }

    // MARK: CodeRunner

    func run(
        _ params: RunParams, in session: SessionHandle?, record: @escaping @Sendable (RunEvent) -> Void
    ) async throws(RunnerError) -> RunResult {
        var params = params
        params.session = session?.id
        let (line, id, events) = try await send(Method.run, params, session: session)
        let response = try await response(to: id, events, on: line, record: record)
        do {
            return try response.result(as: RunResult.self)
        } catch {
            if let session, case .rejected(let refusal) = error, refusal.code == RPCErrorCode.sessionEnded.rawValue {
                state.withLock { _ = $0.openSessions.remove(session) }
            }
            throw RunnerError(error)
        }
    }

    func openSession(_ params: SessionOpenParams) async throws(RunnerError) -> OpenedSession {
        let (line, id, events) = try await send(Method.sessionOpen, params, session: nil)
        let response = try await response(to: id, events, on: line, record: { _ in })
        let opened: SessionOpenResult
        do {
            opened = try response.result(as: SessionOpenResult.self)
        } catch {
            throw RunnerError(error)
        }
        let handle = SessionHandle(id: opened.session, connection: line.number)
        state.withLock { state in
            if state.line?.number == line.number {
                state.openSessions.insert(handle)
            } else {
                state.ended[handle] = .connectionLost
            }
        }
        return OpenedSession(handle: handle, limits: opened.limits)
    }

    func endOfSession(_ session: SessionHandle) -> SessionEnd? {
        state.withLock { state in
            state.ended[session] ?? (state.openSessions.contains(session) ? nil : .connectionLost)
        }
    }

    func sessionFiles(_ params: SessionFilesParams, in session: SessionHandle) async throws(RunnerError) -> JSONValue {
        var params = params
        params.session = session.id
        let (line, id, events) = try await send(params.method.name, params, session: session)
        let response = try await response(to: id, events, on: line, record: { _ in })
        do {
            return try response.result(as: JSONValue.self)
        } catch {
            if case .rejected(let refusal) = error, refusal.code == RPCErrorCode.sessionEnded.rawValue {
                state.withLock { _ = $0.openSessions.remove(session) }
            }
            throw RunnerError(error)
        }
    }

    func closeSession(_ session: SessionHandle) async throws(RunnerError) {
        let (line, id, events) = try await send(Method.sessionClose, SessionCloseParams(session: session.id), session: session)
        let response = try await response(to: id, events, on: line, record: { _ in })
        // Closed, or not a session of the connection any more: either way not open, and not ended by itself.
        state.withLock { state in
            state.openSessions.remove(session)
            state.ended[session] = nil
        }
        do {
            _ = try response.result(as: JSONValue.self)
        } catch {
            throw RunnerError(error)
        }
    }

    // MARK: Requests

    /// Sends a request on the current connection. A connection found closed
    /// before anything was sent is replaced once, unless `session` lived on it.
    private func send(
        _ method: String, _ params: some Encodable & Sendable, session: SessionHandle?
    ) async throws(RunnerError) -> (Line, Int64, AsyncThrowingStream<ClientEvent, any Error>) {
        var attempts = 0
        while true {
            attempts += 1
            let line = try await line()
            if let session, session.connection != line.number {
                throw .unreachable("the connection that session \(session) belonged to has closed")
            }
            try Self.check(params, fits: line)
            do {
                let (id, events) = try line.connection.send(method, params)
                return (line, id, events)
            } catch {
                lineClosed(line.number)
                if session != nil || attempts > 1 { throw RunnerError(error) }
            }
        }
    }

    /// A request larger than the service takes is not sent: the service
    /// would close the connection (1009), and the sessions on it with it.
    /// Only a run with files or a file's write comes near the limit, so only those are measured.
    private static func check(_ params: some Encodable & Sendable, fits line: Line) throws(RunnerError) {
        let encoded: Data?
        if let run = params as? RunParams, run.files?.isEmpty == false {
            encoded = try? JSONEncoder.protocolEncoder.encode(run)
        } else if let files = params as? SessionFilesParams, files.content != nil {
            encoded = try? JSONEncoder.protocolEncoder.encode(files)
        } else {
            return
        }
        let bytes = (encoded?.count ?? 0) + envelopeBytes
        if bytes > line.maxMessageBytes { throw .tooLarge(bytes: bytes, limit: line.maxMessageBytes) }
    }

    /// What a request's envelope adds to its params:
    /// `{"jsonrpc":"2.0","id":…,"method":"session/files/write","params":…}`.
    private static let envelopeBytes = 80

    /// The request's response, its run's output and displays going to
    /// `record` on the way. Cancelling the task cancels the run.
    private func response(
        to id: Int64, _ events: AsyncThrowingStream<ClientEvent, any Error>, on line: Line,
        record: @escaping @Sendable (RunEvent) -> Void
    ) async throws(RunnerError) -> ClientEvent.Response {
        do {
            return try await withTaskCancellationHandler {
                for try await event in events {
                    switch event {
                    case .output(let output): record(.output(output))
                    case .display(let display): record(.display(display))
                    case .status, .test: continue
                    case .response(let response): return response
                    }
                }
                throw RunnerError.cancelled  // the stream ends early only when this task is cancelled
            } onCancel: {
                line.connection.notify(Method.cancelRequest, ["id": JSONValue.integer(id)] as JSONValue)
            }
        } catch let error as RunnerError {
            throw error
        } catch let error as ClientError {
            throw RunnerError(error)
        } catch {
            throw Task.isCancelled ? .cancelled : .unreachable("the connection failed: \(error)")
        }
    }

    // MARK: Connections

    /// The open connection; waits for `maintain()` to make one if there is none.
    private func line() async throws(RunnerError) -> Line {
        let result = await withCheckedContinuation { continuation in
            let line = state.withLock { state -> Line? in
                if let line = state.line { return line }
                state.waiters.append(continuation)
                return nil
            }
            if let line { continuation.resume(returning: .success(line)) } else { wanted.yield() }
        }
        return try result.get()
    }

    private func connectAndServe() async {
        // A wake-up buffered while the last connection was open may find no one waiting.
        guard let number = state.withLock({ state -> Int? in
            guard !state.waiters.isEmpty else { return nil }
            state.connections += 1
            return state.connections
        }) else { return }
        let connected = Mutex(false)
        var failure = RunnerError.unreachable("the connection to the sandbox service closed")
        do {
            try await ProtocolConnection.connect(url: url, token: token, notifications: { [weak self] method, params in
                self?.notified(method, params, on: number)
            }) { [self] connection in
                let info = try await connection.initialize(clientName: "sandbox mcp", version: PySandbox.version)
                let line = Line(connection: connection, number: number, maxMessageBytes: info.limits.maxMessageBytes)
                let waiters = state.withLock { state in
                    state.line = line
                    defer { state.waiters = [] }
                    return state.waiters
                }
                connected.withLock { $0 = true }
                for waiter in waiters { waiter.resume(returning: .success(line)) }
                // sandboxd does not close a connection with open sessions as idle (RPCConnection.isIdle).
                await connection.closed()
            }
        } catch {
            failure = RunnerError(error as? ClientError ?? .unreachable("\(error)"))
        }
        lineClosed(number)
        // Calls that came after a live connection closed wait for the next one (their wake-up is buffered).
        guard !connected.withLock({ $0 }) else { return }
        let waiters = state.withLock { state in
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: .failure(failure)) }
    }

    /// Connection `number` is closed: its sessions have ended with it.
    private func lineClosed(_ number: Int) {
        state.withLock { state in
            guard state.line?.number == number else { return }
            state.line = nil
            for session in state.openSessions { state.ended[session] = .connectionLost }
            state.openSessions = []
        }
    }

    private func notified(_ method: String, _ params: JSONValue, on connection: Int) {
        guard method == Method.sessionEnded, let ended = try? params.decoded(as: SessionEndedParams.self) else { return }
        let handle = SessionHandle(id: ended.session, connection: connection)
        state.withLock { state in
            state.openSessions.remove(handle)
            state.ended[handle] = SessionEnd(ended.reason, message: ended.message)
        }
    }
}

extension RunnerError {
    init(_ error: ClientError) {
        self = switch error {
        case .unreachable(let reason), .timedOut(let reason): .unreachable(reason)
        case .refused(_, let reason): .unreachable(reason)
        case .rejected(let refusal): .refused(refusal)
        case .protocolViolation(let reason): .protocolViolation(reason)
        }
    }
}
