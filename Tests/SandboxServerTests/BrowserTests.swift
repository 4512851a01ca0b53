import Foundation
import SandboxRuntime
import SandboxServer
import TestSupport
import Testing

/// The web editor at GET /, driven like a person in headless Chromium by
/// Tests/Fixtures/browser/editor_test.py; for displays and returned
/// files, display_test.py; for Keep variables (sessions), session_test.py; for the page as a terminal
/// (ANSI, `\r`, input focus, files sent, output limit, stop keys), terminal_test.py; for completion, help and
/// cells, assist_test.py (Debian's chromium,
/// chromium-driver and python3-selenium, which scripts/setup installs).
extension SandboxSuite {
    @Suite("web editor in Chromium")
    struct BrowserTests {
        static let packageRoot = Checkout.root
        static let script = packageRoot.appendingPathComponent("Tests/Fixtures/browser/editor_test.py").path
        static let displayScript = packageRoot.appendingPathComponent("Tests/Fixtures/browser/display_test.py").path
        static let sessionScript = packageRoot.appendingPathComponent("Tests/Fixtures/browser/session_test.py").path
        static let terminalScript = packageRoot.appendingPathComponent("Tests/Fixtures/browser/terminal_test.py").path
        static let packageScript = packageRoot.appendingPathComponent("Tests/Fixtures/browser/package_test.py").path
        static let assistScript = packageRoot.appendingPathComponent("Tests/Fixtures/browser/assist_test.py").path
        static let quotaScript = packageRoot.appendingPathComponent("Tests/Fixtures/browser/quota_test.py").path
        /// Screenshots are kept for people to look at (CI artifacts).
        static let artifacts = packageRoot.appendingPathComponent(".build/artifacts")

        @Test func editorRunsStreamsAnswersInputStopsAndLinksTracebacks() async throws {
            try await drive(expectingFallback: false, screenshot: "editor.png")
        }

        /// Also: a server with a token, which the page takes from its address.
        @Test func plainTextareaWhenCodeMirrorIsMissingAndATokenFromTheAddress() async throws {
            try await drive(expectingFallback: true, token: "page-token", screenshot: "editor-fallback.png")
        }

        /// No keepalive: an open page is closed at the server's idle timeout,
        /// says so, and reconnects only when Run is clicked.
        @Test func idlePageIsClosedAndReconnectsOnRun() async throws {
            try await drive(expectingFallback: false, idleTimeoutSeconds: 2, screenshot: "editor-idle.png")
        }

        /// A plot between the lines printed around it and a DataFrame in a
        /// sandboxed frame (editor-displays.png); a returned file as a
        /// download link; hostile displays (<script>, onerror=, javascript:
        /// and target=_top links, a scripted SVG, a 50 MB image) change
        /// nothing outside their frames (editor-displays-hostile.png).
        @Test func displaysPlotsTablesAndFilesAndConfinesHostileDisplays() async throws {
            try await drive(script: Self.displayScript, expectingFallback: false, screenshot: "editor-displays.png")
        }

        /// The page behaves like a terminal: ANSI colours and bold as styled
        /// spans, other escapes dropped (also split across messages), a `\r`
        /// progress bar as one line, 100,000 coloured lines; files chosen
        /// with the file chooser (text and binary) reach the program; the
        /// output limit field; Ctrl+. and Ctrl+C stop a run; the status
        /// line's memory figures; the input line takes the focus at input()
        /// (run/stdinWanted) and typing in the output goes there
        /// (editor-terminal.png: a tqdm-style bar and coloured output).
        @Test func terminalOutputInputFocusFilesOutputLimitAndStopKeys() async throws {
            try await drive(script: Self.terminalScript, expectingFallback: false, screenshot: "editor-terminal.png")
        }

        /// Keep variables on: a name set by one run is there in the next;
        /// Restart forgets it; Stop interrupts a run and the session keeps its
        /// names; a connection cut by a TCP relay ends the session, the page
        /// says so and reconnects, and its next run has a new session; turned
        /// off, runs are fresh (editor-session.png).
        @Test func keepVariablesRestartStopAndToggleOff() async throws {
            try await drive(script: Self.sessionScript, expectingFallback: false, screenshot: "editor-session.png")
        }

        /// Completion while typing (CodeMirror's show-hint, served by sandboxd, with `code/complete`):
        /// `math.` offers sqrt, a function, more of the name filters without asking again, Tab inserts it, with
        /// an emoji before the cursor (code points); with Keep variables, Ctrl+Space after `my_lo` offers the
        /// session's variable (editor-assist.png); Shift+Tab on `len(` shows its docstring (`code/inspect`),
        /// Escape closes it (editor-assist-inspect.png); with Keep variables runs stack up as cells, Clear
        /// empties them, a verdict's rolledBack is said in its cell (editor-assist-cells.png).
        @Test func completionHelpAndCells() async throws {
            try await drive(script: Self.assistScript, expectingFallback: false, screenshot: "editor-assist.png")
        }

