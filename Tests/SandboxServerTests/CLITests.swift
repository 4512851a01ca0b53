import Foundation
import SandboxProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `sandbox` CLI against a live sandboxd.
extension SandboxSuite {
    @Suite("sandbox CLI")
    struct CLITests {
        static func url(_ port: Int) -> String { "ws://127.0.0.1:\(port)/v1/ws" }

        /// A scratch folder with `files` in it, removed afterwards.
        static func withFolder<T>(_ files: [String: String], _ body: (URL) async throws -> T) async throws -> T {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-cli-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            for (name, text) in files {
                let file = folder.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try text.write(to: file, atomically: true, encoding: .utf8)
            }
            return try await body(folder)
        }

        @Test func streamsStdoutAndStderrApartAndExitsWithTheProgramsCode() async throws {
            try await TestServer.with { port in
                let code = "import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nsys.exit(3)"
                let result = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-c", code])
                #expect(result.status == 3)
                #expect(result.stdout == "to out\n")
                #expect(result.stderr.hasPrefix("to err\n"))
                #expect(result.stderr.contains("sandbox: error, exit code 3"), "\(result.stderr)")

                let quiet = try await ChildProcess.run("sandbox", ["run", "-q", "--url", Self.url(port), "-c", code])
                #expect(quiet.status == 3 && quiet.stderr == "to err\n", "\(quiet.stderr)")

                let fine = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-c", "print(6 * 7)"])
                #expect(fine.status == 0 && fine.stdout == "42\n" && fine.stderr.isEmpty, "\(fine)")
            }
        }

        @Test func urlComesFromTheEnvironmentAndInfoPrintsTheLimits() async throws {
            try await TestServer.with { port in
                let info = try await ChildProcess.run("sandbox", ["info"], environment: ["SANDBOX_URL": Self.url(port)])
                #expect(info.status == 0)
                #expect(info.stdout.contains("sandboxd") && info.stdout.contains("python        3."), "\(info.stdout)")
                #expect(info.stdout.contains("timeout       10 s by default, at most 60 s (--timeout)"), "\(info.stdout)")
                #expect(info.stdout.contains("output        1 MiB by default, at most 16 MiB (--output-limit)"), "\(info.stdout)")

                let json = try await ChildProcess.run("sandbox", ["info", "--json", "--url", Self.url(port)])
                let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
                #expect(value["protocolVersion"] == 1)
                #expect(value["limits"]?["memoryMb"]?["max"] == 1024)
            }
        }

        @Test func fileArgumentWithExtraFilesAndStdinFromAFile() async throws {
            let files = [
                "main.py": "print(open('data/words.txt').read().upper(), end='')\nprint(input()[::-1])",
                "words.txt": "hello\n",
                "input.txt": "abc\n",
            ]
            try await Self.withFolder(files) { folder in
                try await TestServer.with { port in
                    let result = try await ChildProcess.run("sandbox", [
                        "run", "--url", Self.url(port), "--file", "data/words.txt=words.txt", "--stdin", "input.txt", "main.py",
                    ], directory: folder)
                    #expect(result.status == 0, "\(result.stderr)")
                    #expect(result.stdout == "HELLO\ncba\n")
                }
            }
        }

        @Test func forwardsAPipedStdinAndReadsAProgramFromStdin() async throws {
            try await TestServer.with { port in
                let echoed = try await ChildProcess.run(
                    "sandbox", ["run", "--url", Self.url(port), "-c", "print(input())\nprint(input())"], input: .pipe("bob\nalice\n"))
                #expect(echoed.status == 0 && echoed.stdout == "bob\nalice\n", "\(echoed)")

                // /dev/null is neither a terminal nor a pipe: the program's stdin is closed.
                let closed = try await ChildProcess.run("sandbox", ["run", "-q", "--url", Self.url(port), "-c", "input()"])
                #expect(closed.status == 1 && closed.stderr.contains("EOFError"), "\(closed)")

                let fromStdin = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-"], input: .pipe("print(2 ** 10)\n"))
                #expect(fromStdin.status == 0 && fromStdin.stdout == "1024\n", "\(fromStdin)")
            }
        }

