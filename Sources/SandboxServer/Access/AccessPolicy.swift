import Foundation
import HTTPTypes
import Hummingbird
import SandboxProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Who may use the service: a shared token (when configured) and the origins
/// browsers may call it from. `/healthz`, `/readyz` and the editor page are
/// always open; `/metrics` as `metrics` says.
public struct AccessPolicy: Sendable {
    /// Who may read `/metrics` (`--metrics`).
    public enum MetricsAccess: String, Sendable, CaseIterable {
        /// A bearer token whenever the service has one: `metricsToken` if
        /// set, else any of `tokens`; a service without tokens is open to
        /// whoever reaches it, and so are its metrics.
        case token
        /// No token, even when `/v1/*` needs one (a scraper in a private network).
        case open
        /// No `/metrics` at all: 404.
        case off
    }

    /// Tokens that open `/v1/*`; empty means no token is needed. Their
    /// holder is one tenant, `default`, with the server's own limits.
    public var tokens: [String] = []
    /// The tenants of `--tenants FILE`: each token opens `/v1/*` as its
    /// tenant. When set, `tokens` is empty (sandboxd refuses both).
    public var tenants: TenantDirectory?
    /// The tenants as the running server has them: `tenants`, and what each
    /// reload of the tenants file puts in their place (set by the server).
    var book: TenantBook?
    /// `book`'s directory, else `tenants`.
    var currentTenants: TenantDirectory? { book?.directory ?? tenants }

    /// Whether `/v1/*` needs a token: the service has tokens, or tenants (each with its own).
    var needsToken: Bool { !tokens.isEmpty || currentTenants != nil }
    /// The token `/metrics` needs instead of the service's (with `metrics` `token`).
    public var metricsToken: String?
    public var metrics: MetricsAccess = .token
    /// Origins browsers may connect from besides the service's own
    /// (`scheme://host[:port]`, or `*` for any). Requests without an Origin
    /// header (CLIs, scripts) are not browsers and are allowed.
    public var allowedOrigins: [String] = []
    /// Host names, besides `localhost` and the listen address, that name
    /// this service (`--allow-host`): a deployment behind a proxy lists its
    /// public name. `*` allows any.
    public var allowedHosts: [String] = []
    /// The host sandboxd listens on, one of its own names.
    public var listenHost: String?

    public init() {}

    /// The cookie the server sets when the editor page is opened with `?token=`
    /// (`TokenCookieMiddleware`), so that the page's WebSocket and requests carry it.
    static let tokenCookie = "pysandbox_token"

    enum Refusal: Error, Equatable {
        case missingToken
        case wrongToken
        case foreignOrigin(String)
        case foreignHost(String)
        /// A Host that is no `host[:port]`, or a second one: what it names is not clear.
        case unclearHost(String)
        /// `/metrics` of a server with tenants and no `--metrics-token`.
        case metricsNeedTheirToken
    }

    /// Checks the `Host` a request names, before anything else: a page of
    /// another site whose name was made to resolve to this machine (DNS
    /// rebinding) has its own name in both `Host` and `Origin`, so the
    /// origin check alone lets it in. Only names are judged: an address in
    /// `Host` is no name an attacker's DNS controls, and a request without
    /// `Host` (HTTP/1.0, a health check) comes from no browser. A `Host` that
    /// is not `name[:port]` or `[IPv6][:port]`, and a second `Host` header
    /// (which a proxy might read instead of the first), are refused.
    /// `X-Forwarded-Host` is never read: what names the service is its own
    /// names and `--allow-host`'s, whoever forwards the request.
    func checkHost(_ request: Request) -> Refusal? {
        // The first Host became the authority; any other is still among the fields.
        if request.headers[Self.hostField] != nil { return .unclearHost("more than one Host header") }
        guard let authority = request.head.authority, !authority.isEmpty else { return nil }
        guard let host = Self.host(of: authority) else { return .unclearHost("Host '\(authority)' is not host[:port]") }
        if case .name(let name) = host, !allows(hostName: name) { return .foreignHost(authority) }
        return nil
    }

    static let hostField = HTTPField.Name("Host")!

    func allows(hostName name: String) -> Bool {
        let name = name.lowercased()
        if name == "localhost" || name.hasSuffix(".localhost") || Self.isAddress(name) { return true }
        if let listenHost, name == listenHost.lowercased() { return true }
        return allowedHosts.contains("*") || allowedHosts.contains { $0.lowercased() == name }
    }

    enum Host: Equatable {
        case address(String)
        /// Without the one trailing dot a fully qualified name may have: `localhost.` is `localhost`.
        case name(String)
    }

