import Foundation
import SandboxProtocol
import Testing

/// What the `sandbox` CLI says, against a live sandboxd: limits in its own
/// units (seconds, MiB, bytes), statuses in words, memory figures named as
/// the web page names them.
extension SandboxSuite {
    @Suite("sandbox CLI words")
    struct CLIWordsTests {
        static func url(_ port: Int) -> String { CLITests.url(port) }

        /// A limit outside the service's range is refused before anything
        /// is sent, in the option's units, with 65; the service is unharmed.
        @Test func limitsAreRefusedInTheOptionsUnits() async throws {
            try await TestServer.with { port in
                for (arguments, message) in [
                    (["--timeout", "1000"], "--timeout 1000 s is above the service's maximum of 60 s"),
                    (["--timeout", "60.5"], "--timeout 60.5 s is above the service's maximum of 60 s"),
                    (["--cpu-time", "61"], "--cpu-time 61 s is above the service's maximum of 60 s"),
                    (["--memory", "8"], "--memory 8 MiB is below the service's minimum of 16 MiB"),
                    (["--output-limit", "17M"], "--output-limit 17 MiB is above the service's maximum of 16 MiB"),
                    (["--session", "--memory", "2048"], "--memory 2048 MiB is above the service's maximum of 1024 MiB"),
                ] {
                    let result = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port)] + arguments + ["-c", "print(1)"])
                    #expect(result.status == 65, "\(arguments): \(result)")
                    #expect(result.stderr == "sandbox: \(message)\n", "\(arguments): \(result.stderr)")
                    #expect(result.stdout.isEmpty, "\(arguments): \(result.stdout)")
                }
                // Refused before it is sent: the transcript has no run.
                let transcript = try await ChildProcess.run("sandbox", ["run", "--json", "--timeout", "1000", "--url", Self.url(port), "-c", "print(1)"])
                #expect(transcript.status == 65 && !transcript.stdout.contains(#""method":"run""#), "\(transcript)")

