import Testing

@testable import SandboxServer

@Suite("Trusted proxies and the client address")
struct TrustedProxiesTests {
    @Test func rangesMatchByPrefixInBothFamilies() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8", "127.0.0.2", "fd00::/8"])
        #expect(proxies.trusts("10.200.3.4"))
        #expect(!proxies.trusts("11.0.0.1"))
        #expect(proxies.trusts("127.0.0.2"))
        #expect(!proxies.trusts("127.0.0.1"))
        #expect(proxies.trusts("fd12::1"))
        #expect(!proxies.trusts("fe80::1"))
        #expect(!proxies.trusts("not an address"))
    }

    @Test func malformedEntriesAreConfigurationErrors() {
        for entry in ["10.0.0.0/33", "10.0.0/8", "::1/129", "localhost", "10.0.0.0/-1", ""] {
            #expect(throws: ConfigurationError.self, "\(entry)") { try TrustedProxies([entry]) }
        }
    }

    @Test func aTrustedProxyNamesTheClientFromTheRight() throws {
        let proxies = try TrustedProxies(["127.0.0.2/32", "10.0.0.0/8"])
        // The client forged the first entry; the balancer appended the real one.
        #expect(proxies.clientAddress(peer: "127.0.0.2", forwardedFor: ["6.6.6.6", "192.0.2.7"]) == "192.0.2.7")
        #expect(proxies.clientAddress(peer: "127.0.0.2", forwardedFor: ["6.6.6.6, 192.0.2.7, 10.1.1.1"]) == "192.0.2.7")
        #expect(proxies.clientAddress(peer: "127.0.0.2", forwardedFor: []) == "127.0.0.2")
        #expect(proxies.clientAddress(peer: "127.0.0.2", forwardedFor: ["10.1.1.1"]) == "10.1.1.1")
        #expect(proxies.clientAddress(peer: "127.0.0.2", forwardedFor: ["garbage"]) == "127.0.0.2")
    }

    @Test func anyOtherPeerIsTakenAsItIs() throws {
        let proxies = try TrustedProxies(["127.0.0.2/32"])
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: ["192.0.2.7"]) == "127.0.0.1")
        #expect(try TrustedProxies([]).clientAddress(peer: "127.0.0.2", forwardedFor: ["192.0.2.7"]) == "127.0.0.2")
    }
}
