import Crypto
import Foundation
import HTTPTypes
import SandboxProtocol
import Testing

@testable import SandboxServer

#if canImport(Glibc)
import Glibc
#endif

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a tenant's file sets beyond its maxima (issue 27): its run rate,
/// concurrency and sessions over all its clients, its daily CPU quota over
/// a restart, and the audit log's line per run, on a real server with real sandboxes.
extension SandboxSuite {
    @Suite("Tenants' rates, quotas and audit")
    struct TenantQuotaTests {
        static func configuration(_ file: String, _ adjust: (inout ServerConfiguration) -> Void = { _ in }) throws -> ServerConfiguration {
            var configuration = TestServer.configuration(adjust)
            let tenants = try TenantsFile.parse(Array(file.utf8), file: "tenants.json", serverMaxima: configuration.tenantMaxima)
            configuration.access.tenants = TenantDirectory(tenants)
            return configuration
        }

        /// `GET /v1/usage` on `port` once it says the day's quota is spent, or after 10 s.
        static func usageOnceSpent(_ port: Int, headers: [String: String]) async throws -> HTTP.Reply {
            var usage = try await HTTP.get(port, "/v1/usage", headers: headers)
            let deadline = ContinuousClock.now + .seconds(10)
            while usage.json["today"]?["cpuMsLeft"] != 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                usage = try await HTTP.get(port, "/v1/usage", headers: headers)
            }
            return usage
        }

        static func headers(_ token: String) -> HTTPFields {
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(token)"
            return headers
        }

        static func withFolder<T>(_ body: (String) async throws -> T) async throws -> T {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tenants-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            return try await body(folder)
        }

