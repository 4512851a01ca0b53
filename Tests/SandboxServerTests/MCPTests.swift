import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SandboxProtocol
import SandboxServer
import TestSupport
import Testing

/// run_python as AI agents reach it: the official MCP client (PyPI's `mcp`,
/// which scripts/setup --tests installs for the python3 on PATH) drives
/// Tests/Fixtures/mcp/*.py against `sandbox mcp` over stdio and against
/// sandboxd's /mcp over Streamable HTTP.
extension SandboxSuite {
    @Suite("MCP: run_python over stdio and Streamable HTTP")
    struct MCPTests {
        static let fixtures = Checkout.url("Tests/Fixtures/mcp")
        static let token = "mcp-s3cret"

        static func webSocketURL(_ port: Int) -> String { "ws://127.0.0.1:\(port)/v1/ws" }
        static func mcpURL(_ port: Int) -> String { "http://127.0.0.1:\(port)/mcp" }

        /// Test servers take at most 64 KiB of code, so that checks.py's refused
        /// run stays small (the SDK's stdio reader is slow on megabyte lines in debug builds).
        static func configuration(token: String? = nil, _ adjust: (inout ServerConfiguration) -> Void = { _ in }) -> ServerConfiguration {
            TestServer.configuration {
                $0.maxCodeBytes = 64 << 10
                if let token { $0.access.tokens = [token] }
                adjust(&$0)
            }
        }

        /// A server whose packages come from the wheels the tests build (PackageServerTests).
        static func packageConfiguration(_ folder: PackageTestFolder) throws -> ServerConfiguration {
            try PackageServerTests.configuration(folder) { $0.maxCodeBytes = 64 << 10 }
        }

        /// Servers for large output allow 32 MiB a run, so that 20 MB is written whole and only the result bounds it.
        static func largeOutput(_ configuration: inout ServerConfiguration) {
            configuration.maxOutputBytes = LimitPair(default: 32 << 20, max: 32 << 20)
        }

        // MARK: stdio: `sandbox mcp`

        @Test func stdioListsRunsPlotsAndReportsFailuresAndBadInput() async throws {
            try await TestServer.with(Self.configuration(token: Self.token)) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--token", Self.token, "--scenario", "core"])
            }
        }

        @Test func stdioWithNoServiceIsAToolErrorThatSaysSo() async throws {
            // Nothing listens on port 1.
            try await Self.stdio(["--url", "ws://127.0.0.1:1/v1/ws", "--scenario", "unreachable"])
        }

