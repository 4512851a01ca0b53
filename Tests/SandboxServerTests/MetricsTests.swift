import Foundation
import SandboxProtocol
import SandboxServer
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `GET /metrics` in Prometheus text format, after real runs.
extension SandboxSuite {
    @Suite("metrics")
    struct MetricsTests {
        @Test func runsOutputRejectionsAndThePoolAreCounted() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(try await client.run(1, ["code": "print('abc')"]).status == "ok")
                    #expect(try await client.run(2, ["code": "print('de', end='')"]).status == "ok")
                    #expect(try await client.run(3, ["code": "raise SystemExit(2)"]).status == "error")
                    try await client.request(4, Method.run, ["code": "pass", "timeoutMs": "soon"])
                    #expect(try await client.response(4)["error"]?["code"] == -32602)

                    let metrics = try await Self.scrape(port)
                    #expect(metrics[#"pysandbox_runs_total{status="ok",tenant="default"}"#] == 2)
                    #expect(metrics[#"pysandbox_runs_total{status="error",tenant="default"}"#] == 1)
                    #expect(metrics["pysandbox_run_duration_seconds_count"] == 3)
                    #expect(metrics[#"pysandbox_queue_wait_seconds_count{tenant="default"}"#] == 3)
                    #expect((metrics[#"pysandbox_cpu_seconds_total{tenant="default"}"#] ?? 0) > 0)
                    #expect(metrics[#"pysandbox_output_bytes_total{stream="stdout"}"#] == 6)
                    #expect(metrics[#"pysandbox_rejected_total{reason="invalid params",tenant="default"}"#] == 1)
                    #expect(metrics["pysandbox_connections"] == 1)
                    #expect((metrics["pysandbox_sandbox_start_seconds_count"] ?? 0) >= 1)
                    #expect(metrics["pysandbox_warm_sandboxes_ready"] != nil)
                    #expect(metrics["pysandbox_queue_depth"] == 0)
                }
            }
        }

        /// Who may read /metrics: a token whenever the service has one (its
        /// own, or the service's), none with `open`, and nobody with `off`.
        @Test func metricsNeedATokenWhenTheServiceHasOneAndCanBeOpenOrOff() async throws {
            @Sendable func status(_ port: Int, _ token: String? = nil) async throws -> Int {
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/metrics")!)
                if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
                let (_, response) = try await URLSession.shared.data(for: request)
                return (response as? HTTPURLResponse)?.statusCode ?? 0
            }
            try await TestServer.with(TestServer.configuration { $0.access.tokens = ["s3cret"] }) { (port) async throws in
                #expect(try await status(port) == 401)
                #expect(try await status(port, "wrong") == 401)
                #expect(try await status(port, "s3cret") == 200)
            }
            try await TestServer.with(TestServer.configuration {
                $0.access.tokens = ["s3cret"]
                $0.access.metrics = .open
            }) { (port) async throws in
                #expect(try await status(port) == 200)
            }
            try await TestServer.with(TestServer.configuration { $0.access.metrics = .off }) { (port) async throws in
                #expect(try await status(port) == 404)
                #expect(try await status(port, "anything") == 404)
            }
            // Without tokens the service is open to whoever reaches it, and so are its metrics.
            try await TestServer.with { (port) async throws in
                #expect(try await status(port) == 200)
            }
            var conflicting = TestServer.configuration { $0.access.metrics = .off }
            conflicting.access.metricsToken = "m"
            #expect(throws: ConfigurationError.self) { try conflicting.validate() }
        }

        /// The samples of a Prometheus text exposition, by name and labels
        /// (without the `node` label every sample carries).
        static func scrape(_ port: Int) async throws -> [String: Double] {
            var samples: [String: Double] = [:]
            for line in try await exposition(port).split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                let name = String(line[..<space])
                    .replacingOccurrences(of: #"node="[^"]*",?"#, with: "", options: .regularExpression)
                    .replacingOccurrences(of: "{}", with: "")
                samples[name] = value
            }
            return samples
        }

        /// `GET /metrics` as it is.
        static func exposition(_ port: Int) async throws -> String {
            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            return String(decoding: data, as: UTF8.self)
        }
    }
}
