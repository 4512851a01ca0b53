import Foundation
import HTTPTypes
import SandboxProtocol
import Testing

@testable import SandboxServer

/// Tokens, origins, connection and rate limits, the idle timeout (issue 6, access control).
extension SandboxSuite {
    @Suite("access control and limits")
    struct AccessTests {
        static func configuration(_ adjust: (inout ServerConfiguration) -> Void) -> ServerConfiguration {
            TestServer.configuration(adjust)
        }

        @Test func tokenIsNeededForV1ButNotForHealthOrThePage() async throws {
            let configuration = Self.configuration {
                $0.access.tokens = ["first-token", "s3cret"]
                $0.access.metricsToken = "metrics-only"
            }
            try await TestServer.with(configuration) { (port) async throws in
                let missing = try await HTTP.get(port, "/v1/info")
                #expect(missing.status == 401)
                let challenge = missing.headers.first { $0.key.lowercased() == "www-authenticate" }?.value
                #expect(challenge?.hasPrefix("Bearer") == true, "\(missing.headers)")
                #expect(missing.json["error"]?["message"]?.stringValue?.contains("a token is required") == true)
                #expect(try await HTTP.get(port, "/v1/info", headers: ["Authorization": "Bearer wrong"]).status == 401)
                #expect(try await HTTP.get(port, "/v1/info", headers: ["Authorization": "Bearer s3cre"]).status == 401)
                #expect(try await HTTP.get(port, "/v1/info", headers: ["Authorization": "Bearer s3cret"]).status == 200)
                #expect(try await HTTP.get(port, "/v1/info?token=first-token").status == 200)
                #expect(try await HTTP.get(port, "/v1/info", headers: ["Cookie": "theme=dark; pysandbox_token=s3cret"]).status == 200)
                // Refused before any upgrade: a plain GET of the WebSocket path gets the 401 too.
                #expect(try await HTTP.get(port, "/v1/ws").status == 401)
                // Paths the router reads as /v1/… are protected however they are spelled.
                for path in ["//v1/info", "/v1//info", "/v1/info/", "///v1/ws", "//metrics"] {
                    #expect(try await HTTP.get(port, path).status == 401, "\(path)")
                }

                #expect(try await HTTP.get(port, "/healthz").status == 200)
                #expect(try await HTTP.get(port, "/readyz").status == 200)
                #expect(try await HTTP.get(port, "/").status == 200)
                #expect(try await HTTP.get(port, "/metrics").status == 401)
                #expect(try await HTTP.get(port, "/metrics", headers: ["Authorization": "Bearer s3cret"]).status == 401)
                #expect(try await HTTP.get(port, "/metrics", headers: ["Authorization": "Bearer metrics-only"]).status == 200)

                await #expect(throws: (any Error).self) {
                    try await ProtocolClient.connect(port: port) { _ in }
                }
                var headers = HTTPFields()
                headers[.authorization] = "Bearer s3cret"
                try await ProtocolClient.connect(port: port, headers: headers) { (client) async throws in
                    #expect(try await client.run(1, ["code": "print(7)"]).stdout == "7\n")
                }
            }
        }

