import Foundation
import SandboxProtocol
import SandboxServer
import Testing

/// Sessions are shared fairly between clients (PROTOCOL.md §4.8, "Places"):
/// one address stops at its own cap, however many connections or MCP
/// sessions it opens; when every place is taken an idle session of a
/// client holding more gives its place up and its owner is told; a busy
/// one never does. Clients are loopback addresses of their own (127.0.0.x).
extension SandboxSuite {
    @Suite("Sessions are shared fairly between client addresses")
    struct SessionFairnessTests {
        static let tooManySessions = Int64(RPCErrorCode.tooManySessions.rawValue)

        static func configuration(_ adjust: (inout ServerConfiguration) -> Void) -> ServerConfiguration {
            TestServer.configuration {
                $0.maxSessionsPerConnection = 4
                adjust(&$0)
            }
        }

        @Test func oneAddressStopsAtItsOwnCapWhileOthersStillGetSessions() async throws {
            let configuration = Self.configuration {
                $0.maxSessions = 4
                $0.maxSessionsPerClient = 2
                $0.sessionReclaimAfter = .seconds(600)
            }
            try await TestServer.with(configuration) { (port) async throws in
                let first = try await AddressedClient.connect(port: port, from: "127.0.0.1")
                let second = try await AddressedClient.connect(port: port, from: "127.0.0.1")
                defer { first.close(); second.close() }
                let limits = try await first.call(0, Method.initialize)["result"]?["limits"]?["sessions"]
                #expect(limits?["maxPerClient"] == 2 && limits?["reclaimAfterMs"] == 600_000, "\(String(describing: limits))")
                let held = try await first.openSession(1).get()
                _ = try await second.openSession(1).get()
                // The cap is the address's, over all its connections: each of them is refused now.
                for client in [first, second] {
                    let refused = try #require(try await client.openSession(2).failure, "a third session for 127.0.0.1")
                    #expect(refused.code == Self.tooManySessions && refused.scope == "client", "\(refused)")
                    #expect(refused.message.hasPrefix("Too many sessions: this client (127.0.0.1) has 2 sessions open, its own cap"),
                            "\(refused)")
                }
                // Another address gets the server's other places.
                let other = try await AddressedClient.connect(port: port, from: "127.0.0.2")
                defer { other.close() }
                _ = try await other.openSession(1).get()
                let otherSession = try await other.openSession(2).get()
                let ran = try await other.call(3, Method.run, ["code": "print('mine')", "session": .string(otherSession)])
                #expect(ran["result"]?["status"] == "ok", "\(ran)")
                // Full, and nothing idle long enough to reclaim: a third address hears that the server is full.
                let third = try await AddressedClient.connect(port: port, from: "127.0.0.3")
                defer { third.close() }
                let full = try #require(try await third.openSession(1).failure, "a fifth session on a server of four")
                #expect(full.code == Self.tooManySessions && full.scope == "server", "\(full)")
                #expect(full.message.contains("all its 4 sessions open"), "\(full)")
                // A session closed gives its place back, to whoever asks next.
                #expect(try await first.call(4, Method.sessionClose, ["session": .string(held)])["result"] == .object([:]))
                _ = try await third.openSession(2).get()
            }
        }

