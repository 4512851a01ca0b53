import Foundation
import SandboxProtocol
import Testing

@testable import SandboxRuntime

/// `pip install` inside a run or a session cell, as root and as an ordinary
/// user: the program's pip asks (a `packages` frame), whoever runs it
/// answers (here the test, as the service would), and a layer mounted into
/// the running sandbox can be imported from the next statement on, in that
/// run or session only, read-only.
extension SandboxSuite {
    @Suite("pip inside a run")
    struct PipInRunTests {
        /// Serves the run's requests with `answer`; returns the requirements each named.
        static func serve(
            _ run: any SandboxRun, with answer: @escaping @Sendable (PackagesWanted) async -> PackagesAnswer
        ) -> Task<[[String]], Never> {
            Task {
                var asked: [[String]] = []
                for await wanted in run.packageRequests {
                    asked.append(wanted.requirements)
                    wanted.answer(await answer(wanted))
                }
                return asked
            }
        }

        /// Mounts the shared layer, as the service mounts the set it installed.
        static let mountingTheLayer: @Sendable (PackagesWanted) async -> PackagesAnswer = { wanted in
            guard let layer = try? await SharedPackageLayer.get() else {
                return .refused(code: -32008, reason: "unavailable", requirement: nil, message: "no layer")
            }
            if let reason = await wanted.mount(layer) {
                return .refused(code: -32008, reason: "unavailable", requirement: nil, message: reason)
            }
            return .installed(layer.packages)
        }

        static func request(_ code: String) -> RunRequest {
            var request = RunRequest(code: code)
            request.answersPip = true
            return request
        }

