import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import SandboxProtocol
import Synchronization

/// The bench failed: the server answered wrongly, closed, or did not answer.
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The server's response to one request, with the output its `run/output`
/// notifications carried and when the request left and the response arrived.
struct Reply: Sendable {
    var response: JSONValue
    var stdout: String
    var stderr: String
    var sentAt: ContinuousClock.Instant
    var receivedAt: ContinuousClock.Instant

    var roundTrip: Duration { receivedAt - sentAt }

    /// The JSON-RPC error, if the request was refused.
    var error: RPCError? { response["error"].flatMap { try? $0.decoded(as: RPCError.self) } }

    /// The result, decoded; throws when the response has none of that shape.
    func result<T: Decodable>(as type: T.Type) throws -> T {
        guard let result = response["result"], let decoded = try? result.decoded(as: type) else {
            throw BenchFailure("unexpected response: \(response)")
        }
        return decoded
    }
}

/// One WebSocket connection to sandboxd speaking protocol v1. Requests go out
/// through one writer task (frames are never written concurrently); one
/// reader task matches responses to requests by id and gathers each run's output.
final class BenchConnection: Sendable {
    private struct Waiter {
        var continuation: AsyncThrowingStream<Reply, any Error>.Continuation
        var sentAt: ContinuousClock.Instant?
        var stdout = ""
        var stderr = ""
    }

    private struct State {
        var nextID: Int64 = 1
        var waiters: [Int64: Waiter] = [:]
        /// Set once the connection is gone; later requests fail with it.
        var closedBecause: BenchFailure?
    }

    private struct Outgoing: Sendable {
        var id: Int64
        var text: String
    }

    private let state = Mutex(State())
    private let outgoing: AsyncStream<Outgoing>.Continuation
    /// A request without a response after this long fails the bench instead of hanging it.
    private let responseTimeout: Duration

    private init(outgoing: AsyncStream<Outgoing>.Continuation, responseTimeout: Duration) {
        self.outgoing = outgoing
        self.responseTimeout = responseTimeout
    }

