import Foundation
import SandboxProtocol
import SandboxServer
import Testing

/// `/mcp` with raw requests: ids other than strings and integers, and
/// reaping whatever a client sent.
extension SandboxSuite {
    @Suite("MCP: request ids and reaping over raw HTTP")
    struct MCPRequestIDTests {
        typealias Reply = MCPTests.Reply

        /// MCP ids are strings or integers, never null: any other is refused
        /// (-32600) before it reaches the SDK, which read it as no id at all
        /// and left it unanswered; the client's MCP session goes on.
        @Test func idsThatAreNeitherStringsNorIntegersAreRefused() async throws {
            try await TestServer.with(TestServer.configuration()) { port in
                let ids = ["1.5", "true", "{}", "[]", "null", #"{"a":[1,2]}"#, "18446744073709551616"]
                // Before a session: an initialize with such an id starts none.
                for id in ids {
                    let reply = try await MCPTests.post(port, """
                        {"jsonrpc":"2.0","id":\(id),"method":"initialize","params":{"protocolVersion":"2025-11-25",\
                        "capabilities":{},"clientInfo":{"name":"MCPTests","version":"1"}}}
                        """)
                    Self.expectRefused(reply, id)
                    #expect(reply.sessionID == nil, "\(reply)")
                }
                let first = try await MCPTests.initialize(port)
                let session = try #require(first.sessionID, "\(first)")
                for id in ids {
                    Self.expectRefused(try await MCPTests.post(port, #"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"#, session: session), id)
                }
                let ping = try await MCPTests.post(port, #"{"jsonrpc":"2.0","id":"after","method":"ping"}"#, session: session)
                #expect(ping.status == 200 && ping.body.contains(#""id":"after""#), "\(ping)")
            }
        }

        static func expectRefused(_ reply: Reply, _ id: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(reply.status == 400, "id \(id): \(reply)", sourceLocation: sourceLocation)
            let error = (try? JSONDecoder().decode(JSONValue.self, from: Data(reply.body.utf8)))?["error"]
            #expect(error?["code"] == -32600, "id \(id): \(reply)", sourceLocation: sourceLocation)
            #expect(error?["message"]?.stringValue?.contains("id must be a string or an integer, not ") == true,
                    "id \(id): \(reply)", sourceLocation: sourceLocation)
        }

        /// Whatever a client sends, it cannot keep its MCP session (and its
        /// connection place) past the idle timeout: before, one request with
        /// the id 1.5 stayed "unanswered" for ever, and the client was never reaped.
        @Test func anMCPClientIsReapedAtTheIdleTimeoutWhateverItSent() async throws {
            let configuration = TestServer.configuration {
                $0.idleTimeout = .seconds(1)
                $0.maxConnections = 1
            }
            try await TestServer.with(configuration) { port in
                let first = try await MCPTests.initialize(port)
                let session = try #require(first.sessionID, "\(first)")
                let odd = [
                    #"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                    #"{"jsonrpc":"2.0","id":[],"method":"tools/list"}"#,
                    #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                    #"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}}"#,
                    #"{"jsonrpc":"2.0","id":99,"result":{}}"#,
                    #"{"jsonrpc":"2.0","id":"x","method":"no/such/method"}"#,
                    #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"run_python","arguments":{"code":"print(1)"}}}"#,
                    #"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":"not an object"}"#,
                ]
                for message in odd { _ = try await MCPTests.post(port, message, session: session) }
                // Its place holds while it is there (--max-connections 1) …
                #expect(try await MCPTests.initialize(port).status == 503)
                // … and the idle timeout (1 s, checked each second) gives it back.
                try await Task.sleep(for: .seconds(3))
                let ping = try await MCPTests.post(port, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, session: session)
                #expect(ping.status == 404, "\(ping)")
                #expect(try await MCPTests.initialize(port).status == 200, "the place is free again")
            }
        }
    }
}