        @Test func stdioWithoutTheServicesTokenIsAToolErrorThatSaysSo() async throws {
            try await TestServer.with(Self.configuration(token: Self.token)) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "unauthorized"])
            }
        }

        @Test func stdioConnectsAgainAfterTheServiceClosedAnIdleConnection() async throws {
            try await TestServer.with(Self.configuration { $0.idleTimeout = .seconds(1) }) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "reconnects"])
            }
        }

        /// Also: an open session keeps its connection past the idle timeout.
        @Test
        func stdioSessionsKeepStateApartByNameAndReportTheirEnd() async throws {
            try await TestServer.with(Self.configuration(token: Self.token) { $0.idleTimeout = .seconds(1) }) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--token", Self.token, "--scenario", "sessions"])
            }
        }

        /// 2 MB and 20 MB of output: a head, a tail and a line on what was left out, within the default
        /// budgets; the session goes on.
        @Test func stdioResultsOfLargeOutputAreBounded() async throws {
            try await TestServer.with(Self.configuration(Self.largeOutput)) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "large"])
            }
        }

        @Test func stdioTakesTheBudgetsOfItsOptions() async throws {
            try await TestServer.with(Self.configuration()) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "budgets"])
            }
        }

        /// packages: installed and imported, refusals as tool errors with their reason, a session's set named when it opens.
        @Test func stdioRunsWithPackages() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try Self.packageConfiguration(folder)) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "packages"])
            }
        }

        /// files in (text and bytes, checked by the service), returnFiles out (text, a PNG, a 5 MB file within the
        /// result's budget), memoryMb honoured, and a session's memory and files its own.
        @Test func stdioTakesFilesReturnsFilesAndHonoursMemory() async throws {
            try await TestServer.with(Self.configuration()) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "files"])
            }
        }

        /// list_files, read_file, write_file and reset_session on a session run_python names: write then run,
        /// run then read (text, a PNG, bytes), a listing, hostile paths and links refused in words, a file over
        /// the text budget cut at a line end, and a reset session fresh at the next run.
        @Test func stdioSessionFilesAndReset() async throws {
            try await TestServer.with(Self.configuration()) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "session-files"])
            }
        }

        /// A run whose files (or a write_file whose content) pass the service's message limit is not sent (the
        /// service would close the connection, and the sessions on it): a tool error, and the session lives on.
        @Test func stdioDoesNotSendFilesOverTheServicesMessageLimit() async throws {
            try await TestServer.with(Self.configuration { $0.maxMessageBytes = 256 << 10 }) { port in
                try await Self.stdio(["--url", Self.webSocketURL(port), "--scenario", "too-large"])
            }
        }

        // MARK: Streamable HTTP: sandboxd's /mcp

        @Test func httpTakesFilesReturnsFilesAndHonoursMemory() async throws {
            try await TestServer.with(Self.configuration()) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--scenario", "files"])
            }
        }

        @Test func httpSessionFilesAndReset() async throws {
            try await TestServer.with(Self.configuration()) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--scenario", "session-files"])
            }
        }

        @Test func httpRunsWithPackages() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try Self.packageConfiguration(folder)) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--scenario", "packages"])
            }
        }

        @Test func httpListsRunsPlotsAndReportsFailuresAndBadInput() async throws {
            try await TestServer.with(Self.configuration()) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--scenario", "core"])
            }
        }

        /// Over HTTP a result is one SSE event: the official client drops its session past 1 MiB.
        @Test func httpResultsOfLargeOutputAreBounded() async throws {
            try await TestServer.with(Self.configuration(Self.largeOutput)) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--scenario", "large"])
            }
        }

        @Test func httpTakesTheBudgetsOfTheServersOptions() async throws {
            let configuration = Self.configuration {
                $0.mcpResultBudget.textBytes = 4096
                $0.mcpResultBudget.totalBytes = 64 << 10
            }
            try await TestServer.with(configuration) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--scenario", "budgets"])
            }
        }

        @Test func resultBudgetsAreCheckedAtStart() {
            var configuration = Self.configuration()
            configuration.mcpResultBudget.textBytes = 100
            #expect(throws: ConfigurationError.self) { try configuration.validate() }
            do { try configuration.validate() } catch {
                #expect(error.message == "--mcp-result-text-bytes: must be at least 1024, not 100")
            }
            configuration.mcpResultBudget.textBytes = 64 << 10
            configuration.mcpResultBudget.totalBytes = 64 << 10
            do { try configuration.validate() } catch {
                #expect(error.message.hasPrefix("--mcp-result-bytes (65536) must be at least --mcp-result-text-bytes (65536) plus"))
            }
        }

        @Test func httpNeedsTheTokenAndRefusesForeignOrigins() async throws {
            try await TestServer.with(Self.configuration(token: Self.token)) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--token", Self.token, "--scenario", "access"])
            }
        }

        /// Also: an open session keeps its MCP session past the idle timeout.
        @Test
        func httpSessionsKeepStateApartByNameAndReportTheirEnd() async throws {
            try await TestServer.with(Self.configuration(token: Self.token) { $0.idleTimeout = .seconds(1) }) { port in
                try await Self.http(["--url", Self.mcpURL(port), "--token", Self.token, "--scenario", "sessions"])
            }
        }

        /// SIGTERM drains /mcp as it drains WebSockets: the call in flight is
        /// answered, then the MCP sessions end and sandboxd exits 0.
        @Test func sigtermAnswersTheCallInFlightThenExits() async throws {
            let (process, log) = try ShutdownTests.launch([
                "--port", "0", "--workers", "2", "--warm", "1", "--preload", "none", "--shutdown-grace", "10",
            ])
            defer { if process.isRunning { process.terminate() } }
            let port = try await ShutdownTests.listeningPort(in: log)
            try await Self.http([
                "--url", Self.mcpURL(port), "--scenario", "drain", "--server-pid", "\(process.processIdentifier)",
            ])
            let deadline = ContinuousClock.now + .seconds(15)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning && process.terminationStatus == 0)
            let leftovers = await HostProcesses.leftovers()
            #expect(leftovers.isEmpty, "\(leftovers)")
        }

        /// An MCP session holds a connection place, as a WebSocket does, until
        /// it idles out; then its id is unknown (404) and the place is free.
        @Test func idleMCPSessionIsRetiredAndGivesItsConnectionPlaceBack() async throws {
            let configuration = TestServer.configuration {
                $0.idleTimeout = .seconds(1)
                $0.maxConnections = 1
            }
            try await TestServer.with(configuration) { port in
                let first = try await Self.initialize(port)
                #expect(first.status == 200, "\(first)")
                let session = try #require(first.sessionID, "no Mcp-Session-Id in \(first.headers)")
                #expect(try await Self.initialize(port).status == 503, "a second MCP session is over --max-connections")
                try await Task.sleep(for: .seconds(3))
                let ping = try await Self.post(port, #"{"jsonrpc":"2.0","id":2,"method":"ping"}"#, session: session)
                #expect(ping.status == 404, "\(ping)")
                #expect(try await Self.initialize(port).status == 200, "the place is free again")
            }
        }

        // MARK: Helpers

        /// Runs a fixture with the python3 on PATH; it prints "all checks passed" when every check held.
        static func run(_ script: String, _ arguments: [String]) async throws {
            let python = try await pythonWithMCP()
            let result = try await ChildProcess.run(
                python, [fixtures.appendingPathComponent(script).path] + arguments, directory: fixtures, timeout: .seconds(300))
            #expect(result.status == 0 && result.stdout.contains("all checks passed"), "\(result.stdout)\n\(result.stderr)")
        }

        static func stdio(_ arguments: [String]) async throws {
            try await run("stdio_client.py", ["--sandbox", ChildProcess.executable("sandbox")] + arguments)
        }

        static func http(_ arguments: [String]) async throws {
            try await run("http_client.py", arguments)
        }

        /// The python3 on PATH, where scripts/setup --tests installs `mcp`; a
        /// failure that says what to do when it lacks it.
        static func pythonWithMCP() async throws -> String {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
            guard let python = path.split(separator: ":").map({ "\($0)/python3" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
            else { throw TestFailure("no python3 on PATH: the MCP tests need one with the `mcp` package (./scripts/setup --tests)") }
            let check = try await ChildProcess.run(python, ["-c", "import mcp, httpx2, anyio"])
            guard check.status == 0 else {
                throw TestFailure("\(python) cannot import the MCP client: run ./scripts/setup --tests (it pip-installs `mcp`)\n\(check.stderr)")
            }
            return python
        }

        struct Reply: CustomStringConvertible {
            var status: Int
            var headers: [String: String]
            var body: String
            var sessionID: String? { headers.first { $0.key.lowercased() == "mcp-session-id" }?.value }
            var description: String { "\(status) \(headers) \(body)" }
        }

        static func initialize(_ port: Int, headers: [String: String] = [:]) async throws -> Reply {
            try await post(port, headers: headers, """
                {"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},\
                "clientInfo":{"name":"MCPTests","version":"1"}}}
                """)
        }

        static func post(_ port: Int, headers: [String: String] = [:], _ body: String, session: String? = nil) async throws -> Reply {
            var request = URLRequest(url: URL(string: mcpURL(port))!)
            request.httpMethod = "POST"
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue("application/json, text/event-stream", forHTTPHeaderField: "Accept")
            if let session {
                request.setValue(session, forHTTPHeaderField: "Mcp-Session-Id")
                request.setValue("2025-11-25", forHTTPHeaderField: "MCP-Protocol-Version")
            }
            request.httpBody = Data(body.utf8)
            let (data, response) = try await URLSession.shared.data(for: request)
            let http = response as! HTTPURLResponse
            var headers: [String: String] = [:]
            for (name, value) in http.allHeaderFields { headers["\(name)"] = "\(value)" }
            return Reply(status: http.statusCode, headers: headers, body: String(decoding: data, as: UTF8.self))
        }
    }
}
