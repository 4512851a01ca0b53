extension TokenDigest {
    /// The fuzz package's stand-in for `TokenDigest(token:)`
    /// (Sources/SandboxServer/Tenants/TokenDigest+SHA256.swift, which hashes
    /// with swift-crypto, a package the fuzz package does without): the
    /// token's bytes as they are, so that two tokens are the same digest
    /// exactly when they are the same token.
    public init(token: String) {
        self.init(bytes: Array(token.utf8))
    }
}
