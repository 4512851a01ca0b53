import Foundation
import SandboxProtocol
import Testing

/// DNS rebinding's neighbours: every way a request can name a host, sent
/// byte for byte on a socket (no client library tidies them first), and
/// what a browser page could put in Origin.
extension SandboxSuite.AccessTests {
    /// Sends `request` as it is on a new connection; the reply's status.
    static func rawStatus(_ port: Int, _ request: String) async throws -> Int {
        let socket = try RawWebSocket.tcp(port: port)
        try await socket.send(Array(request.utf8))
        let head = try await socket.readHead(within: .seconds(10))
        return Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    static let run = #"{"code": "print(1)"}"#

    /// A request with these header lines (each without its CRLF).
    static func request(_ method: String = "GET", _ target: String, _ lines: [String], version: String = "HTTP/1.1") -> String {
        var text = "\(method) \(target) \(version)\r\n" + lines.map { $0 + "\r\n" }.joined()
        if method == "POST" { text += "Content-Type: application/json\r\nContent-Length: \(run.utf8.count)\r\n" }
        text += "Connection: close\r\n\r\n"
        return method == "POST" ? text + run : text
    }

    @Test func hostHeadersAreJudgedByTheNameTheyGive() async throws {
        let configuration = Self.configuration { $0.trustedProxies = ["127.0.0.1/32"] }
        try await TestServer.with(configuration) { (port) async throws in
            func status(_ method: String, _ target: String, _ lines: [String], version: String = "HTTP/1.1") async throws -> Int {
                try await Self.rawStatus(port, Self.request(method, target, lines, version: version))
            }
            let cases: [(host: String, status: Int)] = [
                // Odd ports: the name decides; a port that is not a number is no Host.
                ("localhost:0", 200), ("localhost:65535", 200), ("localhost:", 200), ("evil.example:0", 403),
                ("evil.example:\(port)", 403), ("localhost:abc", 400), ("localhost:123456", 400), ("localhost:80:80", 400),
                // A trailing dot is the same name, fully qualified; two are no name.
                ("localhost.", 200), ("localhost.:\(port)", 200), ("app.localhost.", 200), ("evil.example.", 403),
                ("localhost..", 400), (".", 400),
                ("LOCALHOST", 200), ("LocalHost:\(port)", 200), ("EVIL.EXAMPLE", 403),
                // IPv6 only in brackets, and only an address in them.
                ("[::1]", 200), ("[::1]:\(port)", 200), ("[::ffff:127.0.0.1]:\(port)", 200),
                ("[::1", 400), ("::1", 400), ("[::1]x", 400), ("[::1]:x", 400), ("[evil.example]", 400), ("[localhost]", 400),
                ("127.0.0.1", 200), ("2130706433", 403), ("localhost@evil.example", 403), ("evil.example/x", 403),
            ]
            for (host, expected) in cases {
                #expect(try await status("GET", "/v1/info", ["Host: \(host)"]) == expected, "Host: \(host)")
                if expected != 200 {
                    #expect(try await status("POST", "/v1/run", ["Host: \(host)"]) == expected, "run with Host: \(host)")
                }
            }

            // No Host: no browser sent it (HTTP/1.0, a health check, a script).
            #expect(try await status("GET", "/v1/info", [], version: "HTTP/1.0") == 200)
            #expect(try await status("GET", "/v1/info", []) == 200)
            // Two Host headers, in either order: which one a proxy on the way read is not known.
            #expect(try await status("GET", "/v1/info", ["Host: localhost", "Host: evil.example"]) == 400)
            #expect(try await status("GET", "/v1/info", ["Host: evil.example", "Host: localhost"]) == 400)
            #expect(try await status("POST", "/v1/run", ["Host: localhost", "Host: localhost"]) == 400)

            // X-Forwarded-Host is read from no one, not even a trusted proxy (127.0.0.1 is one here).
            #expect(try await status("GET", "/v1/info", ["Host: evil.example", "X-Forwarded-Host: localhost"]) == 403)
            #expect(try await status("POST", "/v1/run", ["Host: evil.example", "X-Forwarded-Host: localhost"]) == 403)
            #expect(try await status("GET", "/v1/info", ["Host: localhost", "X-Forwarded-Host: evil.example"]) == 200)

            // Absolute form: the Host is judged. Hummingbird hands on only the target's path, so a
            // target naming another host with a Host of the service's is served as the Host says:
            // no browser sends that pair (to an origin server it sends the origin form; through a
            // proxy, the proxy names the target's host in Host), and whoever crafts it could send
            // the origin form with the same Host.
            #expect(try await status("GET", "http://localhost/v1/info", ["Host: evil.example"]) == 403)
            #expect(try await status("POST", "http://localhost/v1/run", ["Host: evil.example"]) == 403)
            #expect(try await status("GET", "http://evil.example/v1/info", ["Host: evil.example"]) == 403)
            #expect(try await status("GET", "http://evil.example/v1/info", ["Host: localhost"]) == 200)
        }
    }

    /// What a page can put in Origin: `null` (a sandboxed frame, a file),
    /// another port or host of this machine, another scheme; and the
    /// WebSocket upgrade, which browsers send cross-origin without asking.
    @Test func originsOtherThanThePagesOwnAreRefusedOnEveryProtectedPath() async throws {
        try await TestServer.with(Self.configuration { _ in }) { (port) async throws in
            let host = "Host: localhost:\(port)"
            let upgrade = [
                "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: pysandbox.v1",
            ]
            func status(_ method: String, _ target: String, _ lines: [String]) async throws -> Int {
                try await Self.rawStatus(port, Self.request(method, target, lines))
            }
            func upgradeStatus(_ lines: [String]) async throws -> Int {
                // Not Connection: close, which would contradict the upgrade.
                let text = "GET /v1/ws HTTP/1.1\r\n" + (lines + upgrade).map { $0 + "\r\n" }.joined() + "\r\n"
                return try await Self.rawStatus(port, text)
            }
            for origin in ["null", "http://127.0.0.1:\(port)", "http://localhost:\(port + 1)", "http://localhost",
                           "http://evil.example", "http://localhost:\(port).evil.example", "file://", "chrome-extension://abc"] {
                #expect(try await status("GET", "/v1/info", [host, "Origin: \(origin)"]) == 403, "Origin: \(origin)")
                #expect(try await status("POST", "/v1/run", [host, "Origin: \(origin)"]) == 403, "Origin: \(origin)")
                #expect(try await status("POST", "/mcp", [host, "Origin: \(origin)"]) == 403, "Origin: \(origin)")
                #expect([400, 403].contains(try await upgradeStatus([host, "Origin: \(origin)"])), "upgrade, Origin: \(origin)")
            }
            // Two Origins: judged by the worse.
            #expect(try await status("GET", "/v1/info", [host, "Origin: http://localhost:\(port)", "Origin: http://evil.example"]) == 403)
            // The page's own origin, and no Origin at all (not a browser).
            #expect(try await status("POST", "/v1/run", [host, "Origin: http://localhost:\(port)"]) == 200)
            #expect(try await upgradeStatus([host, "Origin: http://localhost:\(port)"]) == 101)
            #expect(try await upgradeStatus([host]) == 101)
            // An evil Host with no Origin, or with its own: refused before the upgrade.
            #expect([400, 403].contains(try await upgradeStatus(["Host: evil.example"])))
            #expect([400, 403].contains(try await upgradeStatus(["Host: evil.example", "Origin: http://evil.example"])))
        }
    }
}
