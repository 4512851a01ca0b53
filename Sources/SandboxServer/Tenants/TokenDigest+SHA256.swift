import Crypto

extension TokenDigest {
    /// The SHA-256 of `token`, with swift-crypto (apart from the type, so
    /// that the tenants file's fuzz target, which has no swift-crypto, links the rest).
    public init(token: String) {
        self.init(bytes: Array(SHA256.hash(data: Array(token.utf8))))
    }
}
