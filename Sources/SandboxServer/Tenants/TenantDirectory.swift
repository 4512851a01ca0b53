/// The tenants a server knows, found by the digest of the token a client
/// presents: a lookup by SHA-256 tells an attacker timing about digests,
/// which they cannot aim, not about tokens. Replaced whole when the tenants
/// file is read again.
public struct TenantDirectory: Sendable {
    public let tenants: [Tenant]
    private let byDigest: [TokenDigest: Int]

    /// `tenants` as a tenants file gives them: names and tokens unique.
    public init(_ tenants: [Tenant]) {
        self.tenants = tenants
        var byDigest: [TokenDigest: Int] = [:]
        for (position, tenant) in tenants.enumerated() {
            for digest in tenant.tokenDigests { byDigest[digest] = position }
        }
        self.byDigest = byDigest
    }

    /// The one tenant of `--token` and `--token-file`: every token is its,
    /// and the server's own limits are its limits.
    public static func single(tokens: [String]) -> TenantDirectory {
        TenantDirectory([Tenant(name: Tenant.defaultName, tokenDigests: tokens.map(TokenDigest.init(token:)))])
    }

    /// The tenant whose token `token` is; nil for a token nobody holds.
    public func tenant(presenting token: String) -> Tenant? {
        tenant(digest: TokenDigest(token: token))
    }

    func tenant(digest: TokenDigest) -> Tenant? {
        byDigest[digest].map { tenants[$0] }
    }
}
