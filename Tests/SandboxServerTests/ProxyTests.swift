import Foundation
import HTTPTypes
import SandboxProtocol
import SandboxServer
import Testing

/// The client address behind a balancer: `X-Forwarded-For` counts only from
/// a trusted proxy, and then the per-address limits judge the real client.
extension SandboxSuite {
    @Suite("Client address behind a proxy")
    struct ProxyTests {
        static func configuration(trusting proxies: [String]) -> ServerConfiguration {
            TestServer.configuration {
                $0.maxConnectionsPerAddress = 1
                $0.trustedProxies = proxies
                $0.nodeName = "node-under-test"
            }
        }

        /// Holds one connection "from" `client`, then asks whether another from
        /// `other` would be let in; returns the refusal's message, nil if let in.
        static func refusal(port: Int, holding client: String, asking other: String) async throws -> String? {
            let (held, holdSink) = AsyncStream.makeStream(of: String?.self)
            try await ProtocolClient.connect(port: port, headers: [HTTPField.Name("X-Forwarded-For")!: client]) { (connection) async throws in
                try await connection.request(0, Method.initialize)
                _ = try await connection.response(0)
                let probe = try await HTTP.get(port, "/v1/ws", headers: ["X-Forwarded-For": other])
                holdSink.yield(probe.status == 429 ? probe.json["error"]?["message"]?.stringValue ?? "refused" : nil)
                holdSink.finish()
            }
            for await message in held { return message }
            return nil
        }

        @Test func aTrustedProxysClientsAreLimitedApart() async throws {
            try await TestServer.with(Self.configuration(trusting: ["127.0.0.1/32"])) { (port) async throws in
                let sameClient = try await Self.refusal(port: port, holding: "192.0.2.1", asking: "192.0.2.1")
                #expect(sameClient?.contains("from 192.0.2.1") == true, "\(String(describing: sameClient))")
                #expect(try await Self.refusal(port: port, holding: "192.0.2.1", asking: "192.0.2.2") == nil)
                // A chain: the nearest untrusted hop from the right is the client.
                let chained = try await Self.refusal(port: port, holding: "6.6.6.6, 192.0.2.3", asking: "192.0.2.3")
                #expect(chained?.contains("from 192.0.2.3") == true, "\(String(describing: chained))")
            }
        }

        @Test func forwardedForFromAnyOtherPeerIsIgnored() async throws {
            try await TestServer.with(Self.configuration(trusting: ["127.0.0.2/32"])) { (port) async throws in
                let forged = try await Self.refusal(port: port, holding: "192.0.2.1", asking: "192.0.2.2")
                #expect(forged?.contains("from 127.0.0.1") == true, "\(String(describing: forged))")
            }
        }

        @Test func theNodeNameIsInInitializeAndTheMetrics() async throws {
            try await TestServer.with(Self.configuration(trusting: [])) { (port) async throws in
                let info = try await HTTP.get(port, "/v1/info")
                #expect(info.json["serverInfo"]?["node"] == "node-under-test")
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    _ = try await client.run(1, ["code": "print(1)"])
                }
                let metrics = try await SandboxSuite.MetricsTests.exposition(port)
                #expect(metrics.contains(#"pysandbox_runs_total{node="node-under-test",status="ok",tenant="default"} 1"#), "\(metrics)")
            }
        }

        @Test func aMalformedTrustedProxyIsAConfigurationError() {
            var configuration = ServerConfiguration()
            configuration.trustedProxies = ["10.0.0.0/40"]
            #expect(throws: ConfigurationError.self) { try configuration.validate() }
        }
    }
}