        @Test func exitStatusOfEachVerdict() async throws {
            try await TestServer.with { port in
                let timeout = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--timeout", "0.5", "-c", "while True: pass"])
                #expect(timeout.status == 124 && timeout.stderr.contains("sandbox: time limit ("), "\(timeout)")

                let memory = try await ChildProcess.run("sandbox", [
                    "run", "--url", Self.url(port), "--memory", "64", "-c", "chunks = []\nwhile True: chunks.append(bytearray(1 << 20))",
                ])
                // Without a memory cgroup (not root), RLIMIT_AS makes Python raise MemoryError instead.
                #expect(memory.status == 137 || (memory.status == 1 && memory.stderr.contains("MemoryError")), "\(memory)")

                let killed = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
                #expect(killed.status == 125 && killed.stderr.contains("killed by signal 11"), "\(killed)")

                let rejected = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--memory", "99999", "-c", "print(1)"])
                #expect(rejected.status == 65, "\(rejected)")
                #expect(rejected.stderr == "sandbox: --memory 99999 MiB is above the service's maximum of 1024 MiB\n", "\(rejected.stderr)")

                let missing = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "/nonexistent/program.py"])
                #expect(missing.status == 66 && missing.stderr.contains("/nonexistent/program.py: does not exist"), "\(missing)")
            }
        }

        @Test func outputLimitExitsWith125() async throws {
            let configuration = TestServer.configuration { $0.maxOutputBytes = .init(default: 1000, max: 1000) }
            try await TestServer.with(configuration) { port in
                let result = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-c", "print('x' * 5000)"])
                #expect(result.status == 125 && result.stderr.contains("sandbox: output limit"), "\(result)")
                #expect(result.stderr.contains("output truncated") && !result.stderr.contains("outputLimit"), "\(result.stderr)")
                #expect(result.stdout.utf8.count <= 1000)
            }
        }

        @Test func tokenFromTheEnvironmentOrTheOption() async throws {
            try await TestServer.with(TestServer.configuration { $0.access.tokens = ["cli-token"] }) { port in
                let refused = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-c", "print(1)"])
                #expect(refused.status == 77 && refused.stderr.contains("refused, HTTP 401"), "\(refused)")
                #expect(refused.stderr.contains("a token is required"), "\(refused)")
                let fromEnvironment = try await ChildProcess.run(
                    "sandbox", ["run", "--url", Self.url(port), "-c", "print(1)"], environment: ["SANDBOX_TOKEN": "cli-token"])
                #expect(fromEnvironment.status == 0 && fromEnvironment.stdout == "1\n", "\(fromEnvironment)")
                let fromOption = try await ChildProcess.run("sandbox", ["info", "--token", "cli-token", "--url", Self.url(port)])
                #expect(fromOption.status == 0, "\(fromOption)")
            }
        }

        /// `--test IN[:EXPECTED]` and `--tests DIR` run one program against
        /// each input as one run's tests: a line per test, a summary, and 0
        /// only when every expectation held.
        @Test func testsRunTheProgramAgainstEachInputAndSayWhichFailed() async throws {
            let files = [
                "double.py": "print(int(input()) * 2)",
                "cases/a.in": "2\n", "cases/a.out": "4\n",
                "cases/b.in": "5\n", "cases/b.out": "11\n",
                "cases/c.in": "x\n",
                "one.in": "3", "one.out": "6   \n\n",
            ]
            try await Self.withFolder(files) { folder in
                try await TestServer.with { port in
                    let passing = try await ChildProcess.run(
                        "sandbox", ["run", "--url", Self.url(port), "double.py", "--test", "one.in:one.out"], directory: folder)
                    #expect(passing.status == 0, "\(passing)")
                    #expect(passing.stdout.hasPrefix("PASS one.in: ok (") && passing.stdout.hasSuffix(" ms)\n"), "\(passing.stdout)")
                    #expect(passing.stderr.contains("1 tests: 1 passed, 0 failed (ok 1)"), "\(passing.stderr)")
                    let exact = try await ChildProcess.run(
                        "sandbox", ["run", "--url", Self.url(port), "double.py", "--test", "one.in:one.out", "--compare", "exact", "-q"],
                        directory: folder)
                    #expect(exact.status == 1 && exact.stdout.hasPrefix("FAIL one.in: ok, stdout differs"), "\(exact)")

                    let folderRun = try await ChildProcess.run(
                        "sandbox", ["run", "--url", Self.url(port), "double.py", "--tests", "cases"], directory: folder)
                    #expect(folderRun.status == 1, "\(folderRun)")
                    let lines = folderRun.stdout.split(separator: "\n").map(String.init)
                    #expect(lines.first?.hasPrefix("PASS a: ok") == true && lines.dropFirst().first?.hasPrefix("FAIL b: ok, stdout differs") == true,
                            "\(folderRun.stdout)")
                    #expect(lines.contains { $0.hasPrefix("ERR  c: error, exit code 1") }, "\(folderRun.stdout)")
                    #expect(lines.contains { $0.contains("ValueError: invalid literal for int()") }, "\(folderRun.stdout)")
                    #expect(folderRun.stderr.contains("3 tests: 1 passed, 1 failed (error 1, ok 2)"), "\(folderRun.stderr)")

                    let refused = try await ChildProcess.run(
                        "sandbox", ["run", "--url", Self.url(port), "double.py", "--test", "one.in", "--stdin", "one.in"], directory: folder)
                    #expect(refused.status == 64 && refused.stderr.contains("not with --stdin"), "\(refused)")
                }
            }
        }

        @Test func unreachableServiceExitsWith69() async throws {
            let port = try Self.closedPort()
            let result = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-c", "print(1)"])
            #expect(result.status == 69, "\(result)")
            #expect(result.stderr.contains("cannot connect") && result.stderr.contains("\(port)"), "\(result.stderr)")
            let info = try await ChildProcess.run("sandbox", ["info", "--url", Self.url(port)])
            #expect(info.status == 69)
        }

        @Test func severalFilesRunConcurrentlyAndPrintInOrder() async throws {
            let files = [
                "slow.py": "import time\ntime.sleep(1)\nprint('slow done')",
                "fast.py": "print('fast done')\nraise SystemExit(4)",
                "third.py": "print('third done')",
            ]
            try await Self.withFolder(files) { folder in
                try await TestServer.with { port in
                    let result = try await ChildProcess.run(
                        "sandbox", ["run", "--url", Self.url(port), "slow.py", "fast.py", "third.py"], directory: folder)
                    #expect(result.status == 4, "\(result)")
                    let expectedOutput = "==> slow.py <==\nslow done\n\n==> fast.py <==\nfast done\n\n==> third.py <==\nthird done\n\n"
                    #expect(result.stdout.hasPrefix(expectedOutput), "\(result.stdout)")
                    let table = result.stdout.dropFirst(expectedOutput.count).split(separator: "\n").map { $0.split(separator: " ") }
                    #expect(table.first?.prefix(3) == ["FILE", "STATUS", "EXIT"])
                    #expect(table.dropFirst().map { $0.prefix(3) } == [["slow.py", "ok", "0"], ["fast.py", "error", "4"], ["third.py", "ok", "0"]])

                    // Submitted at once: every run request goes out before the first verdict comes back.
                    let transcript = try await ChildProcess.run(
                        "sandbox", ["run", "--json", "--url", Self.url(port), "slow.py", "fast.py", "third.py"], directory: folder)
                    let messages = try transcript.stdout.split(separator: "\n").map {
                        try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8))
                    }
                    let runRequests = messages.indices.filter { messages[$0]["method"] == "run" }
                    let firstVerdict = messages.firstIndex { $0["result"]?["status"] != nil }
                    #expect(runRequests.count == 3)
                    #expect(firstVerdict.map { first in runRequests.allSatisfy { $0 < first } } == true)
                }
            }
        }

        @Test func jsonPrintsEveryMessageSentAndReceived() async throws {
            try await TestServer.with { port in
                let result = try await ChildProcess.run("sandbox", ["run", "--json", "--url", Self.url(port), "-c", "print('hi')"])
                #expect(result.status == 0)
                let messages = try result.stdout.split(separator: "\n").map {
                    try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8))
                }
                #expect(messages.allSatisfy { $0["jsonrpc"] == "2.0" })
                // How output is split into messages is not meaningful (PROTOCOL.md
                // §4.6): print writes "hi" and "\n" apart, which a loaded machine may send apart.
                let kinds = messages.map { $0["method"]?.stringValue ?? "response" }
                #expect(Array(kinds.prefix(4)) == ["initialize", "response", "run", "run/status"])
                #expect(kinds.dropFirst(4).dropLast().allSatisfy { $0 == "run/output" } && kinds.last == "response", "\(kinds)")
                let text = messages.filter { $0["method"] == "run/output" }.compactMap { $0["params"]?["text"]?.stringValue }.joined()
                #expect(text == "hi\n")
                #expect(messages.last?["result"]?["status"] == "ok")
            }
        }

        @Test func cpuTimeIsSentAsCpuTimeMs() async throws {
            try await TestServer.with { port in
                let result = try await ChildProcess.run("sandbox", ["run", "--json", "--cpu-time", "2.5", "--url", Self.url(port), "-c", "print(1)"])
                #expect(result.status == 0, "\(result)")
                let messages = try result.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
                let run = messages.first { $0["method"] == "run" }
                #expect(run?["params"]?["cpuTimeMs"] == 2500, "\(result.stdout)")
                #expect(messages.last?["result"]?["limit"] == .null, "\(result.stdout)")

                let above = try await ChildProcess.run("sandbox", ["run", "--cpu-time", "999", "--url", Self.url(port), "-c", "print(1)"])
                #expect(above.status == 65 && above.stderr.contains("--cpu-time 999 s is above the service's maximum of 60 s"), "\(above)")
                let zero = try await ChildProcess.run("sandbox", ["run", "--cpu-time", "0", "--url", Self.url(port), "-c", "print(1)"])
                #expect(zero.status != 0 && zero.stderr.contains("--cpu-time"), "\(zero)")

                let info = try await ChildProcess.run("sandbox", ["info", "--url", Self.url(port)])
                #expect(info.stdout.contains("cpu time      10 s by default, at most 60 s (--cpu-time)"), "\(info.stdout)")
                #expect(info.stdout.contains("cgroups       "), "\(info.stdout)")
            }
        }

        @Test func ctrlCCancelsTheRunAndStillPrintsItsVerdict() async throws {
            // No warm sandboxes: a sandboxed process then exists only once the run has started.
            try await TestServer.with(TestServer.configuration { $0.warm = 0 }) { port in
                let child = try ChildProcess("sandbox", ["run", "--url", Self.url(port), "-c", "import time\nwhile True: time.sleep(0.1)"])
                let deadline = ContinuousClock.now + .seconds(20)
                while HostProcesses.sandboxed().isEmpty && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let seen = HostProcesses.sandboxed()
                child.process.interrupt()
                let result = try await child.finished(within: .seconds(20))
                #expect(result.status == 125, "\(result); sandbox processes when interrupted: \(seen)")
                #expect(result.stderr.contains("sandbox: cancelled"), "\(result.stderr)")
            }
        }

        /// A loopback port with nothing listening on it.
        static func closedPort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw TestFailure("no free port") }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }
}