        @Test(arguments: [ServiceMode.root, .ordinaryUser])
        func pipInAChildProcessMountsTheSetForThisRunOnly(_ mode: ServiceMode) async throws {
            let sandbox = try await mode.sandbox()
            let code = """
                import subprocess, sys
                try:
                    import tinytop
                except ModuleNotFoundError:
                    print("not yet")
                done = subprocess.run([sys.executable, "-m", "pip", "install", "TinyTop>=1", "-q"], capture_output=True, text=True)
                print(done.returncode, done.stdout.splitlines()[-1])
                import tinytop
                print(tinytop.DESCRIPTION, tinytop.__file__)
                try:
                    open("/opt/pysandbox/packages/planted.py", "w")
                except OSError as error:
                    print("read-only:", error.errno == 30)
                """
            let run = try sandbox.start(Self.request(code))
            let asked = Self.serve(run, with: Self.mountingTheLayer)
            let result = await CollectedRun.collect(run)
            #expect(result.verdict.status == .ok, "\(result.combined)")
            #expect(result.stdout == """
                not yet
                0 Successfully installed tinyleaf-2.0 tinytop-1.0
                top on leaf 2.0 /opt/pysandbox/packages/tinytop/__init__.py
                read-only: True

                """, "\(result.combined)")
            #expect(await asked.value == [["TinyTop>=1"]])

            // The next run of the same fork server sees nothing of it.
            let next = try await sandbox.collect(
                "import os\nprint(os.listdir('/opt/pysandbox/packages'))\ntry:\n    import tinytop\nexcept ModuleNotFoundError as error:\n    print(error)")
            #expect(next.stdout == "[]\nNo module named 'tinytop'\n", "\(next.combined)")
        }

        @Test(arguments: [ServiceMode.rootSession, .ordinaryUserSession])
        func percentPipInACellServesTheRestOfTheSession(_ mode: ServiceMode) async throws {
            let session = try await mode.sandbox().openSession(limits: SessionLimits())
            defer { session.close() }
            #expect(await session.ready())
            let cell = try session.start(Self.request("%pip install tinytop\nimport tinytop"))
            let asked = Self.serve(cell, with: Self.mountingTheLayer)
            let installed = await CollectedRun.collect(cell)
            #expect(installed.verdict.status == .ok, "\(installed.combined)")
            #expect(installed.stdout.contains("Successfully installed tinyleaf-2.0 tinytop-1.0"), "\(installed.combined)")
            #expect(await asked.value == [["tinytop"]])
            let later = try await session.collect("print(tinytop.DESCRIPTION)\nimport tinyleaf\nprint(tinyleaf.VERSION)")
            #expect(later.stdout == "top on leaf 2.0\n2.0\n", "\(later.combined)")
        }

        /// A refusal is pip's error and exit status; the program goes on, and the hint says how to ask.
        @Test func aRefusalIsPipsErrorAndTheProgramGoesOn() async throws {
            let sandbox = try await SharedSandbox.get()
            let code = """
                import os
                print(os.system("pip install nosuchpackage"))
                import nosuchpackage
                """
            let run = try sandbox.start(Self.request(code))
            let asked = Self.serve(run) { _ in
                .refused(code: -32008, reason: "unknownPackage", requirement: "nosuchpackage", message: "Packages unavailable: no package named 'nosuchpackage'")
            }
            let result = await CollectedRun.collect(run)
            #expect(await asked.value == [["nosuchpackage"]])
            #expect(result.verdict.status == .error)
            #expect(result.stdout.hasSuffix("256\n"), "pip exits 1: \(result.combined)")
            #expect(result.stderr.contains("ERROR: Packages unavailable: no package named 'nosuchpackage' (unknownPackage: nosuchpackage)"), "\(result.combined)")
            #expect(result.stderr.contains("No module named 'nosuchpackage'"))
        }

        /// Options that would change where packages come from are refused by
        /// pip itself; nothing is asked of the service.
        @Test func optionsThatChooseFilesAreRefusedBeforeAsking() async throws {
            let sandbox = try await SharedSandbox.get()
            let code = """
                import subprocess, sys
                for args in (["install", "--index-url", "https://example.com", "x"], ["install", "-e", "."], ["uninstall", "x"]):
                    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
                    print(done.returncode, done.stderr.strip().splitlines()[-1])
                """
            let run = try sandbox.start(Self.request(code))
            let asked = Self.serve(run, with: Self.mountingTheLayer)
            let result = await CollectedRun.collect(run)
            #expect(result.verdict.status == .ok, "\(result.combined)")
            #expect(await asked.value.isEmpty)
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 3 && lines[0].hasPrefix("2 ERROR: the option --index-url is not available here"), "\(lines)")
            #expect(lines.count == 3 && lines[1].hasPrefix("2 ERROR: the option -e is not available here"), "\(lines)")
            #expect(lines.count == 3 && lines[2].hasPrefix("1 ERROR: pip uninstall is not available here"), "\(lines)")
        }

        /// With `--isolation exec` a running program cannot be given a layer
        /// (there is no slot to mount it through): pip says so, and says what works.
        @Test func execIsolationSaysWhy() async throws {
            let sandbox = try await SharedSandbox.execIsolation()
            let run = try sandbox.start(Self.request("import os\nos.system('pip install tinytop')"))
            let asked = Self.serve(run, with: Self.mountingTheLayer)
            let result = await CollectedRun.collect(run)
            #expect(await asked.value.isEmpty)
            #expect(result.stderr.contains("--isolation exec); name them in the run's packages instead"), "\(result.combined)")
        }

        /// A program that forges pip's frames gets answers only for itself,
        /// within its budget: past 16 requests it is told no more.
        @Test func forgedRequestsAreBoundedPerRun() async throws {
            let sandbox = try await SharedSandbox.get()
            let code = """
                import os, pip
                pid, answers, nonce = os.environ["SANDBOX_PIP_CHANNEL"].split()
                results = [pip._ask(["tinytop"]) for _ in range(18)]
                print([result["ok"] for result in results].count(True), results[-1]["message"])
                """
            let run = try sandbox.start(Self.request(code))
            let asked = Self.serve(run) { _ in .installed([]) }
            let result = await CollectedRun.collect(run)
            #expect(result.verdict.status == .ok, "\(result.combined)")
            #expect(await asked.value.count == PackagesRequests.maxRequests)
            #expect(result.stdout.hasPrefix("16 this run has asked for packages 16 times"), "\(result.combined)")
        }
    }
}
