import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import SandboxProtocol
import Synchronization

/// A test's WebSocket connection to sandboxd: sends frames, and hands out
/// the server's messages in arrival order or picked by id.
final class ProtocolClient: Sendable {
    private let outbound: WebSocketOutboundWriter
    let inbox = Inbox()
    /// Every message sent as JSON, in order (for the schema checks).
    let sent = Mutex<[JSONValue]>([])

    private init(outbound: WebSocketOutboundWriter) {
        self.outbound = outbound
    }

    /// Connects, runs `body`, closes. Returns the server's close frame, if it sent one.
    @discardableResult
    static func connect(
        port: Int, subprotocols: [String] = [webSocketSubprotocol], maxMessageBytes: Int = 64 << 20,
        headers extraHeaders: HTTPFields = [:],
        _ body: @escaping @Sendable (ProtocolClient) async throws -> Void
    ) async throws -> WebSocketCloseFrame? {
        var headers = HTTPFields()
        if !subprotocols.isEmpty { headers[.secWebSocketProtocol] = subprotocols.joined(separator: ", ") }
        headers.append(contentsOf: extraHeaders)
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        return try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/v1/ws",
            configuration: .init(maxFrameSize: maxMessageBytes, additionalHeaders: headers),
            logger: logger
        ) { inbound, outbound, _ in
            let client = ProtocolClient(outbound: outbound)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { Task { await client.inbox.close() } }
                    for try await message in inbound.messages(maxSize: maxMessageBytes) {
                        guard case .text(let text) = message,
                              let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
                        else { continue }
                        await client.inbox.add(value)
                    }
                }
                try await body(client)
                group.cancelAll()
            }
        }
    }

    func sendText(_ text: String) async throws {
        try await outbound.write(.text(text))
    }

    func sendBinary(_ bytes: [UInt8]) async throws {
        try await outbound.write(.binary(.init(bytes: bytes)))
    }

    func send(_ message: JSONValue) async throws {
        sent.withLock { $0.append(message) }
        try await sendText(message.description)
    }

    func request(_ id: JSONValue, _ method: String, _ params: [String: JSONValue] = [:]) async throws {
        try await send(.object(["jsonrpc": "2.0", "id": id, "method": .string(method), "params": .object(params)]))
    }

    func notify(_ method: String, _ params: [String: JSONValue]) async throws {
        try await send(.object(["jsonrpc": "2.0", "method": .string(method), "params": .object(params)]))
    }

    /// The response to `id`.
    func response(_ id: JSONValue, within timeout: Duration = .seconds(30)) async throws -> JSONValue {
        try await inbox.take(within: timeout) { $0["id"] == id && $0["method"] == nil }
    }

    /// Runs `params` and gathers everything the server sends about it.
    func run(_ id: JSONValue, _ params: [String: JSONValue], within timeout: Duration = .seconds(60)) async throws -> RunTranscript {
        try await request(id, Method.run, params)
        return try await transcript(of: id, within: timeout)
    }

    /// Everything about run `id` up to and including its response.
    func transcript(of id: JSONValue, within timeout: Duration = .seconds(60)) async throws -> RunTranscript {
        var transcript = RunTranscript()
        while true {
            let message = try await inbox.take(within: timeout) { $0["id"] == id || $0["params"]?["id"] == id }
            if message["method"] == nil {
                transcript.response = message
                return transcript
            }
            transcript.notifications.append(message)
        }
    }
}

/// What the server said about one run.
struct RunTranscript {
    var notifications: [JSONValue] = []
    var response: JSONValue = .null

    var result: JSONValue? { response["result"] }
    var status: String? { result?["status"]?.stringValue }
    var outputs: [JSONValue] { notifications.filter { $0["method"]?.stringValue == Method.runOutput } }
    var stdout: String { text(of: "stdout") }
    var stderr: String { text(of: "stderr") }
    var states: [String] { notifications.compactMap { $0["method"]?.stringValue == Method.runStatus ? $0["params"]?["state"]?.stringValue : nil } }

    func text(of stream: String) -> String {
        outputs.filter { $0["params"]?["stream"]?.stringValue == stream }.compactMap { $0["params"]?["text"]?.stringValue }.joined()
    }
}

/// The server's messages, kept until a test takes them.
actor Inbox {
    private var messages: [JSONValue] = []
    /// Every message in arrival order, taken or not.
    private(set) var log: [JSONValue] = []
    private(set) var closed = false

    func add(_ message: JSONValue) {
        messages.append(message)
        log.append(message)
    }

    /// Whether a message that matches has arrived, without taking it.
    func contains(where matches: (JSONValue) -> Bool) -> Bool { messages.contains(where: matches) }
    func close() { closed = true }
    var pending: [JSONValue] { messages }

    /// Removes and returns the oldest message that matches, waiting up to `timeout`.
    func take(within timeout: Duration = .seconds(30), where matches: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let index = messages.firstIndex(where: matches) {
                return messages.remove(at: index)
            }
            if closed { throw TestFailure("the connection closed; unmatched messages: \(messages)") }
            guard ContinuousClock.now < deadline else { throw TestFailure("timed out; unmatched messages: \(messages)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits until the connection is closed by the server.
    func waitUntilClosed(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !closed && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return closed
    }
}
