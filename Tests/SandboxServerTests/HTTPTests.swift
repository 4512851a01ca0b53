import Foundation
import SandboxProtocol
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The HTTP endpoints beside the WebSocket.
extension SandboxSuite {
    @Suite("HTTP endpoints")
    struct HTTPTests {
        @Test func healthReadinessAndInfo() async throws {
            try await TestServer.with { (port) async throws in
                let health = try await HTTP.get(port, "/healthz")
                #expect(health.status == 200 && health.json["status"] == "ok")
                let ready = try await HTTP.get(port, "/readyz")
                #expect(ready.status == 200 && ready.json["status"] == "ready")
                let info = try await HTTP.get(port, "/v1/info")
                #expect(info.json["protocolVersion"] == 1)
                #expect(info.json["serverInfo"]?["name"] == "sandboxd")
                #expect(info.json["limits"]?["timeoutMs"]?["max"] == 60000)
                #expect(info.json["python"]?["version"]?.stringValue?.hasPrefix("3.") == true)
            }
        }

        @Test func runReturnsTheVerdictAndTheOutput() async throws {
            try await TestServer.with { (port) async throws in
                let ok = try await HTTP.post(port, "/v1/run", #"{"code": "import sys\nprint(input()*2)\nprint('e', file=sys.stderr)", "stdin": "ab\n"}"#)
                #expect(ok.status == 200)
                #expect(ok.json["status"] == "ok" && ok.json["exitCode"] == 0)
                #expect(ok.json["stdout"] == "abab\n" && ok.json["stderr"] == "e\n")
                #expect(ok.json["stdoutBytes"] == 5 && ok.json["queuedMs"]?.intValue != nil)

                let failing = try await HTTP.post(port, "/v1/run", #"{"code": "1/0", "files": {"a/b.txt": "x"}}"#)
                #expect(failing.status == 200 && failing.json["status"] == "error")
                #expect(failing.json["stderr"]?.stringValue?.contains("ZeroDivisionError") == true)
                try SchemaCheck.validate([("rest-run.response.json", ok.json), ("rest-run.response.json", failing.json)])
            }
        }

        /// The scientific stack preloaded, as sandboxd serves it by default.
        @Test func displaysAndFilesComeBackInOneAnswer() async throws {
            let configuration = TestServer.configuration { $0.sandbox.preload = nil }
            try await TestServer.with(configuration) { (port) async throws in
                let code = #"import matplotlib.pyplot as plt, pandas as pd\nprint('a')\nplt.plot([1, 2])\nplt.show()\nprint('b')\ndisplay(pd.DataFrame({'x': [7]}))\nopen('out.bin', 'wb').write(open('in.bin', 'rb').read() * 2)"#
                let body = #"{"code": "\#(code)", "files": {"in.bin": {"base64": "/wA="}}, "returnFiles": ["out.*", "none/**"]}"#
                let response = try await HTTP.post(port, "/v1/run", body)
                #expect(response.status == 200 && response.json["status"] == "ok", "\(response.json)")
                #expect(response.json["stdout"] == "a\nb\n")
                let displays = response.json["displays"]?.arrayValue ?? []
                #expect(displays.count == 2)
                #expect(displays.first?["data"]?["image/png"]?.stringValue?.hasPrefix("iVBORw0KGgo") == true)
                #expect(displays.last?["data"]?["text/html"]?.stringValue?.contains("<table") == true)
                // seq places each display among the output: "a" before the plot, "b" between the two.
                let seqs = displays.compactMap { $0["seq"]?.intValue }
                #expect(seqs.count == 2 && seqs[0] >= 1 && seqs[1] > seqs[0] + 1)
                #expect(response.json["files"] == [["path": "out.bin", "size": 4, "base64": "/wD/AA=="]])
                #expect(response.json["omittedFiles"] == [["path": "none/**", "reason": "noMatch"]])
                try SchemaCheck.validate([("rest-run.response.json", response.json)])
            }
        }

        @Test func badRequestsSayWhatWasWrong() async throws {
            try await TestServer.with(TestServer.configuration { $0.maxCodeBytes = 100 }) { (port) async throws in
                let cases: [(String, String, Int, RPCErrorCode)] = [
                    ("application/json", "{not json", 400, .parseError),
                    ("application/json", #"{"code": 5}"#, 400, .invalidParams),
                    ("application/json", #"{"code": "pass", "interactive": true}"#, 400, .invalidParams),
                    ("application/json", #"{"code": "pass", "timeoutMs": 999999}"#, 400, .invalidParams),
                    ("application/json", #"{"code": "pass", "files": {"/etc/passwd": ""}}"#, 400, .invalidParams),
                    ("application/json", "{\"code\": \"\(String(repeating: "#", count: 101))\"}", 413, .codeTooLarge),
                    ("text/plain", #"{"code": "pass"}"#, 415, .invalidRequest),
                ]
                for (contentType, body, status, code) in cases {
                    let response = try await HTTP.post(port, "/v1/run", body, contentType: contentType)
                    try SchemaCheck.validate([("rest-error.response.json", response.json)])
                    #expect(response.status == status, "\(body)")
                    #expect(response.json["error"]?["code"] == .integer(Int64(code.rawValue)), "\(body)")
                    #expect(response.json["error"]?["message"]?.stringValue?.hasPrefix(code.phrase) == true, "\(body)")
                }
            }
        }

        @Test func fullQueueAnswers503WithRetryAfter() async throws {
            let configuration = TestServer.configuration { $0.workers = 1; $0.queueCapacity = 0 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.run, ["code": "import time; time.sleep(1)"])
                    _ = try await client.inbox.take { $0["params"]?["state"] == "running" }
                    let refused = try await HTTP.post(port, "/v1/run", #"{"code": "pass"}"#)
                    #expect(refused.status == 503)
                    #expect(refused.json["error"]?["code"] == .integer(Int64(RPCErrorCode.queueFull.rawValue)))
                    #expect(Int(refused.headers["Retry-After"] ?? "") ?? 0 >= 1)
                    #expect(try await HTTP.get(port, "/readyz").status == 503)
                    #expect(try await client.transcript(of: 1).status == "ok")
                }
            }
        }
    }
}

enum HTTP {
    struct Reply {
        var status: Int
        var json: JSONValue
        var headers: [String: String]

        /// A header by its name in any case (Foundation may have changed it).
        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    static func get(_ port: Int, _ path: String, headers: [String: String] = [:]) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpShouldHandleCookies = false
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        return try await send(request)
    }

    static func post(
        _ port: Int, _ path: String, _ body: String, contentType: String = "application/json", headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        return try await send(request)
    }

    private static func send(_ request: URLRequest) async throws -> Reply {
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        let json = (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields { headers["\(name)"] = "\(value)" }
        return Reply(status: http.statusCode, json: json, headers: headers)
    }
}