        @Test func aTenantsRateConcurrencyAndSessionsHoldOverAllItsConnections() async throws {
            let file = """
                {"tenants": [
                  {"name": "rate", "token": "rate-token-00001", "runsPerMinute": 2},
                  {"name": "serial", "token": "serial-token-0001", "maxConcurrentRuns": 1, "maxQueuedRuns": 1},
                  {"name": "few", "token": "few-token-000001", "maxSessions": 1},
                  {"name": "free", "token": "free-token-00001"}
                ]}
                """
            try await TestServer.with(try Self.configuration(file) { $0.access.metricsToken = "metrics-token-01" }) { (port) async throws in
                // Two runs a minute for the whole tenant: the second connection's first run is its third.
                try await ProtocolClient.connect(port: port, headers: Self.headers("rate-token-00001")) { (first) async throws in
                    #expect(try await first.run(1, ["code": "print(1)"]).status == "ok")
                    try await ProtocolClient.connect(port: port, headers: Self.headers("rate-token-00001")) { (second) async throws in
                        #expect(try await second.run(1, ["code": "print(2)"]).status == "ok")
                        try await second.request(2, Method.run, ["code": "print(3)"])
                        let refused = try await second.response(2)
                        #expect(refused["error"]?["code"] == -32004 && refused["error"]?["data"]?["scope"] == "tenant rate", "\(refused)")
                        try SchemaCheck.validate([("error.response.json", refused)])
                    }
                }
                let rest = try await HTTP.post(port, "/v1/run", #"{"code": "print(4)"}"#, headers: ["Authorization": "Bearer rate-token-00001"])
                #expect(rest.status == 429 && rest.headers["Retry-After"] != nil, "\(rest)")
                #expect(rest.header("RateLimit-Limit") == "2" && rest.header("RateLimit-Remaining") == "0", "\(rest.headers)")
                #expect((Int(rest.header("RateLimit-Reset") ?? "") ?? 0) > 0 && rest.json["error"]?["data"]?["remaining"] == 0)
                // Another tenant's rate is its own: the address's rate is the one its answer shows.
                let free = try await HTTP.post(port, "/v1/run", #"{"code": "print(5)"}"#, headers: ["Authorization": "Bearer free-token-00001"])
                #expect(free.status == 200 && free.json["stdout"] == "5\n", "\(free.json)")
                #expect(free.header("RateLimit-Limit") == "600" && (Int(free.header("RateLimit-Remaining") ?? "") ?? 600) < 600, "\(free.headers)")

                // One run at a time for `serial`: the second connection's run waits in its lane for the first's end,
                // and holds the one place of the queue the tenant has.
                let sleeper: [String: JSONValue] = ["code": "import time; time.sleep(0.8); print('slept')"]
                try await ProtocolClient.connect(port: port, headers: Self.headers("serial-token-0001")) { (first) async throws in
                    try await ProtocolClient.connect(port: port, headers: Self.headers("serial-token-0001")) { (second) async throws in
                        try await first.request(1, Method.run, sleeper)
                        _ = try await first.inbox.take { $0["params"]?["state"] == "running" }
                        try await second.request(1, Method.run, sleeper)
                        try await second.request(2, Method.run, sleeper)
                        let full = try await second.response(2)
                        #expect(full["error"]?["code"] == -32001 && full["error"]?["data"]?["scope"] == "tenant serial"
                                && full["error"]?["data"]?["limit"] == 1, "\(full)")
                        try SchemaCheck.validate([("error.response.json", full)])
                        let waited = try await second.transcript(of: 1)
                        #expect(waited.states.first == "queued" && waited.status == "ok", "\(waited.notifications) \(waited.response)")
                        #expect((waited.result?["queuedMs"]?.intValue ?? 0) >= 300, "\(waited.response)")
                        #expect(try await first.transcript(of: 1).status == "ok")
                    }
                }

                // One session for `few`, whichever connection asks.
                try await ProtocolClient.connect(port: port, headers: Self.headers("few-token-000001")) { (first) async throws in
                    try await first.request("s", Method.sessionOpen)
                    let opened = try await first.response("s")
                    let session = try #require(opened["result"]?["session"]?.stringValue, "\(opened)")
                    try await ProtocolClient.connect(port: port, headers: Self.headers("few-token-000001")) { (second) async throws in
                        try await second.request("s", Method.sessionOpen)
                        let refused = try await second.response("s")
                        #expect(refused["error"]?["code"] == -32006 && refused["error"]?["data"]?["scope"] == "tenant", "\(refused)")
                        #expect(refused["error"]?["message"]?.stringValue?.contains("tenant few has 1 sessions open") == true, "\(refused)")
                        try SchemaCheck.validate([("error.response.json", refused)])
                        try await first.request("c", Method.sessionClose, ["session": .string(session)])
                        _ = try await first.response("c")
                        try await second.request("t", Method.sessionOpen)
                        #expect(try await second.response("t")["result"]?["session"] != nil)
                    }
                }
                // Metrics by tenant, which only the metrics token reads: a tenant's token would show it the others.
                #expect(try await HTTP.get(port, "/metrics", headers: ["Authorization": "Bearer free-token-00001"]).status == 401)
                var scrape = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/metrics")!)
                scrape.setValue("Bearer metrics-token-01", forHTTPHeaderField: "Authorization")
                let metrics = String(decoding: try await URLSession.shared.data(for: scrape).0, as: UTF8.self)
                let node = try Self.configuration(file).resolvedNodeName
                for sample in [
                    #"pysandbox_runs_total{node="\#(node)",status="ok",tenant="rate"} 2"#,
                    #"pysandbox_runs_total{node="\#(node)",status="ok",tenant="serial"} 2"#,
                    #"pysandbox_rejected_total{node="\#(node)",reason="rate limited",tenant="rate"} 1"#,
                    #"pysandbox_rejected_total{node="\#(node)",reason="rate",tenant="rate"} 1"#,
                    #"pysandbox_queue_wait_seconds_count{node="\#(node)",tenant="free"} 1"#,
                ] {
                    #expect(metrics.contains(sample), "\(sample) in \(metrics)")
                }
                #expect(metrics.contains(#"pysandbox_cpu_seconds_total{node="\#(node)",tenant="serial"}"#))
                let usage = try await HTTP.get(port, "/v1/usage", headers: ["Authorization": "Bearer few-token-000001"])
                #expect(usage.status == 200 && usage.json["tenant"] == "few" && usage.json["sessions"] == 2, "\(usage.json)")
                #expect(usage.json["today"]?["cpuMsLeft"] == nil && usage.json["today"]?["resetsAt"]?.stringValue?.hasSuffix("T00:00:00Z") == true)
                try SchemaCheck.validate([("rest-usage.response.json", usage.json)])
            }
        }

        /// CPU seconds per UTC day: a run past the quota is refused with
        /// when it resets, over WebSocket and REST, and still after a restart.
        @Test func aSpentDailyQuotaRefusesRunsAndStaysSpentAcrossARestart() async throws {
            let file = """
                {"tenants": [
                  {"name": "quota", "token": "quota-token-0001", "cpuSecondsPerDay": 1},
                  {"name": "other", "token": "other-token-0001", "cpuSecondsPerDay": 100}
                ]}
                """
            try await Self.withFolder { folder in
                let configuration = try Self.configuration(file) {
                    $0.state = .sqlite(folder + "/usage.sqlite")
                    $0.usageWriteInterval = .milliseconds(100)
                }
                let burn: [String: JSONValue] = ["code": "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.2: pass\nprint('burnt')"]
                try await TestServer.with(configuration) { (port) async throws in
                    try await ProtocolClient.connect(port: port, headers: Self.headers("quota-token-0001")) { (client) async throws in
                        let burnt = try await client.run(1, burn)
                        #expect(burnt.status == "ok" && (burnt.result?["cpuMs"]?.intValue ?? 0) >= 1000, "\(burnt.response)")
                        try await client.request(2, Method.run, ["code": "print('more')"])
                        let refused = try await client.response(2)
                        #expect(refused["error"]?["code"] == -32011, "\(refused)")
                        #expect(refused["error"]?["data"]?["quota"] == "cpuSecondsPerDay" && refused["error"]?["data"]?["limit"] == 1)
                        #expect(refused["error"]?["message"]?.stringValue?.contains("the quota resets at ") == true, "\(refused)")
                        try SchemaCheck.validate([("error.response.json", refused)])
                        try await client.request(3, Method.codeComplete, ["code": "pri", "cursor": 3])
                        #expect(try await client.response(3)["error"]?["code"] == -32011, "completions spend CPU too")
                    }
                    let rest = try await HTTP.post(port, "/v1/run", #"{"code": "print(1)"}"#, headers: ["Authorization": "Bearer quota-token-0001"])
                    #expect(rest.status == 429 && rest.json["error"]?["code"] == -32011, "\(rest.json)")
                    let seconds = Int(rest.headers["Retry-After"] ?? "") ?? 0
                    #expect(seconds >= 1 && seconds <= 86_400, "\(rest.headers)")
                    let usage = try await HTTP.get(port, "/v1/usage", headers: ["Authorization": "Bearer quota-token-0001"])
                    #expect(usage.json["runs"] == 1 && usage.json["today"]?["cpuMsLeft"] == 0, "\(usage.json)")
                    #expect((usage.json["today"]?["cpuMs"]?.intValue ?? 0) >= 1000, "\(usage.json)")
                    try SchemaCheck.validate([("rest-usage.response.json", usage.json), ("rest-error.response.json", rest.json)])
                    // Over MCP, run_python's result says it too.
                    let started = try await MCPTests.initialize(port, headers: ["Authorization": "Bearer quota-token-0001"])
                    let session = try #require(started.sessionID, "\(started)")
                    _ = try await MCPTests.post(
                        port, headers: ["Authorization": "Bearer quota-token-0001"],
                        #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, session: session)
                    let call = #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_python","arguments":{"code":"print(1)"}}}"#
                    let tool = try await MCPTests.post(port, headers: ["Authorization": "Bearer quota-token-0001"], call, session: session)
                    #expect(tool.status == 200 && tool.body.contains("Quota exceeded") && tool.body.contains("resets at"), "\(tool)")
                    // The CLI says which quota and when it resets, in words.
                    let cli = try await ChildProcess.run(
                        "sandbox", ["run", "--url", "ws://127.0.0.1:\(port)/v1/ws", "-c", "print(1)"], environment: ["SANDBOX_TOKEN": "quota-token-0001"])
                    #expect(cli.status != 0 && cli.stderr.contains("the daily CPU quota of 1 CPU seconds a day is used up; it resets at "), "\(cli)")
                    #expect(cli.stderr.contains("(midnight UTC), in "), "\(cli)")
                    let other = try await HTTP.post(port, "/v1/run", #"{"code": "print(7)"}"#, headers: ["Authorization": "Bearer other-token-0001"])
                    #expect(other.status == 200 && other.json["stdout"] == "7\n", "another tenant's quota is its own: \(other.json)")
                }
                // A new server on the same state: the quota is still spent, the totals still there.
                try await TestServer.with(configuration) { (port) async throws in
                    let rest = try await HTTP.post(port, "/v1/run", #"{"code": "print(1)"}"#, headers: ["Authorization": "Bearer quota-token-0001"])
                    #expect(rest.status == 429 && rest.json["error"]?["code"] == -32011, "\(rest.json)")
                    let usage = try await HTTP.get(port, "/v1/usage", headers: ["Authorization": "Bearer other-token-0001"])
                    #expect(usage.json["tenant"] == "other" && usage.json["runs"] == 1, "\(usage.json)")
                }
            }
        }

        /// Two nodes with one PostgreSQL state (a real server): CPU spent on
        /// one counts against the quota on the other within a write or two.
        @Test func twoNodesShareATenantsQuotaThroughPostgreSQL() async throws {
            let file = """
                {"tenants": [{"name": "shared", "token": "shared-token-001", "cpuSecondsPerDay": 1}]}
                """
            let bearer = ["Authorization": "Bearer shared-token-001"]
            try await PostgresServer.with { postgres in
                let configuration = try Self.configuration(file) {
                    $0.state = .postgres(postgres.uri)
                    $0.usageWriteInterval = .milliseconds(100)
                }
                try await TestServer.with(configuration) { (first) async throws in
                    try await TestServer.with(configuration) { (second) async throws in
                        let burn = #"{"code": "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.2: pass"}"#
                        let burnt = try await HTTP.post(first, "/v1/run", burn, headers: bearer)
                        #expect(burnt.status == 200 && (burnt.json["cpuMs"]?.intValue ?? 0) >= 1000, "\(burnt.json)")
                        let usage = try await Self.usageOnceSpent(second, headers: bearer)
                        #expect(usage.json["today"]?["cpuMsLeft"] == 0 && usage.json["runs"] == 1, "\(usage.json)")
                        let refused = try await HTTP.post(second, "/v1/run", #"{"code": "print(1)"}"#, headers: bearer)
                        #expect(refused.status == 429 && refused.json["error"]?["code"] == -32011, "\(refused.json)")
                    }
                }
            }
            // A database that cannot be reached stops sandboxd at start, saying why (the password never shown).
            var unreachable = TestServer.configuration()
            unreachable.state = .postgres("postgresql://u:hunter2@/x?host=/nonexistent-pysandbox&port=1")
            let error = try await #require(throws: ConfigurationError.self) { try await SandboxServer.prepare(unreachable, logger: .init(label: "test")) }
            #expect(error.message.hasPrefix("--state postgresql://u:***@/x?host=/nonexistent-pysandbox&port=1: "), "\(error.message)")
            #expect(!error.message.contains("hunter2"))
        }

        /// SIGHUP reads the tenants file again: a bad file changes nothing; a
        /// good one takes effect at once, and a removed token's connection
        /// and MCP session end (their places given back).
        @Test func sighupReloadsTheTenantsFileAndARemovedTokensConnectionEnds() async throws {
            try await Self.withFolder { folder in
                let path = folder + "/tenants.json"
                try #"{"tenants": [{"name": "kept", "token": "kept-token-00001"}, {"name": "gone", "token": "gone-token-00001"}]}"#
                    .write(toFile: path, atomically: true, encoding: .utf8)
                var configuration = TestServer.configuration()
                configuration.access.tenants = TenantDirectory(try TenantsFile.load(path: path, serverMaxima: configuration.tenantMaxima))
                configuration.tenantsFile = path
                configuration.access.metrics = .open
                let node = configuration.resolvedNodeName
                @Sendable func status(_ port: Int, _ token: String) async throws -> Int {
                    try await HTTP.get(port, "/v1/info", headers: ["Authorization": "Bearer \(token)"]).status
                }
                @Sendable func reloads(_ port: Int, _ outcome: String) async throws -> Bool {
                    try await MetricsTests.exposition(port).contains(#"pysandbox_tenant_reloads_total{node="\#(node)",outcome="\#(outcome)"} 1"#)
                }
                try await TestServer.with(configuration) { (port) async throws in
                    try await ProtocolClient.connect(port: port, headers: Self.headers("gone-token-00001")) { (client) async throws in
                        #expect(try await client.run(1, ["code": "print(1)"]).status == "ok")
                        // A bad file: refused, logged, and nothing changes.
                        try #"{"tenants": [{"name": "kept", "token": "kept-token-00001"}, {"name": "kept", "token": "x-token-000001"}]}"#
                            .write(toFile: path, atomically: true, encoding: .utf8)
                        kill(getpid(), SIGHUP)
                        try await eventuallyTrue { (try? await reloads(port, "refused")) == true }
                        #expect(try await client.run(2, ["code": "print(2)"]).status == "ok")
                        #expect(try await status(port, "gone-token-00001") == 200)
                        #expect(try await status(port, "x-token-000001") == 401)
                        let mcp = try await MCPTests.initialize(port, headers: ["Authorization": "Bearer gone-token-00001"])
                        #expect(mcp.status == 200 && mcp.sessionID != nil, "\(mcp)")
                        #expect(try await MetricsTests.exposition(port).contains(#"pysandbox_connections{node="\#(node)"} 2"#))
                        // A good one: `gone` is removed, `kept` is lowered, `new` is in.
                        try """
                            {"tenants": [{"name": "kept", "token": "kept-token-00001", "limits": {"memoryMb": 128}},
                                         {"name": "new", "token": "new-token-000001"}]}
                            """.write(toFile: path, atomically: true, encoding: .utf8)
                        kill(getpid(), SIGHUP)
                        #expect(await client.inbox.waitUntilClosed(within: .seconds(10)), "the removed token's connection ends")
                    }
                    // The MCP session too, long before its idle timeout.
                    try await eventuallyTrue {
                        try await MetricsTests.exposition(port).contains(#"pysandbox_connections{node="\#(node)"} 0"#)
                    }
                    #expect(try await reloads(port, "ok"))
                    #expect(try await status(port, "gone-token-00001") == 401)
                    #expect(try await status(port, "new-token-000001") == 200)
                    let kept = try await HTTP.get(port, "/v1/info", headers: ["Authorization": "Bearer kept-token-00001"])
                    #expect(kept.json["limits"]?["memoryMb"]?["max"] == 128, "\(kept.json)")
                }
            }
        }

        /// One line per run as it ends, and per run refused, with the code's
        /// hash and never the code; SIGHUP reopens the file after a rotation.
        @Test func theAuditLogHasALinePerRunEndedOrRefusedAndReopensOnSIGHUP() async throws {
            let file = """
                {"tenants": [{"name": "audited", "token": "audited-token-01", "runsPerMinute": 4}]}
                """
            try await Self.withFolder { folder in
                let log = folder + "/audit.log"
                let configuration = try Self.configuration(file) { $0.auditLog = .file(log) }
                let secret = "print('the secret ' + 'code')"
                try await TestServer.with(configuration) { (port) async throws in
                    try await ProtocolClient.connect(port: port, headers: Self.headers("audited-token-01")) { (client) async throws in
                        #expect(try await client.run(1, ["code": .string(secret)]).status == "ok")
                        #expect(try await client.run(2, ["code": "raise SystemExit(3)"]).status == "error")
                        try await client.request(3, Method.run, ["code": "import time; print('up', flush=True); time.sleep(30)"])
                        _ = try await client.inbox.take { $0["params"]?["id"] == 3 && $0["method"] == .string(Method.runOutput) }
                        try await client.notify(Method.cancelRequest, ["id": 3])
                        #expect(try await client.transcript(of: 3).status == "cancelled")
                        try await client.request(4, Method.run, ["code": "print(1)", "timeoutMs": 99_999_999])
                        #expect(try await client.response(4)["error"]?["code"] == -32602)
                    }
                    #expect(try await HTTP.post(port, "/v1/run", #"{"code": "print(5)"}"#, headers: ["Authorization": "Bearer audited-token-01"]).status == 200)
                    // The fifth run taken from the rate is past the tenant's four a minute (the fourth was refused before it).
                    #expect(try await HTTP.post(port, "/v1/run", #"{"code": "print(6)"}"#, headers: ["Authorization": "Bearer audited-token-01"]).status == 429)
                    // logrotate: the file moves away, SIGHUP, and the next lines go to a new file at the path.
                    try await eventuallyTrue { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count == 6 }
                    try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
                    kill(getpid(), SIGHUP)
                    try await eventuallyTrue { FileManager.default.fileExists(atPath: log) }
                    #expect(try await HTTP.post(port, "/v1/run", #"{"code": "print(7)"}"#, headers: ["Authorization": "Bearer audited-token-01"]).status == 429)
                }
                let rotated = try String(contentsOfFile: log + ".1", encoding: .utf8)
                #expect(!rotated.contains("secret"), "the code is never written")
                let lines = try rotated.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
                #expect(lines.map { $0["status"]?.stringValue ?? "?" } == ["ok", "error", "cancelled", "refused", "ok", "refused"], "\(lines)")
                #expect(lines.allSatisfy { $0["tenant"] == "audited" && $0["node"] != nil && $0["client"] == "127.0.0.1" && $0["time"] != nil })
                #expect(lines.map { $0["via"]?.stringValue ?? "?" } == ["ws", "ws", "ws", "ws", "http", "http"])
                let first = lines[0]
                let digest = SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
                #expect(first["codeSha256"]?.stringValue == digest && first["codeBytes"]?.intValue == secret.utf8.count, "\(first)")
                #expect(first["run"] == 1 && first["connection"]?.stringValue?.hasPrefix("c") == true && first["exitCode"] == 0)
                #expect(first["cpuMs"] != nil && first["wallMs"] != nil && first["outputBytes"] == 16 && first["peakMemoryKb"] != nil, "\(first)")
                #expect(lines[1]["exitCode"] == 3 && lines[3]["error"]?["code"] == -32602 && lines[5]["error"]?["code"] == -32004)
                let reopened = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
                #expect(reopened.count == 1 && reopened[0].contains(#""status":"refused""#), "\(reopened)")
            }
        }
    }
}

/// Waits until `condition` holds, up to 10 s.
private func eventuallyTrue(_ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("not within 10 s") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
