import HTTPTypes
import Hummingbird
import SandboxProtocol

/// Applies the `AccessPolicy` before any route runs, the WebSocket upgrade
/// included: the `Host` on every path but the health checks, then origin and
/// token on `/v1/*`, `/mcp` and `/metrics`. A refused request gets 401 or
/// 403 and is never upgraded.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let policy: AccessPolicy
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        // Judged by the first non-empty component, as the router reads paths:
        // "//v1/info" reaches the /v1/info route and must be checked like it.
        let first = path.split(separator: "/").first
        let hostRefusal = first == "healthz" || first == "readyz" ? nil : policy.checkHost(request)
        let refusal = hostRefusal ?? {
            switch first {
            case "v1", "mcp": policy.check(request)
            case "metrics": policy.checkMetrics(request)
            default: AccessPolicy.Refusal?.none
            }
        }()
        guard let refusal else {
            guard first == "v1" || first == "mcp" else { return try await next(request, context) }
            var context = context
            (context.tenant, context.tokenDigest) = policy.tenant(of: request)
            return try await next(request, context)
        }
        metrics.rejected(refusal.reason)
        context.logger.notice("request refused", metadata: [
            "path": "\(path)", "reason": "\(refusal.reason)", "client": "\(context.clientAddress)",
        ])
        throw refusal.failure
    }
}

extension AccessPolicy.Refusal {
    var reason: String {
        switch self {
        case .missingToken: "missing token"
        case .wrongToken: "wrong token"
        case .foreignOrigin: "origin"
        case .foreignHost, .unclearHost: "host"
        case .metricsNeedTheirToken: "metrics token"
        }
    }

    /// 401 with `WWW-Authenticate`, or 403; Hummingbird answers it before any route (or upgrade) runs.
    var failure: HTTPFailure {
        switch self {
        case .missingToken, .wrongToken:
            let message = self == .missingToken
                ? "a token is required (Authorization: Bearer TOKEN, or ?token=TOKEN)"
                : "the token is not valid"
            return HTTPFailure(RPCError(.invalidRequest, message), status: .unauthorized,
                               headers: [.wwwAuthenticate: #"Bearer realm="pysandbox""#])
        case .foreignOrigin(let origin):
            return HTTPFailure(RPCError(
                .invalidRequest, "pages from \(origin) may not use this service (see --allow-origin)"), status: .forbidden)
        case .foreignHost(let host):
            return HTTPFailure(RPCError(
                .invalidRequest, "\(host) is not a name of this service (see --allow-host)"), status: .forbidden)
        case .unclearHost(let problem):
            return HTTPFailure(RPCError(.invalidRequest, problem), status: .badRequest)
        case .metricsNeedTheirToken:
            return HTTPFailure(RPCError(
                .invalidRequest, "with tenants, /metrics (whose labels name every tenant) needs --metrics-token, or --metrics open"),
                status: .forbidden)
        }
    }
}
