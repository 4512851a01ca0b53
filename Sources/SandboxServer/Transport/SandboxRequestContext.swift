import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of every route: Hummingbird's, the WebSocket
/// upgrade's, and the peer's address (connection limits and logs need it).
struct SandboxRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address without its port ("unknown" if NIO has none).
    var clientAddress: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
