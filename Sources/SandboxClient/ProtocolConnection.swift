import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import SandboxProtocol
import Synchronization

/// One WebSocket connection to sandboxd speaking protocol v1, for clients
/// (the `sandbox` CLI, the benchmark). Frames go out through one writer task,
/// so they are never written concurrently; one reader task hands each
/// request's notifications and response to that request's event stream.
public final class ProtocolConnection: Sendable {
    private struct Pending {
        var events: AsyncThrowingStream<ClientEvent, any Error>.Continuation
        var sentAt: ContinuousClock.Instant?
    }

    private struct State {
        var nextID: Int64 = 1
        var pending: [Int64: Pending] = [:]
        /// Set once the connection is gone; later requests fail with it.
        var closedBecause: ClientError?
        /// Tasks in `closed()`, resumed when the connection is gone.
        var closeWaiters: [UUID: CheckedContinuation<Void, Never>] = [:]
    }

    private struct Outgoing: Sendable {
        var id: Int64?
        var text: String
    }

    private let state = Mutex(State())
    private let outgoing: AsyncStream<Outgoing>.Continuation
    private let transcript: (@Sendable (String) -> Void)?
    private let notifications: (@Sendable (String, JSONValue) -> Void)?
    /// `session/ended` notifications, relayed by ProtocolConnection+Sessions.swift.
    let sessionEndings = AsyncStream.makeStream(of: SessionEndedParams.self)

    private init(
        outgoing: AsyncStream<Outgoing>.Continuation, transcript: (@Sendable (String) -> Void)?,
        notifications: (@Sendable (String, JSONValue) -> Void)?
    ) {
        self.outgoing = outgoing
        self.transcript = transcript
        self.notifications = notifications
    }

    /// The largest server message accepted. A `run/output` carries at most
    /// 64 KiB, but a `run/display` may be 4 MiB and a verdict carries its
    /// returned files as base64 (8 MiB of files by default is 11 MiB), and a
    /// server may allow more of both; a message is buffered only as large as it is.
    static let maxMessageBytes = 64 << 20

