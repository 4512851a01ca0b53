import Foundation
import SandboxProtocol

/// A protocol v1 client on a `RawWebSocket` from a loopback address of
/// its choosing (127.0.0.2, 127.0.0.3, …), so that a test can be several
/// clients as the per-address limits see them. One task uses it at a time.
final class AddressedClient: @unchecked Sendable {
    let source: String
    private let socket: RawWebSocket
    /// Every message received, in order.
    private(set) var log: [JSONValue] = []
    private var taken = Set<Int>()

    private init(source: String, socket: RawWebSocket) {
        self.source = source
        self.socket = socket
    }

    static func connect(port: Int, from source: String, headers: [String: String] = [:]) async throws -> AddressedClient {
        AddressedClient(source: source, socket: try await RawWebSocket.connect(port: port, source: source, headers: headers))
    }

    func close() { socket.close() }

    func send(_ message: JSONValue) async throws {
        try await socket.sendText(message.description)
    }

    func request(_ id: JSONValue, _ method: String, _ params: [String: JSONValue] = [:]) async throws {
        let message: JSONValue = ["jsonrpc": "2.0", "id": id, "method": .string(method), "params": .object(params)]
        try await socket.sendText(message.description)
    }

    /// The response to `id`, reading (and logging) whatever comes before it.
    func response(_ id: JSONValue, within timeout: Duration = .seconds(30)) async throws -> JSONValue {
        try await take(within: timeout) { $0["id"] == id && ($0["result"] != nil || $0["error"] != nil) }
    }

    func call(_ id: JSONValue, _ method: String, _ params: [String: JSONValue] = [:]) async throws -> JSONValue {
        try await request(id, method, params)
        return try await response(id)
    }

    /// Opens a session; its id, or the error it got.
    func openSession(_ id: JSONValue, _ params: [String: JSONValue] = [:]) async throws -> Result<String, OpenRefused> {
        let reply = try await call(id, Method.sessionOpen, params)
        if let session = reply["result"]?["session"]?.stringValue { return .success(session) }
        return .failure(OpenRefused(error: reply["error"] ?? reply))
    }

    /// The first message, logged or still to come, that matches and was not taken before.
    func take(within timeout: Duration = .seconds(30), where matches: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = ContinuousClock.now + timeout
        var index = 0
        while true {
            while index < log.count {
                defer { index += 1 }
                if !taken.contains(index) && matches(log[index]) {
                    taken.insert(index)
                    return log[index]
                }
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero, let frame = try await socket.readFrame(within: left) else {
                throw TestFailure("\(source): nothing matched within \(timeout); received \(log)")
            }
            if frame.isClose { throw TestFailure("\(source): the server closed the connection; received \(log)") }
            if let message = frame.json { log.append(message) }
        }
    }

    /// The `session/ended` of `session`.
    func ended(_ session: String, within timeout: Duration = .seconds(20)) async throws -> JSONValue {
        try await take(within: timeout) {
            $0["method"]?.stringValue == Method.sessionEnded && $0["params"]?["session"]?.stringValue == session
        }
    }

    /// Waits for the server's close frame and answers it, as a WebSocket
    /// library does (the server waits for the answer, up to its close
    /// timeout, before the connection is gone); the close frame's reason.
    func answerClose(within timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while let frame = try await socket.readFrame(within: deadline - ContinuousClock.now) {
            guard frame.isClose else {
                if let message = frame.json { log.append(message) }
                continue
            }
            try await socket.send(RawWebSocket.frame(opcode: 0x8, Array(frame.payload.prefix(2))))
            return String(decoding: frame.payload.dropFirst(2), as: UTF8.self)
        }
        throw TestFailure("\(source): the connection ended without a close frame")
    }

    /// Whether a `session/ended` for `session` has been received so far (reads what is waiting, briefly).
    func hasHeardEnd(of session: String) async -> Bool {
        // readFrame throws when nothing comes in time: all that was waiting has been read.
        while let frame = try? await socket.readFrame(within: .milliseconds(200)), !frame.isClose {
            if let message = frame.json { log.append(message) }
        }
        return log.contains { $0["method"]?.stringValue == Method.sessionEnded && $0["params"]?["session"]?.stringValue == session }
    }

    struct OpenRefused: Error, CustomStringConvertible {
        var error: JSONValue
        var code: Int64? { if case .integer(let code)? = error["code"] { code } else { nil } }
        var scope: String? { error["data"]?["scope"]?.stringValue }
        var message: String { error["message"]?.stringValue ?? "" }
        var description: String { "\(error)" }
    }
}