        /// A session that ends by itself (here at a 2 s idle timeout) is
        /// announced with why, and the next run starts a new one.
        @Test func sessionThatEndsByItselfIsAnnounced() async throws {
            try await drive(script: Self.sessionScript, expectingFallback: false, sessionIdleTimeoutMs: 2000,
                            screenshot: "editor-session-ended.png")
        }

        /// A server without sessions (`--isolation exec`) shows no toggle,
        /// and a toggle left on from another server keeps nothing.
        @Test func noSessionsWithExecIsolation() async throws {
            try await drive(script: Self.sessionScript, expectingFallback: false, isolation: .exec,
                            screenshot: "editor-no-sessions.png")
        }

        /// The Packages field: typed into, a run imports tinytop after "Installing packages…"; remembered
        /// across a reload; a refusal's reason and requirement in the output area; a session opened with the
        /// set, and a new one when the field changes (editor-packages.png).
        @Test func packagesFieldInstallsImportsAndIsRemembered() async throws {
            try await drive(script: Self.packageScript, expectingFallback: false, packages: try PackageTestFolder(),
                            screenshot: "editor-packages.png")
        }

        /// A server with packages off: the field is disabled, with a title saying why.
        @Test func packagesFieldIsDisabledWhereNoneAreOffered() async throws {
            try await drive(script: Self.packageScript, expectingFallback: false, extraArguments: ["--expect-no-packages"],
                            screenshot: "editor-no-packages.png")
        }

        /// A tenant's spent daily CPU quota: the page says which quota, when it resets and how long until then.
        @Test func aSpentQuotaIsSaidInWords() async throws {
            let tenants = #"{"tenants": [{"name": "class", "token": "class-token-0001", "cpuSecondsPerDay": 1}]}"#
            let directory = TenantDirectory(
                try TenantsFile.parse(Array(tenants.utf8), file: "tenants.json", serverMaxima: TestServer.configuration().tenantMaxima))
            try await drive(script: Self.quotaScript, expectingFallback: false, token: "class-token-0001", screenshot: "editor-quota.png") {
                $0.access.tenants = directory
                $0.access.tokens = []
            }
        }

        private func drive(script: String = Self.script, expectingFallback: Bool, token: String? = nil,
                           idleTimeoutSeconds: Int? = nil, sessionIdleTimeoutMs: Int? = nil,
                           isolation: Isolation = .fork, packages: PackageTestFolder? = nil, extraArguments: [String] = [],
                           screenshot: String, configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) async throws {
            for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] where !FileManager.default.isExecutableFile(atPath: tool) {
                throw TestFailure("\(tool) is missing: run ./scripts/setup (apt install chromium chromium-driver python3-selenium)")
            }
            try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
            let adjust = { (configuration: inout ServerConfiguration) in
                if expectingFallback { configuration.codeMirrorPath = "/nonexistent/codemirror" }
                if let token { configuration.access.tokens = [token] }
                if let idleTimeoutSeconds { configuration.idleTimeout = .seconds(idleTimeoutSeconds) }
                if let sessionIdleTimeoutMs { configuration.sessionIdleTimeoutMs.default = sessionIdleTimeoutMs }
                configuration.sandbox.isolation = isolation
                configure(&configuration)
            }
            let configuration = try packages.map { try PackageServerTests.configuration($0, adjust) } ?? TestServer.configuration(adjust)
            try await TestServer.with(configuration) { port in
                var arguments = [script, "--url", "http://127.0.0.1:\(port)/",
                                 "--screenshot", Self.artifacts.appendingPathComponent(screenshot).path]
                if expectingFallback { arguments.append("--expect-fallback") }
                if let token { arguments += ["--token", token] }
                if let idleTimeoutSeconds { arguments += ["--idle-timeout", "\(idleTimeoutSeconds)"] }
                if let sessionIdleTimeoutMs { arguments += ["--session-idle-timeout-ms", "\(sessionIdleTimeoutMs)"] }
                if isolation == .exec { arguments.append("--expect-no-sessions") }
                arguments += extraArguments
                let result = try await ChildProcess.run("/usr/bin/python3", arguments, timeout: .seconds(300))
                #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
                #expect(result.stdout.contains("all checks passed"), "\(result.stdout)")
            }
        }
    }
}
