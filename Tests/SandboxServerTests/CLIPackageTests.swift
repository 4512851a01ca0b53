import Foundation
import SandboxProtocol
import SandboxServer
import Testing

/// `sandbox run --package/--requirements`, `sandbox repl --package` and
/// `sandbox info` against a live sandboxd whose packages come from the
/// wheels the tests build (PackageServerTests.configuration): tinytop (on
/// tinyleaf), sdistonly (no wheel).
extension SandboxSuite {
    @Suite("sandbox CLI: packages")
    struct CLIPackageTests {
        static let code = "import tinytop\nprint(tinytop.DESCRIPTION)"
        static let ptyScript = CLISessionTests.packageRoot.appendingPathComponent("Tests/Fixtures/cli/pty_run.py").path

        static func url(_ port: Int) -> String { CLITests.url(port) }

        static func messages(_ stdout: String) throws -> [JSONValue] {
            try stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        }

        @Test func packageAndRequirementsFileAreInstalledAndImported() async throws {
            let folder = try PackageTestFolder()
            let requirements = "# what the program imports\n\ntinytop   # the top, on tinyleaf\n"
            try await CLITests.withFolder(["requirements.txt": requirements, "main.py": Self.code]) { directory in
                try await TestServer.with(try PackageServerTests.configuration(folder)) { port in
                    // The first run installs the set: --json shows the packages sent and `installing` before `running`.
                    let first = try await ChildProcess.run(
                        "sandbox", ["run", "--json", "--url", Self.url(port), "--package", "tinytop", "-c", Self.code])
                    #expect(first.status == 0, "\(first)")
                    let messages = try Self.messages(first.stdout)
                    #expect(messages.first { $0["method"] == "run" }?["params"]?["packages"] == ["tinytop"], "\(first.stdout)")
                    let states = messages.filter { $0["method"] == "run/status" }.compactMap { $0["params"]?["state"]?.stringValue }
                    #expect(states.first == "installing" && states.last == "running", "\(states)")

                    let fromOption = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--package", "TinyTop>=1", "-c", Self.code])
                    #expect(fromOption.status == 0 && fromOption.stdout == "top on leaf 2.0\n", "\(fromOption)")
                    // Not a terminal: no status line on stderr.
                    #expect(fromOption.stderr.isEmpty, "\(fromOption.stderr)")

                    let fromFile = try await ChildProcess.run(
                        "sandbox", ["run", "--url", Self.url(port), "--requirements", "requirements.txt", "main.py"], directory: directory)
                    #expect(fromFile.status == 0 && fromFile.stdout == "top on leaf 2.0\n", "\(fromFile)")

                    // Both together: the file's tinytop on the option's older tinyleaf.
                    let both = try await ChildProcess.run("sandbox", [
                        "run", "--url", Self.url(port), "--requirements", "requirements.txt", "--package", "tinyleaf<2", "-c", Self.code,
                    ], directory: directory)
                    #expect(both.status == 0 && both.stdout == "top on leaf 1.0\n", "\(both)")

                    // Without packages, the run sees none.
                    let without = try await ChildProcess.run("sandbox", ["run", "-q", "--url", Self.url(port), "-c", Self.code])
                    #expect(without.status == 1 && without.stderr.contains("No module named 'tinytop'"), "\(without)")
                }
            }
        }

        /// With --session (and in the REPL) the packages go with session/open, none with the runs.
        @Test func aSessionIsOpenedWithThePackages() async throws {
            let folder = try PackageTestFolder()
            let files = ["a.py": "import tinytop", "b.py": "print(tinytop.DESCRIPTION)"]
            try await CLITests.withFolder(files) { directory in
                try await TestServer.with(try PackageServerTests.configuration(folder)) { port in
                    let result = try await ChildProcess.run(
                        "sandbox", ["run", "--session", "--json", "--url", Self.url(port), "--package", "tinytop", "a.py", "b.py"],
                        directory: directory)
                    #expect(result.status == 0, "\(result)")
                    let messages = try Self.messages(result.stdout)
                    #expect(messages.first { $0["method"] == "session/open" }?["params"]?["packages"] == ["tinytop"], "\(result.stdout)")
                    let runs = messages.filter { $0["method"] == "run" }
                    #expect(runs.count == 2 && runs.allSatisfy { $0["params"]?["packages"] == nil }, "\(runs)")
                    let printed = messages.filter { $0["method"] == "run/output" }.compactMap { $0["params"]?["text"]?.stringValue }.joined()
                    #expect(printed == "top on leaf 2.0\n", "\(result.stdout)")

                    let repl = try await ChildProcess.run(
                        "sandbox", ["repl", "--url", Self.url(port), "--package", "tinytop"],
                        input: .pipe("import tinytop\nprint(tinytop.DESCRIPTION)\n"))
                    #expect(repl.status == 0 && repl.stdout == "top on leaf 2.0\n", "\(repl)")

                    let refused = try await ChildProcess.run(
                        "sandbox", ["run", "--session", "--url", Self.url(port), "--package", "nosuchpackage", "a.py"], directory: directory)
                    #expect(refused.status == 65, "\(refused)")
                    #expect(refused.stderr.contains("the service cannot provide the session's packages: Packages unavailable:"), "\(refused.stderr)")
                    #expect(refused.stderr.contains("reason: unknownPackage, requirement: nosuchpackage"), "\(refused.stderr)")
                }
            }
        }

