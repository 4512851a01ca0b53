import Foundation
import SandboxRuntime
import Testing

extension SandboxSuite {
    @Suite("Timeouts, cancellation and cleanup")
    struct RunLifecycle {
        @Test func wallTimeoutEndsASleepingRun() async throws {
            var limits = RunLimits()
            limits.wallTimeout = .milliseconds(500)
            let result = try await SharedSandbox.get().collect("import time\nprint('start')\ntime.sleep(60)", limits: limits)
            #expect(result.verdict.status == .timeout)
            #expect(result.stdout == "start\n")
            #expect(result.verdict.wallMs < 10_000)
            #expect(await HostProcesses.leftovers() == [])
        }

        @Test func cpuLimitEndsABusyLoop() async throws {
            var limits = RunLimits()
            limits.wallTimeout = .seconds(20)
            limits.cpuTime = .seconds(1)
            let result = try await SharedSandbox.get().collect("while True: pass", limits: limits)
            #expect(result.verdict.status == .timeout)
            #expect(result.verdict.cpuMs >= 900)
        }

        @Test func cancelEndsTheRunAtAnyTime() async throws {
            let sandbox = try await SharedSandbox.get()
            let run = try sandbox.start(RunRequest(code: "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\nprint('ready', flush=True)\ntime.sleep(600)"))
            for await chunk in run.output where String(decoding: chunk.bytes, as: UTF8.self).contains("ready") {
                run.cancel()
            }
            let verdict = await run.verdict()
            #expect(verdict.status == .cancelled)
            #expect(await HostProcesses.leftovers() == [])
        }

        @Test func cancelBeforeTheCodeStarts() async throws {
            let run = try await SharedSandbox.get().start(RunRequest(code: "print('never')"))
            run.cancel()
            let verdict = await run.verdict()
            #expect(verdict.status == .cancelled)
        }

        @Test func outputLimitCutsAtTheLimit() async throws {
            var limits = RunLimits()
            limits.maxOutputBytes = 10_000
            let result = try await SharedSandbox.get().collect("while True: print('y' * 99)", limits: limits)
            #expect(result.verdict.status == .outputLimit)
            #expect(result.verdict.truncated)
            #expect(result.verdict.stdoutBytes == 10_000)
            #expect(result.stdout.utf8.count == 10_000)
        }

        /// A leftover child holding stdout must not delay the verdict: init's exit kills it.
        @Test func verdictComesWhenTheMainProgramExits() async throws {
            let code = """
                import os, time
                if os.fork() == 0:
                    time.sleep(600)
                print('parent done')
                """
            var limits = RunLimits()
            limits.wallTimeout = .seconds(30)
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await SharedSandbox.get().collect(code, limits: limits)
            #expect(result.verdict.status == .ok)
            #expect(result.stdout == "parent done\n")
            #expect(clock.now - started < .seconds(10))
            #expect(await HostProcesses.leftovers() == [])
        }

        @Test func signalsBecomeKilled() async throws {
            let result = try await SharedSandbox.get().collect("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)")
            #expect(result.verdict.status == .killed)
            #expect(result.verdict.signal == 15)
        }

        @Test func invalidFilePathsAreRefused() async throws {
            let sandbox = try await SharedSandbox.get()
            for path in ["/etc/passwd", "../x", "a/../../b", "", "main.py", "a//b"] {
                #expect(throws: InvalidRunRequest.self) {
                    try sandbox.start(RunRequest(code: "pass", files: [path: "x"]))
                }
            }
        }
    }
}

@Suite("Sandbox preparation")
struct SandboxPreparation {
    @Test func aMissingInterpreterIsReported() async throws {
        await #expect(throws: SandboxUnavailable.self) {
            try await Sandbox.prepare(SandboxOptions(interpreterPath: "/nonexistent/python3"))
        }
    }

    @Test func aMissingLauncherIsReported() async throws {
        let error = await #expect(throws: SandboxUnavailable.self) {
            try await Sandbox.prepare(SandboxOptions(launcherPath: "/nonexistent/pysandbox-launcher"))
        }
        #expect(error?.description.contains("pysandbox-launcher not found") == true)
    }
}

extension SandboxPreparation {
    /// A kernel without usable user namespaces, simulated in a child user
    /// namespace whose limit is 0: preparation fails and names the piece.
    @Test func missingUserNamespacesAreNamed() async throws {
        let launcher = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("pysandbox-launcher").path
        let realLauncher = FileManager.default.isExecutableFile(atPath: launcher)
            ? launcher : ProcessInfo.processInfo.environment["PYSANDBOX_LAUNCHER"] ?? launcher
        let wrapper = FileManager.default.temporaryDirectory.appendingPathComponent("no-userns-\(UUID().uuidString).sh").path
        let script = """
            #!/bin/sh
            exec unshare -U --map-root-user sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" "$@"' \(realLauncher) "$@"
            """
        FileManager.default.createFile(atPath: wrapper, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: wrapper) }
        let error = await #expect(throws: SandboxUnavailable.self) {
            try await Sandbox.prepare(SandboxOptions(launcherPath: wrapper))
        }
        #expect(error?.description.contains("clone_namespaces") == true, "\(String(describing: error))")
        #expect(error?.description.contains("max_user_namespaces") == true, "\(String(describing: error))")
    }
}