    /// Connects (offering subprotocol `pysandbox.v1`), runs `body`, closes.
    static func connect<T: Sendable>(
        url: String, responseTimeout: Duration = .seconds(60),
        _ body: @escaping @Sendable (BenchConnection) async throws -> T
    ) async throws -> T {
        var headers = HTTPFields()
        headers[.secWebSocketProtocol] = webSocketSubprotocol
        var logger = Logger(label: "sandbox-bench")
        logger.logLevel = .error
        let outcome = Outcome<T>()
        try await WebSocketClient.connect(
            url: url, configuration: .init(maxFrameSize: maxMessageBytes, additionalHeaders: headers), logger: logger
        ) { inbound, outbound, _ in
            let (frames, continuation) = AsyncStream.makeStream(of: Outgoing.self)
            let connection = BenchConnection(outgoing: continuation, responseTimeout: responseTimeout)
            // connect returns no value of the handler's; keep body's value (or error) for the caller.
            let result = await Result {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await connection.read(inbound) }
                    group.addTask { try await connection.write(frames, to: outbound) }
                    group.addTask { try await connection.watchForTimeouts() }
                    defer {
                        continuation.finish()
                        group.cancelAll()
                    }
                    return try await body(connection)
                }
            }
            outcome.result.withLock { $0 = result }
        }
        guard let result = outcome.result.withLock({ $0 }) else {
            throw BenchFailure("the connection to \(url) closed before the bench was done")
        }
        return try result.get()
    }

    /// The largest server message accepted (a `run/output` carries at most 64 KiB).
    private static let maxMessageBytes = 1 << 20

    /// Carries `body`'s value out of the WebSocket handler, which returns nothing.
    private final class Outcome<T: Sendable>: Sendable {
        let result = Mutex<Result<T, any Error>?>(nil)
    }

    // MARK: Requests

    func initialize() async throws -> InitializeResult {
        let params: JSONValue = ["clientInfo": ["name": "sandbox-bench", "version": "1"]]
        let info = try await request(Method.initialize, params).result(as: InitializeResult.self)
        guard info.protocolVersion == 1 else { throw BenchFailure("server speaks protocol \(info.protocolVersion), not 1") }
        return info
    }

    func run(_ params: RunParams) async throws -> Reply {
        try await request(Method.run, params)
    }

    /// Sends one request and waits for its response.
    func request(_ method: String, _ params: some Encodable & Sendable) async throws -> Reply {
        let (replies, continuation) = AsyncThrowingStream.makeStream(of: Reply.self)
        let id = try state.withLock { state throws(BenchFailure) -> Int64 in
            if let reason = state.closedBecause { throw reason }
            let id = state.nextID
            state.nextID += 1
            state.waiters[id] = Waiter(continuation: continuation)
            return id
        }
        // A caller that stops waiting (cancelled) leaves no waiter behind.
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.waiters.removeValue(forKey: id) }
        }
        let data = try JSONEncoder.protocolEncoder.encode(Request(id: id, method: method, params: params))
        outgoing.yield(Outgoing(id: id, text: String(decoding: data, as: UTF8.self)))
        for try await reply in replies { return reply }
        throw CancellationError()
    }

    private struct Request<Params: Encodable>: Encodable {
        var jsonrpc = "2.0"
        var id: Int64
        var method: String
        var params: Params
    }

    // MARK: Tasks of the connection

    /// The only task that writes frames. The send time is taken here, right
    /// before the frame is handed to the socket.
    private func write(_ frames: AsyncStream<Outgoing>, to outbound: WebSocketOutboundWriter) async throws {
        for await frame in frames {
            let now = ContinuousClock.now
            state.withLock { $0.waiters[frame.id]?.sentAt = now }
            try await outbound.write(.text(frame.text))
        }
    }

    /// The only task that reads frames. When it ends, every waiting request fails.
    private func read(_ inbound: WebSocketInboundStream) async throws {
        var reason = BenchFailure("the server closed the connection")
        defer { closeAll(reason) }
        do {
            for try await message in inbound.messages(maxSize: Self.maxMessageBytes) {
                let receivedAt = ContinuousClock.now
                guard case .text(let text) = message else {
                    throw BenchFailure("the server sent a binary frame")
                }
                guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                    throw BenchFailure("the server sent a frame that is not JSON: \(text.prefix(200))")
                }
                try handle(value, receivedAt: receivedAt)
            }
        } catch let failure as BenchFailure {
            reason = failure
            throw failure
        } catch is CancellationError {
            reason = BenchFailure("the connection was closed by the bench")
        } catch {
            reason = BenchFailure("the connection failed: \(error)")
            throw error
        }
    }

    private func handle(_ message: JSONValue, receivedAt: ContinuousClock.Instant) throws {
        if let method = message["method"]?.stringValue {
            // Notifications: keep run output; run/status needs nothing here.
            guard method == Method.runOutput, let params = message["params"],
                  case .integer(let id)? = params["id"], let text = params["text"]?.stringValue
            else { return }
            let stream = params["stream"]?.stringValue
            state.withLock { state in
                if stream == "stdout" { state.waiters[id]?.stdout += text } else { state.waiters[id]?.stderr += text }
            }
            return
        }
        guard case .integer(let id)? = message["id"] else {
            throw BenchFailure("the server sent a response that matches no request: \(message)")
        }
        // Taken out under the lock, resumed outside it: finishing runs onTermination, which locks.
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        let reply = Reply(
            response: message, stdout: waiter.stdout, stderr: waiter.stderr,
            sentAt: waiter.sentAt ?? receivedAt, receivedAt: receivedAt)
        waiter.continuation.yield(reply)
        waiter.continuation.finish()
    }

    /// Fails requests the server leaves unanswered, so that a hung server ends the bench loudly.
    private func watchForTimeouts() async throws {
        while true {
            try await Task.sleep(for: .seconds(1))
            let deadline = ContinuousClock.now - responseTimeout
            let expired = state.withLock { state in
                let ids = state.waiters.filter { $0.value.sentAt.map { $0 < deadline } ?? false }.map(\.key)
                return ids.compactMap { id in state.waiters.removeValue(forKey: id).map { (id, $0) } }
            }
            for (id, waiter) in expired {
                waiter.continuation.finish(throwing: BenchFailure("no response to request \(id) within \(responseTimeout)"))
            }
        }
    }

    private func closeAll(_ reason: BenchFailure) {
        let waiters = state.withLock { state in
            state.closedBecause = reason
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.finish(throwing: reason) }
    }
}

extension JSONValue {
    /// This value read as a Decodable type (e.g. a result as `RunResult`).
    func decoded<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: JSONEncoder().encode(self))
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing call.
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