        /// Each refusal prints the service's message with its reason and
        /// requirement, runs nothing, and exits 65 (the request) or 69 (the service).
        @Test func packagesTheServiceCannotProvideExitWithTheirStatus() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try PackageServerTests.configuration(folder)) { port in
                for (package, reason) in [("nosuchpackage", "unknownPackage"), ("sdistonly", "noWheel"), ("tinytop==9.9", "noSuchVersion")] {
                    let result = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--package", package, "-c", "print('ran')"])
                    #expect(result.status == 65, "\(package): \(result)")
                    #expect(result.stdout.isEmpty, "\(package): \(result)")
                    #expect(result.stderr.hasPrefix("sandbox: the service cannot provide the run's packages: Packages unavailable: "), "\(result.stderr)")
                    #expect(result.stderr.contains("[reason: \(reason), requirement: \(package)]"), "\(result.stderr)")
                }
            }
            // A server with packages off: refused before anything is sent, 69.
            try await TestServer.with { port in
                let result = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--package", "tinytop", "-c", "print('ran')"])
                #expect(result.status == 69 && result.stdout.isEmpty, "\(result)")
                #expect(result.stderr.contains("installs no packages: --package and --requirements cannot be used with it"), "\(result.stderr)")
            }
        }

        /// A requirements file's bad line is refused before anything is sent
        /// (here there is no service: it would say it cannot connect), naming FILE:LINE.
        @Test func aBadRequirementIsRefusedBeforeAnythingIsSent() async throws {
            let port = try CLITests.closedPort()
            let cases: [(String, String)] = [
                ("tinytop\n-r other.txt\n", "requirements.txt:2: the option '-r' is not accepted"),
                ("tinytop\n\n--index-url=https://example.com/simple\n", "requirements.txt:3: the option '--index-url' is not accepted"),
                ("# top\ntinytop @ https://example.com/tinytop.whl\n", "requirements.txt:2: requirement 'tinytop @ https://example.com/tinytop.whl' refused: URLs"),
                ("tinytop; python_version < '3.8'\n", "requirements.txt:1: requirement 'tinytop; python_version < '3.8'' refused: environment markers"),
                ("./local/pkg\n", "requirements.txt:1: requirement './local/pkg' refused: paths"),
                ("tinytop\nTinyTop>=1\n", "requirements.txt:2: tinytop is named already (requirements.txt:1)"),
            ]
            for (text, message) in cases {
                try await CLITests.withFolder(["requirements.txt": text]) { directory in
                    let result = try await ChildProcess.run(
                        "sandbox", ["run", "--url", Self.url(port), "--requirements", "requirements.txt", "-c", "print(1)"], directory: directory)
                    #expect(result.status == 65, "\(text): \(result)")
                    #expect(result.stderr.hasPrefix("sandbox: \(message)"), "\(text): \(result.stderr)")
                    #expect(!result.stderr.contains("cannot connect"), "\(text): \(result.stderr)")
                }
            }
            let option = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--package=-e .", "-c", "print(1)"])
            #expect(option.status == 65 && option.stderr.hasPrefix("sandbox: --package '-e .': requirement '-e .' refused: installer options"), "\(option)")
            let missing = try await ChildProcess.run("sandbox", ["repl", "--url", Self.url(port), "--requirements", "/nonexistent/requirements.txt"])
            #expect(missing.status == 66 && missing.stderr.contains("/nonexistent/requirements.txt: does not exist"), "\(missing)")
        }

        /// At a terminal, a status line while the set installs, erased before the output.
        @Test func aStatusLineAtATerminalWhileInstalling() async throws {
            let folder = try PackageTestFolder()
            try await TestServer.with(try PackageServerTests.configuration(folder)) { port in
                let result = try await ChildProcess.run("/usr/bin/python3", [
                    Self.ptyScript, ChildProcess.executable("sandbox"), "run", "--url", Self.url(port), "--package", "tinytop", "-c", Self.code,
                ])
                #expect(result.status == 0, "\(result)")
                #expect(result.stdout.contains("\r\u{1B}[Ksandbox: installing packages: tinytop…\r\u{1B}[Ktop on leaf 2.0"), "\(result.stdout.debugDescription)")
            }
        }

        @Test func infoSaysWhetherPackagesAreOffered() async throws {
            let folder = try PackageTestFolder()
            let configuration = try PackageServerTests.configuration(folder) { $0.packages.allowed = .only(["tinyleaf", "tinytop"]) }
            try await TestServer.with(configuration) { port in
                let info = try await ChildProcess.run("sandbox", ["info", "--url", Self.url(port)])
                #expect(info.status == 0, "\(info)")
                #expect(info.stdout.contains("packages      offered (--package, --requirements), from the operator's folder of wheels\n"), "\(info.stdout)")
                #expect(info.stdout.contains("              at most 32 requirements of 200 characters a run; a set installs at most"), "\(info.stdout)")
                #expect(info.stdout.contains("              only: tinyleaf, tinytop\n"), "\(info.stdout)")
            }
            try await TestServer.with { port in
                let info = try await ChildProcess.run("sandbox", ["info", "--url", Self.url(port)])
                #expect(info.stdout.contains("packages      not offered: this service installs no packages"), "\(info.stdout)")
            }
        }
    }
}