        /// Reclaiming under pressure: the idle session goes, its owner is
        /// told why, a run in it then hears it too; the session whose cell
        /// waits for stdin (an interactive run) is busy, and stays.
        @Test func anIdleSessionGivesItsPlaceToAClientHoldingFewerAndABusyOneNever() async throws {
            let configuration = Self.configuration {
                $0.maxSessions = 2
                $0.maxSessionsPerClient = 2
                $0.sessionReclaimAfter = .seconds(1)
            }
            try await TestServer.with(configuration) { (port) async throws in
                let owner = try await AddressedClient.connect(port: port, from: "127.0.0.1")
                defer { owner.close() }
                let idle = try await owner.openSession("a").get()
                let busy = try await owner.openSession("b").get()
                #expect(try await owner.call(1, Method.run, ["code": "x = 1", "session": .string(idle)])["result"]?["status"] == "ok")
                try await owner.request(2, Method.run, [
                    "code": "print('reply:', input())", "session": .string(busy), "interactive": true, "timeoutMs": 30_000,
                ])
                _ = try await owner.take { $0["method"]?.stringValue == Method.runStdinWanted && $0["params"]?["id"] == 2 }
                // Both idle and busy have been open for longer than the minimum now.
                try await Task.sleep(for: .milliseconds(1500))

                let newcomer = try await AddressedClient.connect(port: port, from: "127.0.0.2")
                defer { newcomer.close() }
                let given = try await newcomer.openSession(1).get()
                let ended = try await owner.ended(idle)
                #expect(ended["params"]?["reason"] == "reclaimed", "\(ended)")
                #expect(ended["params"]?["message"]?.stringValue?.contains("another client") == true, "\(ended)")
                let late = try await owner.call(3, Method.run, ["code": "print(x)", "session": .string(idle)])
                #expect(late["error"]?["code"] == .integer(Int64(RPCErrorCode.sessionEnded.rawValue)), "\(late)")
                #expect(late["error"]?["data"]?["reason"] == "reclaimed", "\(late)")
                #expect(try await newcomer.call(2, Method.run, ["code": "print(2 + 2)", "session": .string(given)])["result"]?["status"] == "ok")

                // Now each holds one: neither holds more than the other, so nothing is reclaimed, busy or not.
                let refused = try #require(try await newcomer.openSession(3).failure, "a second session for 127.0.0.2")
                #expect(refused.code == Self.tooManySessions && refused.scope == "server", "\(refused)")
                #expect(await !owner.hasHeardEnd(of: busy), "the busy session was ended: \(owner.log)")
                // The interactive cell was waiting all along, and goes on.
                let stdin: JSONValue = ["jsonrpc": "2.0", "method": .string(Method.runStdin), "params": ["id": 2, "data": "hi\n", "eof": true]]
                try await owner.send(stdin)
                let verdict = try await owner.response(2)
                #expect(verdict["result"]?["status"] == "ok", "\(verdict)")
                #expect(owner.log.contains { $0["params"]?["text"]?.stringValue?.contains("reply: hi") == true })
            }
        }

