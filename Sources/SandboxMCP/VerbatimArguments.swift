import Foundation
import Logging
import MCP
import SandboxProtocol

/// Keeps `tools/call` string arguments as the client sent them. The SDK
/// reads every JSON string that looks like a data URL as bytes (`Value`'s
/// decoder), so Python such as `data: list = [1, 2]` would reach the tool
/// mangled. On the way in, such strings get a marker in front that no data
/// URL starts with; `restore` takes it off once the SDK has decoded them.
public actor VerbatimArguments: Transport {
    /// A private-use character: no data URL and, in practice, no Python source starts with it.
    static let marker: Character = "\u{E000}"

    public let inner: any Transport
    public nonisolated let logger: Logger

    public init(_ inner: any Transport, logger: Logger) {
        self.inner = inner
        self.logger = logger
    }

    public func connect() async throws { try await inner.connect() }
    public func disconnect() async { await inner.disconnect() }
    public func send(_ data: Data) async throws { try await inner.send(data) }

    public func receive() -> AsyncThrowingStream<Data, any Error> {
        relayedMessages(of: inner, Self.guarded)
    }

    /// `message` with a marker before each top-level string argument of a
    /// `tools/call` that starts with "data:" or with the marker itself.
    static func guarded(_ message: Data) -> Data {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: message),
              value["method"]?.stringValue == CallTool.name,
              case .object(var params)? = value["params"], case .object(var arguments)? = params["arguments"]
        else { return message }
        var changed = false
        for (name, argument) in arguments {
            guard case .string(let text) = argument, text.hasPrefix("data:") || text.first == marker else { continue }
            arguments[name] = .string(String(marker) + text)
            changed = true
        }
        guard changed, case .object(var envelope) = value else { return message }
        params["arguments"] = .object(arguments)
        envelope["params"] = .object(params)
        return (try? JSONEncoder.protocolEncoder.encode(JSONValue.object(envelope))) ?? message
    }

    /// The arguments as sent: the marker taken off the strings that have one.
    public static func restore(_ arguments: [String: Value]) -> [String: Value] {
        arguments.mapValues { value in
            guard case .string(let text) = value, text.first == marker else { return value }
            return .string(String(text.dropFirst()))
        }
    }
}

/// `inner`'s incoming messages through `transform`, for a transport that
/// wraps another: `receive()` is synchronous, the inner actor's is not.
public func relayedMessages(
    of inner: any Transport, _ transform: @escaping @Sendable (Data) -> Data = { $0 }
) -> AsyncThrowingStream<Data, any Error> {
    AsyncThrowingStream { continuation in
        // Owned by the stream: it ends when the stream is dropped.
        let relay = Task {
            do {
                for try await message in await inner.receive() { continuation.yield(transform(message)) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in relay.cancel() }
    }
}
