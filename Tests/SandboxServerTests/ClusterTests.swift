import Foundation
import SandboxProtocol
import Testing

/// Several sandboxd nodes behind HAProxy, started by `scripts/cluster` as
/// README shows: balancing, a node killed, a node drained, and per-address
/// limits judged by the real client.
extension SandboxSuite {
    @Suite(
        "Cluster behind HAProxy",
        .enabled(if: Cluster.haproxyInstalled, "HAProxy is not installed (./scripts/setup --tests installs it)"))
    struct ClusterTests {
        /// Opens a connection through the balancer and returns the node that serves it.
        static func node(of client: ProtocolClient) async throws -> String {
            try await client.request(0, Method.initialize)
            let reply = try await client.response(0)
            guard let node = reply["result"]?["serverInfo"]?["node"]?.stringValue else { throw TestFailure("no node in \(reply)") }
            return node
        }

        @Test func twelveHundredRunsOverTwentyFourConnectionsSpreadOverThreeNodes() async throws {
            let nodesServed = try await Cluster.with(nodes: 3) { (cluster) async throws -> [String] in
                try await withThrowingTaskGroup(of: String.self) { group in
                    for connection in 0..<24 {
                        group.addTask {
                            let served = NodeBox()
                            try await ProtocolClient.connect(port: cluster.port) { (client) async throws in
                                served.name = try await Self.node(of: client)
                                for batch in 0..<5 {
                                    let ids = (1...10).map { batch * 10 + $0 }
                                    for id in ids {
                                        try await client.request(.integer(Int64(id)), Method.run, ["code": .string("print('c\(connection) r\(id)', \(id) * \(id))")])
                                    }
                                    for id in ids {
                                        let run = try await client.transcript(of: .integer(Int64(id)), within: .seconds(120))
                                        #expect(run.status == "ok", "c\(connection) r\(id): \(run.response)")
                                        #expect(run.stdout == "c\(connection) r\(id) \(id * id)\n")
                                        #expect(run.stderr == "")
                                    }
                                }
                                #expect(await client.inbox.pending.isEmpty, "one verdict per run, nothing more")
                            }
                            return served.name
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(nodesServed.count == 24)
            for node in ["node1", "node2", "node3"] {
                let share = nodesServed.filter { $0 == node }.count
                #expect(Double(share) >= 0.15 * 24, "\(node) served \(share) of 24 connections: \(nodesServed)")
            }
        }

        @Test func aKilledNodesClientsSeeTheEndAndTheRestGoOn() async throws {
            try await Cluster.with(nodes: 3) { (cluster) async throws in
                // The CLI first, so that its node can be found by its one connection.
                let cli = try ChildProcess(
                    "sandbox", ["run", "--url", "ws://127.0.0.1:\(cluster.port)/v1/ws", "-c", "import time; time.sleep(30)"])
                let victim = try await Self.nodeWithOneConnection(cluster)
                try await withThrowingTaskGroup(of: (String, String?).self) { group in
                    for connection in 0..<6 {
                        group.addTask {
                            let served = NodeBox()
                            let outcome = OutcomeBox()
                            try await ProtocolClient.connect(port: cluster.port) { (client) async throws in
                                served.name = try await Self.node(of: client)
                                try await client.request(1, Method.run, ["code": .string("import time; time.sleep(2); print('done \(connection)')")])
                                // Running, or queued behind the CLI's run on its node.
                                _ = try await client.inbox.take { $0["method"] == .string(Method.runStatus) }
                                if served.name == victim.name {
                                    outcome.value = await client.inbox.waitUntilClosed(within: .seconds(10)) ? "closed" : "open"
                                } else {
                                    let run = try await client.transcript(of: 1, within: .seconds(30))
                                    outcome.value = run.status == "ok" && run.stdout == "done \(connection)\n" ? "done" : "\(run.response)"
                                }
                            }
                            return (served.name, outcome.value)
                        }
                    }
                    try await Task.sleep(for: .milliseconds(800))  // every run has started
                    kill(victim.pid, SIGKILL)
                    for try await (node, outcome) in group {
                        #expect(outcome == (node == victim.name ? "closed" : "done"), "a client of \(node)")
                    }
                }
                let finished = try await cli.finished(within: .seconds(20))
                #expect(finished.status == 69, "the CLI on the killed node: \(finished.stderr)")
                // New connections go through at once, and never to the dead node.
                for _ in 0..<6 {
                    try await ProtocolClient.connect(port: cluster.port) { (client) async throws in
                        #expect(try await Self.node(of: client) != victim.name)
                        #expect(try await client.run(1, ["code": "print(7)"]).stdout == "7\n")
                    }
                }
            }
        }

        @Test func aDrainedNodeFinishesItsRunsGetsNoNewConnectionsAndExitsZero() async throws {
            try await Cluster.with(nodes: 3, nodeOptions: ["--shutdown-grace", "10"]) { (cluster) async throws in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let (victims, victimSink) = AsyncStream.makeStream(of: String.self)
                    for connection in 0..<6 {
                        group.addTask {
                            try await ProtocolClient.connect(port: cluster.port) { (client) async throws in
                                let node = try await Self.node(of: client)
                                if connection == 0 { victimSink.yield(node) }
                                try await client.request(1, Method.run, ["code": .string("import time; time.sleep(2); print('done')")])
                                let run = try await client.transcript(of: 1, within: .seconds(30))
                                #expect(run.status == "ok" && run.stdout == "done\n", "a client of \(node): \(run.response)")
                            }
                        }
                    }
                    var iterator = victims.makeAsyncIterator()
                    guard let victimName = await iterator.next(), let victim = cluster.node(named: victimName) else {
                        throw TestFailure("no node for connection 0")
                    }
                    try await Task.sleep(for: .milliseconds(500))
                    kill(victim.pid, SIGTERM)
                    // Within the health check's second or two, HAProxy sends nobody
                    // there (with a margin for a loaded machine).
                    try await Task.sleep(for: .seconds(3))
                    for _ in 0..<6 {
                        try await ProtocolClient.connect(port: cluster.port) { (client) async throws in
                            #expect(try await Self.node(of: client) != victimName, "a new connection reached the draining node")
                        }
                    }
                    try await group.waitForAll()
                    try await cluster.line(within: .seconds(20)) { $0 == "node \(victimName) exited 0" }
                }
            }
        }

        /// `--postgres`: the cluster's own PostgreSQL holds every node's
        /// usage, so CPU spent on one node counts against the quota on another.
        @Test func withItsPostgreSQLTheNodesShareATenantsDailyQuota() async throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-tenants-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let tenants = folder + "/tenants.json"
            try #"{"tenants": [{"name": "class", "token": "class-token-0001", "cpuSecondsPerDay": 1}]}"#
                .write(toFile: tenants, atomically: true, encoding: .utf8)
            let bearer = ["Authorization": "Bearer class-token-0001"]
            try await Cluster.with(nodes: 2, scriptOptions: ["--postgres"], nodeOptions: ["--tenants", tenants]) { (cluster) async throws in
                try await cluster.line(within: .seconds(1)) { $0.hasPrefix("postgres /") }
                let (first, second) = (cluster.nodes[0].port, cluster.nodes[1].port)
                let burn = #"{"code": "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.2: pass"}"#
                let burnt = try await HTTP.post(first, "/v1/run", burn, headers: bearer)
                #expect(burnt.status == 200 && (burnt.json["cpuMs"]?.intValue ?? 0) >= 1000, "\(burnt.json)")
                let usage = try await TenantQuotaTests.usageOnceSpent(second, headers: bearer)
                #expect(usage.json["today"]?["cpuMsLeft"] == 0, "the other node's usage reached this one: \(usage.json)")
                let refused = try await HTTP.post(second, "/v1/run", #"{"code": "print(1)"}"#, headers: bearer)
                #expect(refused.status == 429 && refused.json["error"]?["code"] == -32011, "\(refused.json)")
            }
        }

        @Test func perAddressLimitsJudgeTheRealClientAndForgedHeadersAreIgnored() async throws {
            try await Cluster.with(nodes: 1, nodeOptions: ["--max-connections-per-address", "1"]) { (cluster) async throws in
                let node = cluster.nodes[0]
                // Two clients with their own addresses, through the balancer.
                let first = try await RawWebSocket.connect(port: cluster.port, source: "127.0.0.3")
                defer { first.close() }
                try await first.sendText(#"{"jsonrpc":"2.0","id":0,"method":"initialize"}"#)
                _ = try await first.readFrame(within: .seconds(10))
                let (_, again) = try await RawWebSocket.upgrade(port: cluster.port, source: "127.0.0.3")
                #expect(!again.hasPrefix("HTTP/1.1 101"), "a second connection from 127.0.0.3 was let in")
                #expect(try await Self.refusal(port: cluster.port, source: "127.0.0.3")?.contains("from 127.0.0.3") == true)
                let other = try await RawWebSocket.connect(port: cluster.port, source: "127.0.0.4")
                other.close()
                // Straight to the node, X-Forwarded-For is not believed: this is 127.0.0.1.
                let direct = try await RawWebSocket.connect(port: node.port, source: "127.0.0.1")
                defer { direct.close() }
                try await direct.sendText(#"{"jsonrpc":"2.0","id":0,"method":"initialize"}"#)
                _ = try await direct.readFrame(within: .seconds(10))
                let forged = try await Self.refusal(port: node.port, source: "127.0.0.1", forwardedFor: "127.0.0.5")
                #expect(forged?.contains("from 127.0.0.1") == true, "a forged X-Forwarded-For was believed: \(String(describing: forged))")
            }
        }

        /// A plain `GET /v1/ws` from `source`: the HTTP side says why a
        /// connection would be refused (a refused WebSocket handshake gets a bare 400).
        static func refusal(port: Int, source: String, forwardedFor: String? = nil) async throws -> String? {
            let socket = try RawWebSocket.tcp(port: port, source: source)
            defer { socket.close() }
            let header = forwardedFor.map { "X-Forwarded-For: \($0)\r\n" } ?? ""
            try await socket.send(Array("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\(header)\r\n".utf8))
            let reply = try await socket.readUntilEnd(within: .seconds(10))
            return reply.hasPrefix("HTTP/1.1 429") ? reply : nil
        }

        /// The node whose /metrics shows exactly one open connection.
        static func nodeWithOneConnection(_ cluster: Cluster) async throws -> Cluster.Node {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                for node in cluster.nodes where (try? await SandboxSuite.MetricsTests.scrape(node.port)["pysandbox_connections"]) == 1 {
                    return node
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            throw TestFailure("no node shows the CLI's connection")
        }
    }
}

/// Where a client task notes what it saw.
final class NodeBox: @unchecked Sendable {
    var name = ""
}

final class OutcomeBox: @unchecked Sendable {
    var value: String?
}