                for (arguments, message) in [
                    (["--timeout", "1000"], "--timeout 1000 s is above the service's maximum of 60 s"),
                    (["--memory", "2048"], "--memory 2048 MiB is above the service's maximum of 1024 MiB"),
                    (["--idle-timeout", "0.5"], "--idle-timeout 0.5 s is below the service's minimum of 1 s"),
                    (["--idle-timeout", "7200"], "--idle-timeout 7200 s is above the service's maximum of 3600 s"),
                    (["--output-limit", "32M"], "--output-limit 32 MiB is above the service's maximum of 16 MiB"),
                ] {
                    let result = try await ChildProcess.run("sandbox", ["repl", "--url", Self.url(port)] + arguments, input: .pipe("print(1)\n"))
                    #expect(result.status == 65, "repl \(arguments): \(result)")
                    #expect(result.stderr == "sandbox: \(message)\n", "repl \(arguments): \(result.stderr)")
                }
                let fine = try await ChildProcess.run("sandbox", ["run", "--timeout", "60", "--url", Self.url(port), "-c", "print(6 * 7)"])
                #expect(fine.status == 0 && fine.stdout == "42\n", "\(fine)")
            }
        }

        /// `--output-limit` takes bytes, K and M; past it the run ends with
        /// "output limit" and 125, its output cut there.
        @Test func outputLimitOption() async throws {
            try await TestServer.with { port in
                let code = "print('x' * 5000)\nprint('after')"
                let cut = try await ChildProcess.run("sandbox", ["run", "--output-limit", "1K", "--url", Self.url(port), "-c", code])
                #expect(cut.status == 125, "\(cut)")
                #expect(cut.stdout.utf8.count == 1024 && !cut.stdout.contains("after"), "\(cut.stdout.utf8.count) bytes")
                #expect(cut.stderr.hasPrefix("sandbox: output limit"), "\(cut.stderr)")
                #expect(cut.stderr.contains("output truncated"), "\(cut.stderr)")

                let room = try await ChildProcess.run("sandbox", ["run", "--output-limit", "64K", "--url", Self.url(port), "-c", code])
                #expect(room.status == 0 && room.stdout.hasSuffix("after\n"), "\(room.stderr)")

                let sent = try await ChildProcess.run("sandbox", ["run", "--json", "--output-limit", "6000", "--url", Self.url(port), "-c", code])
                let run = try sent.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
                    .first { $0["method"] == "run" }
                #expect(run?["params"]?["maxOutputBytes"] == 6000, "\(sent.stdout)")

                let wrong = try await ChildProcess.run("sandbox", ["run", "--output-limit", "1.5M", "--url", Self.url(port), "-c", code])
                #expect(wrong.status == 64 && wrong.stderr.contains("--output-limit"), "\(wrong)")

                // Each snippet of the REPL gets it; the session lives on.
                let repl = try await ChildProcess.run(
                    "sandbox", ["repl", "--output-limit", "1K", "--url", Self.url(port)], input: .pipe("print('y' * 5000)\nprint('after')\n"))
                #expect(repl.stdout.hasSuffix("after\n") && repl.stdout.utf8.count < 1100, "\(repl)")
                #expect(repl.stderr.contains("sandbox: output limit"), "\(repl.stderr)")
            }
        }

        /// Statuses in words, the memory figures as the page names them:
        /// `peak memory` (the run's cgroup's peak; only with cgroups) and `max RSS`.
        @Test func statusesAndMemoryFiguresInWords() async throws {
            try await TestServer.with { port in
                let info = try await ChildProcess.run("sandbox", ["info", "--json", "--url", Self.url(port)])
                let cgroups = try JSONDecoder().decode(JSONValue.self, from: Data(info.stdout.utf8))["capabilities"]?["cgroups"] == true
                let figures = cgroups
                    ? #"\(wall \d+ ms, cpu \d+ ms, peak memory [\d.]+ (KiB|MiB), max RSS [\d.]+ (KiB|MiB)\)"#
                    : #"\(wall \d+ ms, cpu \d+ ms, max RSS [\d.]+ (KiB|MiB)\)"#

                let failed = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "-c", "raise SystemExit(2)"])
                #expect(failed.status == 2)
                #expect(failed.stderr.range(of: "^sandbox: error, exit code 2 " + figures + "\n$", options: .regularExpression) != nil,
                        "\(failed.stderr)")

                let cpu = try await ChildProcess.run("sandbox", ["run", "--cpu-time", "0.3", "--url", Self.url(port), "-c", "while True: pass"])
                #expect(cpu.status == 124 && cpu.stderr.hasPrefix("sandbox: CPU time limit ("), "\(cpu)")

                let memory = try await ChildProcess.run("sandbox", [
                    "run", "--memory", "64", "--url", Self.url(port), "-c", "chunks = []\nwhile True: chunks.append(bytearray(1 << 20))",
                ])
                if cgroups {
                    #expect(memory.status == 137, "\(memory)")
                    #expect(memory.stderr.range(of: "^sandbox: memory limit[^\n]* " + figures + "\n$", options: .regularExpression) != nil,
                            "\(memory.stderr)")
                }
                for raw in RunStatus.allCases.map(\.rawValue) where raw.contains(where: \.isUppercase) {
                    #expect(!failed.stderr.contains(raw) && !cpu.stderr.contains(raw) && !memory.stderr.contains(raw))
                }
            }
        }

        /// The table after several files: statuses in words, both memory figures.
        @Test func tableNamesStatusesAndMemoryFigures() async throws {
            let files = ["fine.py": "print('fine')", "slow.py": "while True: pass", "big.py": "print('z' * 5000)"]
            try await CLITests.withFolder(files) { folder in
                try await TestServer.with { port in
                    let result = try await ChildProcess.run(
                        "sandbox", ["run", "--timeout", "0.5", "--output-limit", "1K", "--url", Self.url(port), "fine.py", "slow.py", "big.py"],
                        directory: folder)
                    #expect(result.status == 124, "\(result)")
                    let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                    guard let header = lines.firstIndex(where: { $0.hasPrefix("FILE ") }) else {
                        Issue.record("no table: \(result.stdout)")
                        return
                    }
                    #expect(lines[header].split(separator: " ", omittingEmptySubsequences: true)
                        == ["FILE", "STATUS", "EXIT", "WALL", "CPU", "PEAK", "MEMORY", "MAX", "RSS"], "\(lines[header])")
                    let rows = lines[(header + 1)...].filter { !$0.isEmpty }
                    #expect(rows.count == 3, "\(rows)")
                    #expect(rows.first { $0.hasPrefix("slow.py") }?.contains("  time limit  ") == true, "\(rows)")
                    #expect(rows.first { $0.hasPrefix("big.py") }?.contains("  output limit  ") == true, "\(rows)")
                    #expect(rows.first { $0.hasPrefix("fine.py") }?.contains("  ok  ") == true, "\(rows)")
                }
            }
        }
    }
}
