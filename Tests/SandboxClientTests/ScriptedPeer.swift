import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import SandboxProtocol
import Synchronization

/// A loopback WebSocket server that speaks protocol v1 from a script, for
/// the client's tests: `answer` is called with each message the client
/// sends and replies through the `PeerLink` it gets (any messages, in any
/// order, now or later); returning `.close` ends the connection there.
/// Not a sandboxd: only what each test scripts.
struct ScriptedPeer: Sendable {
    enum Next: Sendable {
        case goOn
        case close
    }

    typealias Answer = @Sendable (JSONValue, PeerLink) async throws -> Next

    /// An upgrade the peer refuses, answered as plain HTTP with this status and error message.
    struct Refusal: Sendable {
        var status: HTTPResponse.Status
        var message: String
    }

    /// What the client's upgrade request carried, per connection.
    final class Seen: Sendable {
        private let headers = Mutex<[HTTPFields]>([])
        var upgrades: [HTTPFields] { headers.withLock { $0 } }
        func record(_ fields: HTTPFields) { headers.withLock { $0.append(fields) } }
    }

    /// Runs a peer that answers with `answer` (or refuses every upgrade)
    /// on a free loopback port while `body` runs with its URL.
    static func with<T: Sendable>(
        refusing refusal: Refusal? = nil,
        _ answer: @escaping Answer = { _, _ in .goOn },
        _ body: @Sendable (String, Seen) async throws -> T
    ) async throws -> T {
        let seen = Seen()
        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        webSocketRouter.ws("/v1/ws") { request, _ in
            seen.record(request.headers)
            guard refusal == nil else { return .dontUpgrade }
            return .upgrade([.secWebSocketProtocol: webSocketSubprotocol])
        } onUpgrade: { inbound, outbound, _ in
            let link = PeerLink(outbound: outbound)
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message,
                      let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { continue }
                if try await answer(value, link) == .close { break }
            }
            await link.finish()
        }
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.get("/v1/ws") { _, _ -> Response in
            let refusal = refusal ?? Refusal(status: .badRequest, message: "not a WebSocket upgrade")
            let body = #"{"error":{"code":-32003,"message":"\#(refusal.message)"}}"#
            return Response(
                status: refusal.status, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "scripted-peer")
        logger.logLevel = .critical
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
            logger: logger)
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw PeerError.didNotStart }
        let result = await Result { try await body("ws://127.0.0.1:\(port)/v1/ws", seen) }
        server.cancel()
        _ = await server.result
        return try result.get()
    }

    enum PeerError: Error { case didNotStart }
}

/// The peer's side of one connection: what it sends, from any task.
final class PeerLink: Sendable {
    private let outbound: WebSocketOutboundWriter
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(outbound: WebSocketOutboundWriter) {
        self.outbound = outbound
    }

    func send(_ value: JSONValue) async {
        try? await outbound.write(.text(value.description))
    }

    func sendText(_ text: String) async {
        try? await outbound.write(.text(text))
    }

    /// Sends `value` after `delay`, without holding up the script.
    func send(_ value: JSONValue, after delay: Duration) {
        let task = Task {
            try? await Task.sleep(for: delay)
            await self.send(value)
        }
        tasks.withLock { $0.append(task) }
    }

    /// The connection ends: what was sent later is dropped.
    func finish() async {
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }
}

/// Protocol v1 messages, as a peer writes them.
enum Peer {
    static func result(_ id: JSONValue, _ result: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "id": id, "result": result]
    }

    static func error(_ id: JSONValue, code: Int64, _ message: String, data: JSONValue? = nil) -> JSONValue {
        var error: JSONValue = ["code": .integer(code), "message": .string(message)]
        if let data, case .object(var fields) = error {
            fields["data"] = data
            error = .object(fields)
        }
        return ["jsonrpc": "2.0", "id": id, "error": error]
    }

    static func notification(_ method: String, _ params: JSONValue) -> JSONValue {
        ["jsonrpc": "2.0", "method": .string(method), "params": params]
    }

    static func output(_ id: JSONValue, _ text: String, seq: Int) -> JSONValue {
        notification(Method.runOutput, ["id": id, "stream": "stdout", "text": .string(text), "seq": .integer(Int64(seq))])
    }

    static func running(_ id: JSONValue) -> JSONValue {
        notification(Method.runStatus, ["id": id, "state": "running"])
    }

    static func verdict(_ id: JSONValue, status: String = "ok") -> JSONValue {
        result(id, [
            "status": .string(status), "exitCode": 0, "wallMs": 1, "cpuMs": 1, "queuedMs": 0,
            "stdoutBytes": 0, "stderrBytes": 0, "truncated": false,
        ])
    }
}

extension Result where Failure == any Error {
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