        @Test func browsersFromOtherOriginsAreRefusedBeforeTheUpgrade() async throws {
            let configuration = Self.configuration { $0.access.allowedOrigins = ["https://editor.example.com"] }
            try await TestServer.with(configuration) { (port) async throws in
                for (origin, status) in [
                    ("http://evil.example", 403), ("null", 403), ("http://127.0.0.1:\(port + 1)", 403),
                    ("http://127.0.0.1:\(port)", 200), ("https://editor.example.com", 200),
                ] {
                    let reply = try await HTTP.get(port, "/v1/info", headers: ["Origin": origin])
                    #expect(reply.status == status, "Origin \(origin)")
                }
                #expect(try await HTTP.get(port, "/v1/info").status == 200)  // no Origin: not a browser
                let refused = try await HTTP.get(port, "/v1/ws", headers: ["Origin": "http://evil.example"])
                #expect(refused.status == 403)
                #expect(refused.json["error"]?["message"]?.stringValue?.contains("http://evil.example") == true)

                var evil = HTTPFields()
                evil[.origin] = "http://evil.example"
                await #expect(throws: (any Error).self) {
                    try await ProtocolClient.connect(port: port, headers: evil) { _ in }
                }
            }
        }

        /// DNS rebinding: a page of evil.example whose name now resolves to
        /// this machine names evil.example in Host and Origin alike. Such a
        /// request runs nothing, on any path; addresses, localhost and
        /// --allow-host names do. (curl, since it sends the Host it is given.)
        @Test func hostNamesNotTheServicesAreRefusedOnEveryPath() async throws {
            let configuration = Self.configuration { $0.access.allowedHosts = ["sandbox.example.org"] }
            try await TestServer.with(configuration) { (port) async throws in
                func status(_ path: String, host: String, body: String? = nil, upgrade: Bool = false) async throws -> String {
                    var arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "-H", "Host: \(host)"]
                    if host.contains("evil") { arguments += ["-H", "Origin: http://\(host)"] }
                    if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
                    if upgrade {
                        arguments += ["-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
                                      "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H", "Sec-WebSocket-Protocol: pysandbox.v1"]
                    }
                    return try await ChildProcess.run("/usr/bin/curl", arguments + ["http://127.0.0.1:\(port)\(path)"]).stdout
                }
                let run = #"{"code": "open('/tmp/ran', 'w')"}"#
                for host in ["evil.example", "evil.example:\(port)", "EVIL.example.:\(port)", "localhost.evil.example"] {
                    #expect(try await status("/v1/run", host: host, body: run) == "403", "\(host)")
                    #expect(try await status("/", host: host) == "403", "\(host)")
                    #expect(try await status("/v1/info", host: host) == "403", "\(host)")
                    #expect(try await status("/mcp", host: host, body: "{}") == "403", "\(host)")
                    // Refused before the upgrade (Hummingbird answers a refused upgrade 400).
                    #expect(["400", "403"].contains(try await status("/v1/ws", host: host, upgrade: true)), "\(host)")
                }
                for host in ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)", "sandbox.example.org", "app.localhost"] {
                    #expect(try await status("/v1/run", host: host, body: #"{"code": "print(1)"}"#) == "200", "\(host)")
                    #expect(try await status("/", host: host) == "200", "\(host)")
                }
                #expect(try await status("/v1/ws", host: "localhost:\(port)", upgrade: true) == "101")
                // Health checks answer whatever they are called.
                #expect(try await status("/healthz", host: "evil.example") == "200")
            }
        }

        @Test func tokensAreComparedWhole() {
            #expect(ConstantTime.equal("s3cret", "s3cret"))
            for presented in ["", "s", "s3cre", "s3cret!", "S3cret", "s3cret\0", "xxxxxx"] {
                #expect(!ConstantTime.equal("s3cret", presented), "\(presented)")
            }
            #expect(!ConstantTime.equal("", ""))
        }

        @Test func connectionsPerAddressAreCapped() async throws {
            try await TestServer.with(Self.configuration { $0.maxConnectionsPerAddress = 2 }) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (first) async throws in
                    // A reply proves the server has counted the connection (it counts when it starts serving one).
                    try await first.request(0, Method.initialize)
                    _ = try await first.response(0)
                    try await ProtocolClient.connect(port: port) { (second) async throws in
                        try await second.request(0, Method.initialize)
                        _ = try await second.response(0)
                        await #expect(throws: (any Error).self) {
                            try await ProtocolClient.connect(port: port) { _ in }
                        }
                        let refused = try await HTTP.get(port, "/v1/ws")
                        #expect(refused.status == 429, "\(refused)")
                        #expect(refused.json["error"]?["message"]?.stringValue?.contains("2 connections") == true)
                        try await second.request(1, Method.initialize)
                        _ = try await second.response(1)
                    }
                    // The second closed: its place is free again.
                    let deadline = ContinuousClock.now + .seconds(10)
                    var reopened = false
                    while !reopened && ContinuousClock.now < deadline {
                        do {
                            try await ProtocolClient.connect(port: port) { (third) async throws in
                                try await third.request(1, Method.initialize)
                                _ = try await third.response(1)
                            }
                            reopened = true
                        } catch {
                            // The server may not have seen the second close yet.
                        }
                        if !reopened { try await Task.sleep(for: .milliseconds(50)) }
                    }
                    #expect(reopened)
                    try await first.request(1, Method.initialize)
                    _ = try await first.response(1)
                }
            }
        }

        @Test func runsBeyondTheRateAreRefusedWithARetryHint() async throws {
            try await TestServer.with(Self.configuration { $0.runsPerMinute = 3 }) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for id in 1...3 {
                        #expect(try await client.run(JSONValue.integer(Int64(id)), ["code": "pass"]).status == "ok")
                    }
                    try await client.request(4, Method.run, ["code": "pass"])
                    let refused = try await client.response(4)
                    #expect(refused["error"]?["code"] == .integer(Int64(RPCErrorCode.rateLimited.rawValue)))
                    #expect(refused["error"]?["message"]?.stringValue?.hasPrefix("Rate limited: at most 3 runs per minute") == true)
                    let retryAfter = refused["error"]?["data"]?["retryAfterMs"]?.intValue ?? 0
                    #expect(retryAfter > 0 && retryAfter <= 20_000, "\(refused)")
                    // Still usable, and the limit is per connection.
                    try await client.request(5, Method.initialize)
                    #expect(try await client.response(5)["result"]?["limits"]?["runsPerMinute"] == 3)
                }
                try await ProtocolClient.connect(port: port) { (other) async throws in
                    #expect(try await other.run(1, ["code": "pass"]).status == "ok")
                }
                for _ in 1...3 { _ = try await HTTP.post(port, "/v1/run", #"{"code": "pass"}"#) }
                let limited = try await HTTP.post(port, "/v1/run", #"{"code": "pass"}"#)
                #expect(limited.status == 429 && limited.headers["Retry-After"] != nil, "\(limited)")
            }
        }

        @Test func silentConnectionsAreClosedButNotWhileARunIsGoing() async throws {
            try await TestServer.with(Self.configuration { $0.idleTimeout = .seconds(1) }) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(await client.inbox.waitUntilClosed(within: .seconds(15)))
                }
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let run = try await client.run(1, ["code": "import time\ntime.sleep(2.5)\nprint('still here')"], within: .seconds(30))
                    #expect(run.stdout == "still here\n")
                }
            }
        }
    }
}
