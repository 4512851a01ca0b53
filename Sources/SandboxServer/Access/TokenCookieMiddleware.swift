import Foundation
import HTTPTypes
import Hummingbird

/// The editor page opened as `/?token=TOKEN`: the server, not the page,
/// keeps the token, in a cookie no script can read (`HttpOnly`) and no other
/// site's request carries (`SameSite=Strict`), and sends the browser back to
/// the page without the token in its address, so that it stays out of the
/// history, bookmarks and screenshots. A wrong token gets 401 and no cookie.
/// Runs after `AccessMiddleware`, so the Host has been checked.
struct TokenCookieMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let policy: AccessPolicy
    let metrics: ServerMetrics

    /// The paths the page is served at.
    static let pagePaths: Set<String> = ["/", "/index.html"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head, Self.pagePaths.contains(request.uri.path),
              let token = request.uri.queryParameters.get("token")
        else { return try await next(request, context) }
        var response = Response(status: .seeOther, headers: [
            .location: Self.address(request.uri.path, query: request.uri.query),
            .cacheControl: "no-store",
        ])
        // Without tokens there is nothing to keep: the address is cleaned all the same.
        if policy.needsToken {
            if let refusal = policy.check(token: token) {
                metrics.rejected(refusal.reason)
                context.logger.notice("request refused", metadata: [
                    "path": "\(request.uri.path)", "reason": "\(refusal.reason)", "client": "\(context.clientAddress)",
                ])
                throw refusal.failure
            }
            response.setCookie(Self.cookie(token, secure: context.servedOverHTTPS))
            // The cookie pages before 0.10.0 set themselves (path /v1): gone, so that it cannot shadow this one.
            response.headers.append(HTTPField(name: .setCookie, value: "\(AccessPolicy.tokenCookie)=; Path=/v1; Max-Age=0"))
        }
        return response
    }

    /// The token as a cookie of the whole site for this browser session.
    static func cookie(_ token: String, secure: Bool) -> Cookie {
        Cookie(
            name: AccessPolicy.tokenCookie, value: cookieValue(token), path: "/", secure: secure, httpOnly: true,
            sameSite: .strict)
    }

    /// Percent-encoded to what a cookie value may hold (RFC 6265); `AccessPolicy` decodes it.
    static func cookieValue(_ token: String) -> String {
        token.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            .intersection(CharacterSet(charactersIn: Unicode.Scalar(0x21)...Unicode.Scalar(0x7E)))) ?? ""
    }

    /// `path` with `query` less its `token` parameters (each as it was sent).
    static func address(_ path: String, query: String?) -> String {
        let kept = (query ?? "").split(separator: "&").filter { parameter in
            let name = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return (String(name).removingPercentEncoding ?? String(name)) != "token"
        }
        return kept.isEmpty ? path : path + "?" + kept.joined(separator: "&")
    }
}