    /// What `host[:port]` or `[v6]:port` names; nil if it is neither (a
    /// bracket not closed or holding no IPv6 address, a port that is not a number).
    static func host(of authority: String) -> Host? {
        let host: Substring, port: Substring?
        if authority.hasPrefix("[") {
            guard let end = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<end]
            let rest = authority[authority.index(after: end)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
            port = rest.isEmpty ? nil : rest.dropFirst()
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, String(host), &v6) == 1 else { return nil }
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            port = parts.count == 2 ? parts[1] : nil
        }
        if let port, port.count > 5 || !port.allSatisfy({ $0.isASCII && $0.isNumber }) { return nil }
        if isAddress(String(host)) { return .address(String(host)) }
        let name = host.hasSuffix(".") ? host.dropLast() : host
        guard !name.isEmpty, !name.hasSuffix(".") else { return nil }
        return .name(String(name))
    }

    private static func isAddress(_ name: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }

    /// Checks a request to `/v1/*`: its origin first (a refused site learns
    /// nothing about tokens), then its token.
    func check(_ request: Request) -> Refusal? {
        // Every Origin header counts: a request with two is judged by the worst.
        for origin in request.headers[values: .origin] where !allows(origin: origin, host: request.head.authority) {
            return .foreignOrigin(origin)
        }
        return check(presented: Self.presentedToken(in: request))
    }

    /// Checks a token presented on its own (the editor page's `?token=`).
    func check(token: String) -> Refusal? {
        check(presented: token)
    }

    private func check(presented token: String?) -> Refusal? {
        guard let tenants = currentTenants else { return Self.check(token: token, against: tokens) }
        guard let token else { return .missingToken }
        return tenants.tenant(presenting: token) == nil ? .wrongToken : nil
    }

    /// Whose request this is: the tenant of its token, or (without
    /// `--tenants`) the one default tenant. Call once `check` has let it in.
    func tenant(of request: Request) -> (tenant: Tenant, token: TokenDigest?) {
        guard let tenants = currentTenants, let token = Self.presentedToken(in: request) else { return (Self.defaultTenant, nil) }
        let digest = TokenDigest(token: token)
        guard let tenant = tenants.tenant(digest: digest) else { return (Self.defaultTenant, nil) }
        return (tenant, digest)
    }

    static let defaultTenant = Tenant(name: Tenant.defaultName, tokenDigests: [])

    /// `Authorization: Bearer` only: what a scraper sends. (`off` has no route to check.)
    /// With tenants, only `metricsToken` opens it (their labels name every tenant).
    func checkMetrics(_ request: Request) -> Refusal? {
        guard metrics == .token else { return nil }
        // Its samples name every tenant: no tenant's token opens it, only the metrics token.
        if metricsToken == nil, currentTenants != nil { return .metricsNeedTheirToken }
        return Self.check(token: Self.bearerToken(in: request), against: metricsToken.map { [$0] } ?? tokens)
    }

    private static func check(token: String?, against accepted: [String]) -> Refusal? {
        guard !accepted.isEmpty else { return nil }
        guard let token else { return .missingToken }
        // Every token is compared, each in constant time, so timing says nothing about which matched or how far.
        var matched = false
        for candidate in accepted where ConstantTime.equal(candidate, token) { matched = true }
        return matched ? nil : .wrongToken
    }

    /// Browsers send `http(s)://host[:port]`, or `null` from opaque origins
    /// (sandboxed frames, files), which is refused. Other schemes (WebSocket
    /// libraries send `ws://host`) do not come from a browser, which could not
    /// forge them; like a missing Origin, they are allowed.
    func allows(origin: String, host: String?) -> Bool {
        if allowedOrigins.contains("*") || allowedOrigins.contains(origin) { return true }
        if origin.hasPrefix("ws://") || origin.hasPrefix("wss://") { return true }
        // The service's own origin: the page it served talks back to the host it came from.
        guard let host, let separator = origin.range(of: "://") else { return false }
        let scheme = origin[..<separator.lowerBound]
        return (scheme == "http" || scheme == "https") && origin[separator.upperBound...] == host
    }

    /// `Authorization: Bearer`, else the `token` query parameter, else the page's cookie.
    static func presentedToken(in request: Request) -> String? {
        if let bearer = bearerToken(in: request) { return bearer }
        if let query = request.uri.queryParameters.get("token") { return query }
        guard let value = request.cookies[tokenCookie]?.value else { return nil }
        return value.removingPercentEncoding ?? value
    }

    static func bearerToken(in request: Request) -> String? {
        guard let authorization = request.headers[.authorization] else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }
}

enum ConstantTime {
    /// Whether two strings are equal, taking the same time wherever they differ
    /// (and depending only on the presented string's length).
    static func equal(_ expected: String, _ presented: String) -> Bool {
        let expected = Array(expected.utf8), presented = Array(presented.utf8)
        var difference = UInt8(truncatingIfNeeded: expected.count ^ presented.count)
        difference |= UInt8(expected.count != presented.count ? 1 : 0)
        for index in presented.indices {
            let byte = expected.isEmpty ? 0 : expected[index % expected.count]
            difference |= byte ^ presented[index]
        }
        return difference == 0 && !expected.isEmpty
    }
}
