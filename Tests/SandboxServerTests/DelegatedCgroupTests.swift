import Foundation
import SandboxProtocol
import SandboxRuntime
import TestSupport
import Testing

/// README's third mode: sandboxd as an ordinary user (uid 65534) with a
/// cgroup delegated to it by `scripts/delegate-cgroup`. A whole sandboxd
/// runs as that user, so its own cgroup detection is what is tested. It runs
/// the staged copy of the build (`StagedBuild`): the checkout may be private.
extension SandboxSuite {
    @Suite("An ordinary user with a delegated cgroup")
    struct DelegatedCgroup {
        static let user = "\(OrdinaryUser.id)"
        static let script = Checkout.path("scripts/delegate-cgroup")

        /// sandboxd as `user`, between delegating the cgroup and taking it back.
        static func withService(_ body: (_ port: Int, _ pid: pid_t, _ log: String) async throws -> Void) async throws {
            let delegated = try await ChildProcess(script, [user]).finished(within: .seconds(10))
            try #require(delegated.status == 0, "\(delegated.stderr)")
            do {
                try await runService(body)
            } catch {
                _ = try? await ChildProcess(script, ["--remove", user]).finished(within: .seconds(10))
                throw error
            }
            let removed = try await ChildProcess(script, ["--remove", user]).finished(within: .seconds(10))
            #expect(removed.status == 0, "\(removed.stderr)")
        }

        private static func runService(_ body: (_ port: Int, _ pid: pid_t, _ log: String) async throws -> Void) async throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = OrdinaryUser.setprivOptions + [
                try StagedBuild.sandboxd(), "--port", "0", "--workers", "2", "--warm", "0",
            ]
            // Not the checkout, which this user may not enter.
            process.currentDirectoryURL = URL(fileURLWithPath: try StagedBuild.directory())
            let log = Pipe()
            process.standardOutput = log
            process.standardError = log
            try process.run()
            defer {
                if process.isRunning {
                    process.terminate()
                    process.waitUntilExit()
                }
            }
            let (port, text) = try await SandboxSuite.ShutdownTests.listeningPortAndLog(in: log)
            try await body(port, process.processIdentifier, text)
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }

        static func run(_ port: Int, _ params: [String: Any]) async throws -> [String: Any] {
            let body = try JSONSerialization.data(withJSONObject: params)
            let reply = try await HTTP.post(port, "/v1/run", String(decoding: body, as: UTF8.self))
            let data = try JSONEncoder().encode(reply.json)
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }

        @Test func everyLimitHoldsAndEveryFixtureIsContained() async throws {
            try await Self.withService { port, service, log in
                #expect(log.contains("cgroup v1 under /sys/fs/cgroup/memory/pysandbox/pysandbox-")
                        || log.contains("cgroup v2 under"), "\(log.prefix(2000))")
                #expect(!log.contains("weaker"), "\(log.prefix(2000))")
                let info = try await HTTP.get(port, "/v1/info")
                #expect(info.json["capabilities"]?["cgroups"] == .bool(true))

                // Memory, counted by the cgroup for all processes: the OOM killer ends the run.
                let memory = try await Self.run(port, [
                    "code": "b = bytearray(300 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('ESCAPED')",
                    "memoryMb": 128,
                ])
                #expect(memory["status"] as? String == "memoryLimit", "\(memory)")
                #expect((memory["peakMemoryKb"] as? Int ?? 0) > 100_000, "\(memory)")

                let host = HostTargets.shared
                for fixture in MaliciousFixture.loadAll() {
                    _ = host.drainContacts()
                    let limits = fixture.limits(preloaded: false)
                    var body: [String: Any] = [
                        "code": fixture.code,
                        "files": MaliciousFixture.supportFiles.merging(["host.json": host.descriptionFile]) { $1 },
                        "timeoutMs": Int(limits.timeout / .milliseconds(1)),
                        "memoryMb": limits.memoryBytes >> 20,
                        "maxOutputBytes": limits.maxOutputBytes,
                    ]
                    if !fixture.returnFiles.isEmpty { body["returnFiles"] = fixture.returnFiles }
                    let result = try await Self.run(port, body)
                    let omitted = (result["omittedFiles"] as? [[String: Any]])?.compactMap { entry in
                        (entry["reason"] as? String).flatMap(OmittedFile.Reason.init(rawValue:)).map {
                            OmittedFile(path: entry["path"] as? String ?? "", reason: $0)
                        }
                    }
                    let outcome = FixtureOutcome(
                        status: result["status"] as? String ?? "\(result)",
                        output: (result["stdout"] as? String ?? "") + (result["stderr"] as? String ?? ""),
                        cpuMs: result["cpuMs"] as? Int ?? 0, message: result["message"] as? String,
                        returnedPaths: (result["files"] as? [[String: Any]])?.compactMap { $0["path"] as? String },
                        omittedFiles: omitted)
                    await fixture.check(outcome, mode: "delegated cgroup", host: host, service: service)
                }
            }
        }
    }
}
