import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

extension SandboxSuite {
    @Suite("Timeouts, cancellation and cleanup")
    struct RunLifecycle {
        @Test func wallTimeoutEndsASleepingRun() async throws {
            var limits = RunLimits()
            limits.timeout = .milliseconds(500)
            let result = try await SharedSandbox.get().collect("import time\nprint('start')\ntime.sleep(60)", limits: limits)
            #expect(result.verdict.status == .timeout)
            #expect(result.stdout == "start\n")
            #expect(result.verdict.wallMs < 10_000)
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        @Test(arguments: ServiceMode.standard)
        func cpuLimitEndsABusyLoop(_ mode: ServiceMode) async throws {
            var limits = RunLimits()
            limits.timeout = .seconds(20)
            limits.cpuTime = .milliseconds(500)
            limits.usesPreload = mode.preloaded
            let result = try await mode.sandbox().collect("while True: pass", limits: limits)
            #expect(result.verdict.status == .timeout)
            #expect(result.verdict.limit == .cpu)
            #expect(result.verdict.wallMs < 1500, "\(result.verdict)")
            #expect((500...800).contains(result.verdict.cpuMs), "\(result.verdict)")
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        /// RLIMIT_CPU is per process: four processes of 300 ms each stay under
        /// it, but not under the run's 500 ms for all of them together.
        @Test(arguments: ServiceMode.standard)
        func cpuLimitHoldsForAllProcessesTogether(_ mode: ServiceMode) async throws {
            var limits = RunLimits()
            limits.timeout = .seconds(20)
            limits.cpuTime = .milliseconds(500)
            limits.usesPreload = mode.preloaded
            let code = """
                import os, time
                children = []
                for _ in range(4):
                    pid = os.fork()
                    if pid == 0:
                        end = time.process_time() + 0.3
                        while time.process_time() < end: pass
                        os._exit(0)
                    children.append(pid)
                for pid in children: os.waitpid(pid, 0)
                print('ESCAPED: 1.2 s of CPU under a 0.5 s limit')
                """
            let result = try await mode.sandbox().collect(code, limits: limits)
            #expect(result.verdict.status == .timeout, "\(result.stdout) \(result.verdict)")
            #expect(result.verdict.limit == .cpu)
            #expect(!result.stdout.contains("ESCAPED"))
            #expect((500...900).contains(result.verdict.cpuMs), "\(result.verdict)")
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        @Test func wallTimeoutSaysWhichLimit() async throws {
            var limits = RunLimits()
            limits.timeout = .milliseconds(300)
            let result = try await SharedSandbox.get().collect("import time; time.sleep(5)", limits: limits)
            #expect(result.verdict.status == .timeout)
            #expect(result.verdict.limit == .wall)
        }

        @Test func cancelEndsTheRunAtAnyTime() async throws {
            let sandbox = try await SharedSandbox.get()
            let run = try sandbox.start(RunRequest(code: "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\nprint('ready', flush=True)\ntime.sleep(600)"))
            for await chunk in run.output where String(decoding: chunk.text?.bytes ?? [], as: UTF8.self).contains("ready") {
                run.cancel()
            }
            let verdict = await run.verdict()
            #expect(verdict.status == .cancelled)
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
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

        /// A program that writes past the limit in one write and exits at once
        /// may be reaped before its output is read: still `outputLimit`, never
        /// an `ok` with truncated output (a CI run saw one from the CLI).
        @Test func outputPastTheLimitAtExitIsStillTheLimit() async throws {
            var limits = RunLimits()
            limits.maxOutputBytes = 1000
            for _ in 0..<30 {
                let result = try await SharedSandbox.get().collect("import os\nos.write(1, b'x' * 5000)\nos._exit(0)", limits: limits)
                #expect(result.verdict.status == .outputLimit, "\(result.verdict)")
                #expect(result.verdict.truncated && result.stdout.utf8.count == 1000, "\(result.verdict)")
            }
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
            limits.timeout = .seconds(30)
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await SharedSandbox.get().collect(code, limits: limits)
            #expect(result.verdict.status == .ok)
            #expect(result.stdout == "parent done\n")
            #expect(clock.now - started < .seconds(10))
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        /// With a cgroup the OOM killer ends the run; without one RLIMIT_AS makes Python raise MemoryError.
        @Test func memoryLimitIsReported() async throws {
            let sandbox = try await SharedSandbox.get()
            var limits = RunLimits()
            limits.memoryBytes = 96 << 20
            let result = try await sandbox.collect("chunks = []\nwhile True: chunks.append(bytearray(1 << 20))", limits: limits)
            if sandbox.cgroups.isActive {
                #expect(result.verdict.status == .memoryLimit)
                #expect((result.verdict.peakMemoryKb ?? 0) >= 90 * 1024)
            } else {
                #expect(result.verdict.status == .error)
                #expect(result.stderr.contains("MemoryError"))
            }
        }

        /// Four busy threads on a two-core machine: the run's cgroup caps it at one core.
        @Test(.enabled("needs a cgroup cpu controller the service can use") { try await SharedSandbox.get().cgroups.limitsCPU })
        func cpuBandwidthIsCappedPerRun() async throws {
            let sandbox = try await SharedSandbox.get()
            var limits = RunLimits()
            limits.timeout = .seconds(2)
            limits.cpuTime = .seconds(30)
            let code = "import threading\ndef burn():\n    while True: sum(range(1000))\nfor _ in range(4): threading.Thread(target=burn, daemon=True).start()\nburn()"
            let result = try await sandbox.collect(code, limits: limits)
            #expect(result.verdict.status == .timeout)
            // One core for two seconds, plus scheduling slack; uncapped it would be about four.
            #expect(result.verdict.cpuMs <= 2_600, "cpuMs \(result.verdict.cpuMs)")
            #expect(result.verdict.cpuMs >= 500)
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
                    try sandbox.start(RunRequest(code: "pass", files: [path: Array("x".utf8)]))
                }
            }
        }
    }
}

extension SandboxSuite {
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
}

extension SandboxSuite.SandboxPreparation {
    /// A kernel without usable user namespaces, simulated in a child user
    /// namespace whose limit is 0: preparation fails and names the piece.
    @Test func missingUserNamespacesAreNamed() async throws {
        let wrapper = try LauncherWrapper(
            #"exec unshare -U --map-root-user sh -c 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" "$@"' LAUNCHER "$@""#)
        defer { wrapper.remove() }
        let error = await #expect(throws: SandboxUnavailable.self) {
            try await Sandbox.prepare(SandboxOptions(launcherPath: wrapper.path))
        }
        #expect(error?.description.contains("clone_namespaces") == true, "\(String(describing: error))")
        #expect(error?.description.contains("max_user_namespaces") == true, "\(String(describing: error))")
    }

    /// The service as an ordinary user: unprivileged user namespaces, rlimits only.
    @Test func worksAsAnOrdinaryUser() async throws {
        let wrapper = try LauncherWrapper.asOrdinaryUser()
        defer { wrapper.remove() }
        let sandbox = try await Sandbox.prepare(SandboxOptions(launcherPath: wrapper.path, cgroups: .rlimitsOnly))
        let code = "import os\nprint(os.getuid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0])\nopen('f', 'w').write('x')\nprint(sorted(os.listdir('.')))"
        let result = try await sandbox.whileRunning { try await $0.collect(code) }
        #expect(result.verdict.status == .ok, "\(result.combined) \(result.verdict.message ?? "")")
        #expect(result.stdout == "65534 0000000000000000\n['f', 'main.py']\n")
        #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
    }
}

extension SandboxSuite {
    @Suite("Many runs at once")
    struct Concurrency {
        @Test func concurrentRunsKeepTheirOutputApart() async throws {
            let sandbox = try await SharedSandbox.get()
            let results = try await withThrowingTaskGroup(of: (Int, CollectedRun).self) { group in
                for index in 0..<24 {
                    group.addTask {
                        let code = "import sys\nfor i in range(200): print(\(index), i)\nprint('done', \(index), file=sys.stderr)"
                        return (index, try await sandbox.collect(code))
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == 24)
            for (index, result) in results {
                let expected = (0..<200).map { "\(index) \($0)\n" }.joined()
                #expect(result.verdict.status == .ok)
                #expect(result.stdout == expected)
                #expect(result.stderr == "done \(index)\n")
            }
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        @Test func largeProgramsAndFilesArriveWhole() async throws {
            let lines = (0..<30_000).map { "x\($0) = \($0)" }.joined(separator: "\n")
            let data = String(repeating: "0123456789", count: 50_000)
            let code = lines + "\nprint(x29999, len(open('data.txt').read()))"
            let result = try await SharedSandbox.get().collect(code, files: ["data.txt": data])
            #expect(result.stderr == "")
            #expect(result.stdout == "29999 500000\n")
        }

        @Test func largeStdinAndOutputStream() async throws {
            let input = (0..<20_000).map { "line \($0)\n" }.joined()
            var limits = RunLimits()
            limits.maxOutputBytes = 4 << 20
            let result = try await SharedSandbox.get().collect(
                "import sys\nsys.stdout.write(sys.stdin.read())", stdin: .bytes(Array(input.utf8)), limits: limits)
            #expect(result.verdict.status == .ok)
            #expect(result.stdout == input)
            #expect(result.chunks.count > 1)
        }
    }
}