    /// Connects to `url` (offering subprotocol `pysandbox.v1`), runs `body`,
    /// then closes. `token` goes out as `Authorization: Bearer`. `transcript`
    /// sees every frame sent and received, in order; `notifications` gets the
    /// server's notifications that are about no request (`session/ended`),
    /// as method and params. Throws
    /// `ClientError.unreachable` when there is no server to talk to.
    public static func connect<T: Sendable>(
        url: String,
        token: String? = nil,
        transcript: (@Sendable (String) -> Void)? = nil,
        notifications: (@Sendable (String, JSONValue) -> Void)? = nil,
        _ body: @escaping @Sendable (ProtocolConnection) async throws -> T
    ) async throws -> T {
        var headers = HTTPFields()
        headers[.secWebSocketProtocol] = webSocketSubprotocol
        if let token { headers[.authorization] = "Bearer \(token)" }
        var logger = Logger(label: "pysandbox.client")
        logger.logLevel = .critical
        let outcome = Outcome<T>()
        do {
            try await WebSocketClient.connect(
                url: url, configuration: .init(maxFrameSize: maxMessageBytes, additionalHeaders: headers), logger: logger
            ) { inbound, outbound, _ in
                let (frames, continuation) = AsyncStream.makeStream(of: Outgoing.self)
                let connection = ProtocolConnection(outgoing: continuation, transcript: transcript, notifications: notifications)
                // connect returns nothing of the handler's; keep body's value (or error) for the caller.
                let result = await Result {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await connection.read(inbound) }
                        group.addTask { try await connection.write(frames, to: outbound) }
                        defer {
                            continuation.finish()
                            group.cancelAll()
                        }
                        return try await body(connection)
                    }
                }
                outcome.result.withLock { $0 = result }
            }
        } catch let error as ClientError {
            throw error
        } catch {
            if let result = outcome.result.withLock({ $0 }) { return try result.get() }
            let reason = Self.describe(error)
            if reason.contains("upgrade failed"), let refusal = await RefusalProbe.reason(url: url, token: token) {
                throw ClientError.refused(status: refusal.status, reason: "cannot connect to \(url): refused, \(refusal.text)")
            }
            throw ClientError.unreachable("cannot connect to \(url): \(reason)")
        }
        guard let result = outcome.result.withLock({ $0 }) else {
            throw ClientError.unreachable("\(url) refused the WebSocket connection")
        }
        return try result.get()
    }

    /// Carries `body`'s value out of the WebSocket handler, which returns nothing.
    private final class Outcome<T: Sendable>: Sendable {
        let result = Mutex<Result<T, any Error>?>(nil)
    }

    // MARK: Requests and notifications

    /// Sends a request. Its events (notifications about it, then the
    /// response) arrive on the returned stream, which ends after the response.
    public func send(_ method: String, _ params: some Encodable & Sendable) throws(ClientError) -> (id: Int64, events: AsyncThrowingStream<ClientEvent, any Error>) {
        let (events, continuation) = AsyncThrowingStream.makeStream(of: ClientEvent.self)
        let id = try state.withLock { state throws(ClientError) -> Int64 in
            if let reason = state.closedBecause { throw reason }
            let id = state.nextID
            state.nextID += 1
            state.pending[id] = Pending(events: continuation)
            return id
        }
        // A caller that stops listening (cancelled) leaves nothing behind.
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.pending.removeValue(forKey: id) }
        }
        outgoing.yield(Outgoing(id: id, text: Self.encode(Request(id: id, method: method, params: params))))
        return (id, events)
    }

    /// Sends a request and waits for its response, skipping its notifications.
    public func call(_ method: String, _ params: some Encodable & Sendable) async throws -> ClientEvent.Response {
        for try await event in try send(method, params).events {
            if case .response(let response) = event { return response }
        }
        throw CancellationError()
    }

    /// Sends a request and waits at most `timeout` for its response,
    /// skipping its notifications. Past it, the request is cancelled
    /// (`$/cancelRequest`; its late response is dropped) and
    /// `ClientError.timedOut` is thrown.
    public func call(_ method: String, _ params: some Encodable & Sendable, timeout: Duration) async throws -> ClientEvent.Response {
        let (id, events) = try send(method, params)
        let response = try await withThrowingTaskGroup(of: ClientEvent.Response?.self) { group in
            group.addTask {
                for try await event in events {
                    if case .response(let response) = event { return response }
                }
                throw CancellationError()
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let response else {
            notify(Method.cancelRequest, ["id": JSONValue.integer(id)])
            throw ClientError.timedOut("no answer to \(method) within \(timeout)")
        }
        return response
    }

    /// Sends a notification (`run/stdin`, `$/cancelRequest`); no response follows.
    public func notify(_ method: String, _ params: some Encodable & Sendable) {
        outgoing.yield(Outgoing(id: nil, text: ServerMessage.notification(method, params)))
    }

    /// Returns once the connection is gone (closed by either side, or
    /// broken), or when the calling task is cancelled.
    public func closed() async {
        let key = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let isOpen = state.withLock { state in
                    // Checked under the lock the cancellation handler takes: no waiter is left behind.
                    guard state.closedBecause == nil, !Task.isCancelled else { return false }
                    state.closeWaiters[key] = continuation
                    return true
                }
                if !isOpen { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.closeWaiters.removeValue(forKey: key) }?.resume()
        }
    }

    public func initialize(clientName: String, version: String) async throws -> InitializeResult {
        let params: JSONValue = ["clientInfo": ["name": .string(clientName), "version": .string(version)]]
        let info = try await call(Method.initialize, params).result(as: InitializeResult.self)
        guard info.protocolVersion == 1 else { throw ClientError.protocolViolation("the server speaks protocol \(info.protocolVersion), not 1") }
        return info
    }

    private struct Request<Params: Encodable>: Encodable {
        var jsonrpc = "2.0"
        var id: Int64
        var method: String
        var params: Params
    }

    private static func encode(_ message: some Encodable) -> String {
        let data = (try? JSONEncoder.protocolEncoder.encode(message)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: Tasks of the connection

    /// The only task that writes frames; the send time is taken right before
    /// the frame is handed to the socket.
    private func write(_ frames: AsyncStream<Outgoing>, to outbound: WebSocketOutboundWriter) async throws {
        for await frame in frames {
            if let id = frame.id {
                let now = ContinuousClock.now
                state.withLock { $0.pending[id]?.sentAt = now }
            }
            transcript?(frame.text)
            try await outbound.write(.text(frame.text))
        }
    }

    /// The only task that reads frames. When it ends, every pending request fails.
    private func read(_ inbound: WebSocketInboundStream) async throws {
        var reason = ClientError.unreachable("the server closed the connection")
        defer { closeAll(reason) }
        do {
            for try await message in inbound.messages(maxSize: Self.maxMessageBytes) {
                let receivedAt = ContinuousClock.now
                guard case .text(let text) = message else { throw ClientError.protocolViolation("the server sent a binary frame") }
                guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                    throw ClientError.protocolViolation("the server sent a frame that is not JSON: \(text.prefix(200))")
                }
                transcript?(text)
                try dispatch(value, receivedAt: receivedAt)
            }
        } catch let failure as ClientError {
            reason = failure
            throw failure
        } catch is CancellationError {
            reason = .unreachable("the connection was closed")
        } catch {
            reason = .unreachable("the connection failed: \(Self.describe(error))")
            throw error
        }
    }

    private func dispatch(_ message: JSONValue, receivedAt: ContinuousClock.Instant) throws(ClientError) {
        if let method = message["method"]?.stringValue {
            guard case .integer(let id)? = message["params"]?["id"], let params = message["params"] else {
                notifications?(method, message["params"] ?? .object([:]))
                if method == Method.sessionEnded { try relaySessionEnded(message) }
                return
            }
            let event: ClientEvent
            switch method {
            case Method.runOutput:
                guard let output = try? params.decoded(as: RunOutputParams.self) else {
                    throw .protocolViolation("malformed run/output: \(message)")
                }
                event = .output(output)
            case Method.runStatus:
                guard let status = try? params.decoded(as: RunStatusParams.self) else {
                    throw .protocolViolation("malformed run/status: \(message)")
                }
                event = .status(status)
            case Method.runDisplay:
                guard let display = try? params.decoded(as: RunDisplayParams.self) else {
                    throw .protocolViolation("malformed run/display: \(message)")
                }
                event = .display(display)
            case Method.runTest:
                guard let test = try? params.decoded(as: RunTestParams.self) else {
                    throw .protocolViolation("malformed run/test: \(message)")
                }
                event = .test(test)
            default:
                return  // unknown notifications are ignored, as the protocol says
            }
            _ = state.withLock { $0.pending[id]?.events.yield(event) }
            return
        }
        guard case .integer(let id)? = message["id"] else {
            throw .protocolViolation("a response that matches no request: \(message)")
        }
        // Taken out under the lock, finished outside it: finishing runs onTermination, which locks.
        guard let pending = state.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
        pending.events.yield(.response(.init(message: message, sentAt: pending.sentAt ?? receivedAt, receivedAt: receivedAt)))
        pending.events.finish()
    }

    private func closeAll(_ reason: ClientError) {
        sessionEndings.continuation.finish()
        let (pending, waiters) = state.withLock { state in
            state.closedBecause = reason
            defer {
                state.pending = [:]
                state.closeWaiters = [:]
            }
            return (Array(state.pending.values), Array(state.closeWaiters.values))
        }
        for request in pending { request.events.finish(throwing: reason) }
        for waiter in waiters { waiter.resume() }
    }

    /// NIO's errors, in words a person can act on.
    private static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing call.
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
