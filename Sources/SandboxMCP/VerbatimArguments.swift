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

    /// `message` with a marker before each string of a `tools/call`'s
    /// arguments, at any depth (a file's text in `files` too), that starts
    /// with "data:" or with the marker itself.
    static func guarded(_ message: Data) -> Data {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: message),
              value["method"]?.stringValue == CallTool.name,
              case .object(var params)? = value["params"], case .object(let arguments)? = params["arguments"]
        else { return message }
        var changed = false
        let marked = guarded(JSONValue.object(arguments), changed: &changed)
        guard changed, case .object(var envelope) = value else { return message }
        params["arguments"] = marked
        envelope["params"] = .object(params)
        return (try? JSONEncoder.protocolEncoder.encode(JSONValue.object(envelope))) ?? message
    }

    private static func guarded(_ value: JSONValue, changed: inout Bool) -> JSONValue {
        switch value {
        case .string(let text) where text.hasPrefix("data:") || text.first == marker:
            changed = true
            return .string(String(marker) + text)
        case .array(let items):
            return .array(items.map { guarded($0, changed: &changed) })
        case .object(let members):
            return .object(members.mapValues { guarded($0, changed: &changed) })
        default:
            return value
        }
    }

    /// The arguments as sent: the marker taken off the strings that have one, at any depth.
    public static func restore(_ arguments: [String: Value]) -> [String: Value] {
        arguments.mapValues(restore)
    }

    private static func restore(_ value: Value) -> Value {
        switch value {
        case .string(let text) where text.first == marker: .string(String(text.dropFirst()))
        case .array(let items): .array(items.map(restore))
        case .object(let members): .object(members.mapValues(restore))
        default: value
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
