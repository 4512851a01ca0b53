import Foundation
import SandboxProtocol
import Testing

/// The editor page opened as `/?token=`: the server sets the cookie (the
/// page's scripts never see the token), with curl to read every header.
extension SandboxSuite.AccessTests {
    struct CurlReply {
        var status: Int
        /// Header lines, names lowercased, in order (Set-Cookie may come twice).
        var headers: [(name: String, value: String)]

        func values(_ name: String) -> [String] { headers.filter { $0.name == name }.map(\.value) }
    }

    /// `curl` with `arguments`, its reply's status and headers (the body is dropped).
    static func curl(_ arguments: [String]) async throws -> CurlReply {
        let result = try await ChildProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "--max-time", "10"] + arguments)
        let lines = result.stdout.split(separator: "\r\n").map(String.init)
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return CurlReply(status: status, headers: headers)
    }

    @Test func theServerSetsTheEditorsTokenAsAnHttpOnlyCookieAndTakesItOutOfTheAddress() async throws {
        let token = "s3cret token;with=odd%chars"
        let encoded = "s3cret%20token%3Bwith%3Dodd%25chars"
        let configuration = Self.configuration {
            $0.access.tokens = ["other", token]
            $0.trustedProxies = ["127.0.0.2/32"]
        }
        try await TestServer.with(configuration) { (port) async throws in
            let base = "http://127.0.0.1:\(port)"
            let query = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let page = try await Self.curl(["\(base)/?theme=dark&token=\(query)&x=1"])
            #expect(page.status == 303, "\(page)")
            #expect(page.values("location") == ["/?theme=dark&x=1"], "the token is out of the address")
            #expect(page.values("cache-control") == ["no-store"])
            let cookies = page.values("set-cookie")
            try #require(cookies.count == 2, "\(cookies)")
            let attributes = Set(cookies[0].split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(attributes == ["pysandbox_token=\(encoded)", "Path=/", "HttpOnly", "SameSite=Strict"], "\(cookies[0])")
            // The cookie pages of earlier versions set for /v1 is cleared.
            #expect(Set(cookies[1].split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
                    == ["pysandbox_token=", "Path=/v1", "Max-Age=0"], "\(cookies[1])")
            #expect(try await Self.curl(["\(base)/index.html?token=\(query)"]).values("location") == ["/index.html"])
            #expect(try await Self.curl(["-I", "\(base)/?token=\(query)"]).status == 303, "HEAD as GET")

            // The cookie opens /v1/*: the WebSocket's upgrade, the REST run.
            let cookie = "pysandbox_token=\(encoded)"
            #expect(try await Self.curl(["-H", "Cookie: \(cookie)", "\(base)/v1/info"]).status == 200)
            #expect(try await Self.curl(["\(base)/v1/info"]).status == 401)
            let run = try await ChildProcess.run("/usr/bin/curl", [
                "-s", "--max-time", "30", "-H", "Cookie: theme=dark; \(cookie)", "-H", "Content-Type: application/json",
                "-d", #"{"code": "print(6 * 7)"}"#, "\(base)/v1/run",
            ])
            let verdict = try JSONDecoder().decode(JSONValue.self, from: Data(run.stdout.utf8))
            #expect(verdict["stdout"] == "42\n", "\(run.stdout)")
            let upgrade = try await RawWebSocket.upgrade(port: port, headers: ["Cookie": cookie, "Origin": base])
            #expect(upgrade.head.hasPrefix("HTTP/1.1 101"), "\(upgrade.head)")
            let refused = try await RawWebSocket.upgrade(port: port, headers: ["Cookie": "pysandbox_token=wrong"])
            #expect(!refused.head.hasPrefix("HTTP/1.1 101"), "\(refused.head)")

            // A wrong token: 401, no cookie, no redirect.
            let wrong = try await Self.curl(["\(base)/?token=wrong"])
            #expect(wrong.status == 401 && wrong.values("set-cookie").isEmpty && wrong.values("location").isEmpty, "\(wrong)")
            #expect(try await Self.curl(["\(base)/?token="]).status == 401)
            // Without ?token= the page is the page, and sets nothing.
            let plain = try await Self.curl(["\(base)/"])
            #expect(plain.status == 200 && plain.values("set-cookie").isEmpty)

            // Secure only when a trusted proxy says the browser used HTTPS (127.0.0.2 is one here, 127.0.0.1 is not).
            let proxied = try await Self.curl(["--interface", "127.0.0.2", "-H", "X-Forwarded-Proto: https", "\(base)/?token=other"])
            #expect(proxied.values("set-cookie").first?.contains("; Secure") == true, "\(proxied)")
            let claimed = try await Self.curl(["-H", "X-Forwarded-Proto: https", "\(base)/?token=other"])
            #expect(claimed.status == 303 && claimed.values("set-cookie").first?.contains("Secure") == false, "\(claimed)")

            // The page's scripts no longer touch cookies.
            for script in ["editor.js", "protocol-client.js", "session-control.js"] {
                let text = try await ChildProcess.run("/usr/bin/curl", ["-s", "\(base)/\(script)"]).stdout
                #expect(!text.isEmpty && !text.contains("document.cookie"), "\(script)")
            }
        }
        // Without tokens the address is cleaned all the same, and no cookie set.
        try await TestServer.with(Self.configuration { _ in }) { (port) async throws in
            let open = try await Self.curl(["http://127.0.0.1:\(port)/?token=anything"])
            #expect(open.status == 303 && open.values("location") == ["/"] && open.values("set-cookie").isEmpty, "\(open)")
        }
    }
}
