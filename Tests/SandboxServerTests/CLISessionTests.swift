import Foundation
import TestSupport
import Testing

/// `sandbox repl` and `sandbox run --session` against a live sandboxd.
extension SandboxSuite {
    @Suite("sandbox CLI sessions")
    struct CLISessionTests {
        static let packageRoot = Checkout.root
        /// Drives the REPL through a real pseudo-terminal (Python's pty module).
        static let ptyScript = packageRoot.appendingPathComponent("Tests/Fixtures/cli/repl_pty.py").path

        static func url(_ port: Int) -> String { CLITests.url(port) }

        /// Names survive from line to line, a block continues on '... ',
        /// an expression shows its value, Ctrl-C interrupts a loop and keeps
        /// the session, Up recalls a line, Ctrl-D exits 0.
        @Test func replAtATerminal() async throws {
            // The pyenv python3 on PATH, as the machine's people run it.
            try await drivePty(python: "python3", timeout: .seconds(240))
        }

        /// SIGTERM while a snippet runs: the REPL closes the session and
        /// leaves the terminal as it was (not raw), and exits 143.
        @Test func replEndsCleanlyOnSIGTERM() async throws {
            try await drivePty(scenario: "terminate", python: "python3")
        }

        /// A line longer than the terminal is wide takes two rows and is
        /// redrawn over them as it is edited (the screen rendered by pyte).
        @Test func replEditsALineWiderThanTheTerminal() async throws {
            // Debian's python3, which has python3-pyte (scripts/setup --tests).
            try await drivePty(scenario: "narrow", python: "/usr/bin/python3")
        }

        /// Tab completes a name of the session (`my_va` → `my_variable`,
        /// `math.sq` → `math.sqrt`) or lists several with their shared start;
        /// Enter after `for …:` gives a continuation line 4 spaces in, and an
        /// empty line runs the loop (the service's code/complete and
        /// code/isComplete; the screen rendered by pyte).
        @Test func replCompletesAndIndentsAsTheServiceSays() async throws {
            try await drivePty(scenario: "assist", python: "/usr/bin/python3")
        }

        /// Runs repl_pty.py's `scenario` against a live sandboxd; it prints
        /// "all checks passed", or the terminal's transcript and why not.
        private func drivePty(scenario: String? = nil, python: String, timeout: Duration = .seconds(120)) async throws {
            try await TestServer.with { port in
                let arguments = [python, Self.ptyScript, ChildProcess.executable("sandbox"), Self.url(port)] + (scenario.map { [$0] } ?? [])
                let result = try await ChildProcess.run("/usr/bin/env", arguments, timeout: timeout)
                #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
                #expect(result.stdout.contains("all checks passed"), "\(result.stdout)")
            }
        }

        /// Piped lines follow the same rules, without prompts.
        @Test func replReadsPipedLines() async throws {
            try await TestServer.with { port in
                let lines = "x = 2\nfor i in range(2):\n    print(i * x)\n\nx * 10\nimport sys; print('oops', file=sys.stderr)\nx + 1"
                let result = try await ChildProcess.run("sandbox", ["repl", "--url", Self.url(port)], input: .pipe(lines))
                #expect(result.status == 0, "\(result)")
                #expect(result.stdout == "0\n2\n20\n3\n", "\(result)")
                #expect(result.stderr == "oops\n", "\(result)")
            }
        }

        /// Piped lines were written for the state that is gone: a session
        /// that ends by itself stops the REPL with 125.
        @Test func pipedReplStopsWhenTheSessionEnds() async throws {
            try await TestServer.with { port in
                let lines = "print('before')\nimport os; os._exit(3)\nprint('after')\n"
                let result = try await ChildProcess.run("sandbox", ["repl", "--url", Self.url(port)], input: .pipe(lines))
                #expect(result.status == 125, "\(result)")
                #expect(result.stdout == "before\n", "\(result)")
                #expect(result.stderr.contains("the session ended (crashed)"), "\(result)")
            }
        }

        @Test func runSessionSharesNamesAndStopsAtTheFirstFailure() async throws {
            let files = [
                "a.py": "greeting = 'hello from a'\nprint('a ran')\n",
                "b.py": "print(greeting.upper())\n",
                "fails.py": "raise SystemExit(3)\n",
            ]
            try await CLITests.withFolder(files) { folder in
                try await TestServer.with { port in
                    let shared = try await ChildProcess.run("sandbox", ["run", "--session", "--url", Self.url(port), "a.py", "b.py"], directory: folder)
                    #expect(shared.status == 0, "\(shared)")
                    #expect(shared.stdout.contains("==> a.py <==\na ran\n"), "\(shared.stdout)")
                    #expect(shared.stdout.contains("==> b.py <==\nHELLO FROM A\n"), "\(shared.stdout)")

                    let stopped = try await ChildProcess.run(
                        "sandbox", ["run", "--session", "--url", Self.url(port), "a.py", "fails.py", "b.py"], directory: folder)
                    #expect(stopped.status == 3, "\(stopped)")
                    #expect(!stopped.stdout.contains("HELLO"), "\(stopped.stdout)")
                    #expect(stopped.stderr.contains("stopped after fails.py: not run: b.py"), "\(stopped.stderr)")

                    // Without --session each file has its own interpreter.
                    let apart = try await ChildProcess.run("sandbox", ["run", "-q", "--url", Self.url(port), "a.py", "b.py"], directory: folder)
                    #expect(apart.status == 1 && apart.stdout.contains("NameError") == false && apart.stderr.contains("NameError"), "\(apart)")
                }
            }
        }
    }
}
