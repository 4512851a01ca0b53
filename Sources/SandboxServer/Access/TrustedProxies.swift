#if canImport(Glibc)
import Glibc
#endif

/// The proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`), and
/// the client address a request is judged by. From any other peer the header
/// is ignored, so a client cannot choose its own address.
struct TrustedProxies: Sendable, Equatable {
    /// An address range, `ADDRESS/PREFIX` (IPv4 or IPv6; a bare address is the one address).
    struct Range: Sendable, Equatable {
        let network: [UInt8]
        let prefix: Int

        init?(_ text: String) {
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let network = IPAddressBytes.parse(parts[0]) else { return nil }
            let bits = network.count * 8
            let prefix = parts.count == 2 ? Int(parts[1]) : bits
            guard let prefix, (0...bits).contains(prefix) else { return nil }
            self.network = network
            self.prefix = prefix
        }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            for bit in 0..<prefix {
                let mask = UInt8(0x80) >> (bit % 8)
                if address[bit / 8] & mask != network[bit / 8] & mask { return false }
            }
            return true
        }
    }

    let ranges: [Range]

    /// Throws the first entry that is not `ADDRESS/PREFIX`.
    init(_ entries: [String]) throws(ConfigurationError) {
        var ranges: [Range] = []
        for entry in entries {
            guard let range = Range(entry) else {
                throw ConfigurationError(message: "--trusted-proxy: '\(entry)' is not ADDRESS/PREFIX, e.g. 10.0.0.0/8 or 127.0.0.2/32")
            }
            ranges.append(range)
        }
        self.ranges = ranges
    }

    func trusts(_ address: String) -> Bool {
        guard let bytes = IPAddressBytes.parse(address) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client behind `peer`: the peer itself unless it is a trusted
    /// proxy; then the nearest address in `X-Forwarded-For` (read from the
    /// right, as each proxy appends) that is not a trusted proxy itself.
    func clientAddress(peer: String, forwardedFor headers: [String]) -> String {
        guard trusts(peer) else { return peer }
        let hops = headers.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard IPAddressBytes.parse(hop) != nil else { return peer }  // garbage: believe nothing
            if !trusts(hop) { return hop }
        }
        return hops.first ?? peer
    }
}

/// An IPv4 address as 4 bytes, an IPv6 one as 16 (inet_pton).
enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
