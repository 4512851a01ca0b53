import Foundation
import HTTPTypes
import SandboxProtocol
import Testing

@testable import SandboxServer

/// `--tenants` (issue 27): each token opens the service as its tenant, with
/// that tenant's maxima, over WebSocket and REST; tokens nobody holds are refused.
extension SandboxSuite {
    @Suite("Tenants")
    struct TenantTests {
        static let file = """
            {"tenants": [
              {"name": "school", "token": "school-token-0001", "limits": {"timeoutMs": 2000, "memoryMb": 128}},
              {"name": "lab", "token": "lab-token-0002"}
            ]}
            """

        static func configuration() throws -> ServerConfiguration {
            var configuration = TestServer.configuration()
            let tenants = try TenantsFile.parse(Array(Self.file.utf8), file: "tenants.json", serverMaxima: configuration.tenantMaxima)
            configuration.access.tenants = TenantDirectory(tenants)
            return configuration
        }

        static func bearer(_ token: String) -> [String: String] { ["Authorization": "Bearer \(token)"] }

        @Test func eachTokenGetsItsTenantsMaximaOverWebSocketAndREST() async throws {
            try await TestServer.with(try Self.configuration()) { (port) async throws in
                let school = try await HTTP.get(port, "/v1/info", headers: Self.bearer("school-token-0001"))
                #expect(school.status == 200)
                #expect(school.json["limits"]?["timeoutMs"]?["max"] == 2000 && school.json["limits"]?["timeoutMs"]?["default"] == 2000)
                #expect(school.json["limits"]?["memoryMb"]?["max"] == 128 && school.json["limits"]?["memoryMb"]?["default"] == 128)
                let lab = try await HTTP.get(port, "/v1/info", headers: Self.bearer("lab-token-0002"))
                #expect(lab.json["limits"]?["timeoutMs"]?["max"] == 60000 && lab.json["limits"]?["memoryMb"]?["max"] == 1024, "\(lab.json)")
                for headers in [[:], Self.bearer("school-token-000"), Self.bearer("default")] {
                    #expect(try await HTTP.get(port, "/v1/info", headers: headers).status == 401, "\(headers)")
                }
                // Metrics name every tenant: without a metrics token of its own, no tenant's token reads them.
                let metrics = try await HTTP.get(port, "/metrics", headers: Self.bearer("lab-token-0002"))
                #expect(metrics.status == 403 && metrics.json["error"]?["message"]?.stringValue?.contains("--metrics-token") == true, "\(metrics)")

                // REST: the school's maxima refuse what the lab's allow.
                let body = #"{"code": "print(6 * 7)", "timeoutMs": 5000}"#
                let refused = try await HTTP.post(port, "/v1/run", body, headers: Self.bearer("school-token-0001"))
                #expect(refused.status == 400)
                #expect(refused.json["error"]?["message"]?.stringValue == "Invalid params: timeoutMs: 5000 is above the maximum 2000", "\(refused.json)")
                let allowed = try await HTTP.post(port, "/v1/run", body, headers: Self.bearer("lab-token-0002"))
                #expect(allowed.status == 200 && allowed.json["status"] == "ok" && allowed.json["stdout"] == "42\n", "\(allowed.json)")

                // WebSocket: the same, and initialize says which maxima hold.
                var headers = HTTPFields()
                headers[.authorization] = "Bearer school-token-0001"
                try await ProtocolClient.connect(port: port, headers: headers) { (client) async throws in
                    try await client.request("init", Method.initialize, [:])
                    let info = try await client.response("init")
                    #expect(info["result"]?["limits"]?["memoryMb"]?["max"] == 128, "\(info)")
                    try await client.request(1, Method.run, ["code": "print(1)", "memoryMb": 512])
                    let tooMuch = try await client.response(1)
                    #expect(tooMuch["error"]?["code"] == -32602, "\(tooMuch)")
                    #expect(tooMuch["error"]?["message"]?.stringValue?.contains("memoryMb: 512 is above the maximum 128") == true)
                    try await client.request("s", Method.sessionOpen, ["memoryMb": 512])
                    let session = try await client.response("s")
                    #expect(session["error"]?["message"]?.stringValue?.contains("memoryMb: 512 is above the maximum 128") == true, "\(session)")
                    // A run that asks for nothing gets the tenant's lowered default, which holds.
                    let hog = try await client.run(2, ["code": "hoard = bytearray(200 << 20); hoard[::4096] = b'x' * len(hoard[::4096])"])
                    #expect(hog.status == "memoryLimit", "\(hog.response)")
                }
                headers[.authorization] = "Bearer lab-token-0002"
                try await ProtocolClient.connect(port: port, headers: headers) { (client) async throws in
                    let fits = try await client.run(1, ["code": "hoard = bytearray(200 << 20); hoard[::4096] = b'x' * len(hoard[::4096]); print('held')"])
                    #expect(fits.status == "ok" && fits.stdout == "held\n", "\(fits.response)")
                }
            }
        }

        /// An MCP session is its tenant's: another tenant's token finds no such session.
        @Test func anMCPSessionServesOnlyTheTenantThatStartedIt() async throws {
            try await TestServer.with(try Self.configuration()) { (port) async throws in
                let started = try await MCPTests.initialize(port, headers: Self.bearer("school-token-0001"))
                let session = try #require(started.sessionID, "\(started)")
                let list = #"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#
                let foreign = try await MCPTests.post(port, headers: Self.bearer("lab-token-0002"), list, session: session)
                #expect(foreign.status == 404, "\(foreign)")
                let own = try await MCPTests.post(port, headers: Self.bearer("school-token-0001"), list, session: session)
                #expect(own.status == 200 && own.body.contains("run_python"), "\(own)")
                #expect(try await MCPTests.initialize(port).status == 401)
            }
        }
    }
}
