import Foundation
import Hummingbird
import HummingbirdWebSocket
import HTTPTypes
import NIOCore

/// The request context of every route: Hummingbird's, the WebSocket
/// upgrade's, and the client's address (connection limits and logs need it).
struct SandboxRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    /// The peer's IP address without its port ("unknown" if NIO has none).
    let peerAddress: String
    /// Who the request is from: the peer, or behind a trusted proxy the
    /// client it names (`ClientAddressMiddleware`).
    var clientAddress: String
    /// Whether the browser reached the service over HTTPS: only behind a
    /// trusted proxy that says so (`X-Forwarded-Proto`); sandboxd itself speaks plain HTTP.
    var servedOverHTTPS = false
    /// Whose request it is (`AccessMiddleware`, on `/v1/*` and `/mcp`): the
    /// tenant of its token, or the one default tenant.
    var tenant = AccessPolicy.defaultTenant
    /// The SHA-256 of the tenant's token it presented, when the server has
    /// tenants: a connection it opens ends when a reload removes the token.
    var tokenDigest: TokenDigest?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        peerAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        clientAddress = peerAddress
    }
}

/// Sets `clientAddress` from `X-Forwarded-For`, and `servedOverHTTPS` from
/// `X-Forwarded-Proto`, when the peer is a trusted proxy; first on both
/// routers, so every limit and log uses the real client. From other peers
/// both headers are ignored; `X-Forwarded-Host` is read from no one (the
/// names the service answers to are its own and `--allow-host`'s).
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let proxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !proxies.ranges.isEmpty else { return try await next(request, context) }
        var context = context
        context.clientAddress = proxies.clientAddress(
            peer: context.peerAddress, forwardedFor: request.headers[values: .xForwardedFor])
        if proxies.trusts(context.peerAddress) {
            // The first value: the scheme the browser used with the outermost proxy.
            let scheme = request.headers[values: .xForwardedProto].first?.split(separator: ",").first
            context.servedOverHTTPS = scheme?.trimmingCharacters(in: .whitespaces).lowercased() == "https"
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