        /// A client never takes a place back from one holding as few as it
        /// does, and a session in use (a run queued or running) is not idle.
        @Test func aBusySessionIsNeverReclaimed() async throws {
            let configuration = Self.configuration {
                $0.maxSessions = 2
                $0.maxSessionsPerClient = 2
                $0.sessionReclaimAfter = .milliseconds(500)
            }
            try await TestServer.with(configuration) { (port) async throws in
                let owner = try await AddressedClient.connect(port: port, from: "127.0.0.1")
                defer { owner.close() }
                let sessions = [try await owner.openSession("a").get(), try await owner.openSession("b").get()]
                for (index, session) in sessions.enumerated() {
                    try await owner.request(.integer(Int64(index)), Method.run, [
                        "code": "import time\nprint('go', flush=True)\ntime.sleep(4)", "session": .string(session), "timeoutMs": 30_000,
                    ])
                }
                for index in 0..<2 { _ = try await owner.take { $0["params"]?["id"] == .integer(Int64(index)) && $0["params"]?["state"] == "running" } }
                try await Task.sleep(for: .seconds(1))
                let newcomer = try await AddressedClient.connect(port: port, from: "127.0.0.2")
                defer { newcomer.close() }
                let refused = try #require(try await newcomer.openSession(1).failure, "a session while both were busy")
                #expect(refused.scope == "server", "\(refused)")
                for index in 0..<2 {
                    #expect(try await owner.response(.integer(Int64(index)))["result"]?["status"] == "ok")
                }
                for session in sessions { #expect(await !owner.hasHeardEnd(of: session)) }
            }
        }

        /// A session's cell that waits for stdin for ever is bounded by its
        /// own timeout, as any cell is: a session cannot be kept busy
        /// without the client sending runs, which its rate limit counts.
        @Test func aCellWaitingForStdinEndsAtItsTimeout() async throws {
            try await TestServer.with(Self.configuration { _ in }) { (port) async throws in
                let client = try await AddressedClient.connect(port: port, from: "127.0.0.1")
                defer { client.close() }
                let session = try await client.openSession("open").get()
                let run = try await client.call(1, Method.run, [
                    "code": "input()", "session": .string(session), "interactive": true, "timeoutMs": 1000,
                ])
                #expect(run["result"]?["status"] == "timeout", "\(run)")
                #expect(try await client.call(2, Method.run, ["code": "print(1)", "session": .string(session)])["result"]?["status"] == "ok")
            }
        }

        /// A connection with a session open keeps its place among its
        /// address's connections past the connection idle timeout, until
        /// the session has ended and the connection idled out in turn:
        /// keeping a session is no way round --max-connections-per-address.
        @Test func aConnectionWithASessionOpenStillCountsAgainstItsAddress() async throws {
            let configuration = Self.configuration {
                $0.maxConnectionsPerAddress = 1
                $0.idleTimeout = .seconds(1)
            }
            try await TestServer.with(configuration) { (port) async throws in
                let holder = try await AddressedClient.connect(port: port, from: "127.0.0.1")
                defer { holder.close() }
                let session = try await holder.openSession(1, ["idleTimeoutMs": 3000]).get()
                try await Task.sleep(for: .seconds(2))  // past the connection's idle timeout
                let (_, refused) = try await RawWebSocket.upgrade(port: port, source: "127.0.0.1")
                #expect(!refused.hasPrefix("HTTP/1.1 101"), "a second connection from 127.0.0.1 was let in: \(refused)")
                let other = try await AddressedClient.connect(port: port, from: "127.0.0.2")
                other.close()
                #expect(try await holder.ended(session)["params"]?["reason"] == "idleTimeout")
                // Then the connection, with nothing open, idles out and gives its place back.
                #expect(try await holder.answerClose(within: .seconds(10)) == "idle timeout")
                let deadline = ContinuousClock.now + .seconds(10)
                var head = ""
                while ContinuousClock.now < deadline {
                    (_, head) = try await RawWebSocket.upgrade(port: port, source: "127.0.0.1")
                    if head.hasPrefix("HTTP/1.1 101") { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                #expect(head.hasPrefix("HTTP/1.1 101"), "\(head)")
            }
        }

        /// MCP clients open sessions on behalf of their agents; those count
        /// toward the same cap of the client's address as its WebSockets'.
        @Test func mcpSessionsCountTowardTheirAddressesCap() async throws {
            let configuration = Self.configuration {
                $0.maxSessions = 4
                $0.maxSessionsPerClient = 2
                $0.sessionReclaimAfter = .seconds(600)
            }
            try await TestServer.with(configuration) { (port) async throws in
                let mcp = try await MCPTests.initialize(port)
                let id = try #require(mcp.sessionID, "\(mcp)")
                _ = try await MCPTests.post(port, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, session: id)
                for (index, name) in ["a", "b"].enumerated() {
                    let call = try await Self.runPython(port, session: id, requestID: index + 2, name: name, code: "print('in \(name)')")
                    #expect(call.body.contains("in \(name)") && !call.body.contains(#""isError":true"#), "\(call)")
                }
                // The WebSocket of the same address finds its cap taken by the MCP sessions.
                let sameAddress = try await AddressedClient.connect(port: port, from: "127.0.0.1")
                defer { sameAddress.close() }
                let refused = try #require(try await sameAddress.openSession(1).failure, "a third session for 127.0.0.1")
                #expect(refused.scope == "client", "\(refused)")
                let other = try await AddressedClient.connect(port: port, from: "127.0.0.2")
                defer { other.close() }
                _ = try await other.openSession(1).get()
                // And the MCP client's third session is refused the same way, in words for its agent.
                let third = try await Self.runPython(port, session: id, requestID: 9, name: "c", code: "print('never')")
                #expect(third.body.contains(#""isError":true"#) && third.body.contains("its own cap"), "\(third)")
            }
        }

        static func runPython(_ port: Int, session: String, requestID: Int, name: String, code: String) async throws -> MCPTests.Reply {
            let arguments: JSONValue = ["code": .string(code), "session": .string(name)]
            let call: JSONValue = [
                "jsonrpc": "2.0", "id": .integer(Int64(requestID)), "method": "tools/call",
                "params": ["name": "run_python", "arguments": arguments],
            ]
            return try await MCPTests.post(port, call.description, session: session)
        }

        /// Behind a trusted proxy each client is its forwarded address, for
        /// the session cap as for the connection limits.
        @Test func behindAProxyTheCapIsTheForwardedAddresses() async throws {
            try await Cluster.with(nodes: 1, nodeOptions: ["--max-sessions", "4", "--max-sessions-per-client", "1"]) { (cluster) async throws in
                let first = try await AddressedClient.connect(port: cluster.port, from: "127.0.0.3")
                let again = try await AddressedClient.connect(port: cluster.port, from: "127.0.0.3")
                let other = try await AddressedClient.connect(port: cluster.port, from: "127.0.0.4")
                defer { first.close(); again.close(); other.close() }
                _ = try await first.openSession(1).get()
                let refused = try #require(try await again.openSession(1).failure, "a second session for 127.0.0.3")
                #expect(refused.scope == "client" && refused.message.contains("(127.0.0.3)"), "\(refused)")
                _ = try await other.openSession(1).get()
            }
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { failure } else { nil }
    }
}
