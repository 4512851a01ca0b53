import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the fork server (`--isolation fork`, the default) must add to the
/// malicious fixtures: runs forked from one interpreter share nothing with
/// the runs before them on the same slot or beside them on other slots, a
/// dead fork server costs only its run, and preloading works or says why not.
extension SandboxSuite {
    @Suite("Fork server")
    struct ForkServer {
        /// Leaves everything it can behind: module, builtin and environment
        /// state, a file, a SysV shared-memory segment and message queue, a
        /// detached process holding an abstract unix socket.
        static let planter = """
            import builtins, ctypes, os, random, socket, sys, time
            libc = ctypes.CDLL(None, use_errno=True)
            sys.modules["planted"] = sys
            builtins.planted = True
            os.environ["PLANTED"] = "1"
            os.planted = True
            open("/tmp/planted", "w").write("x")
            print("shm", libc.shmget(0x5EED, 4096, 0o1000 | 0o666), ctypes.get_errno())
            print("msg", libc.msgget(0x5EED, 0o1000 | 0o666), ctypes.get_errno())
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.bind("\\0pysandbox-planted"); s.listen(1)
                    time.sleep(60)
                os._exit(0)
            os.wait()
            time.sleep(0.2)
            print("net", os.stat("/proc/self/ns/net").st_ino, "ipc", os.stat("/proc/self/ns/ipc").st_ino)
            print("random", random.random(), os.urandom(8).hex())
            import matplotlib, numpy, pandas
            numpy.pi = 3
            numpy.random.seed(1234)
            matplotlib.rcParams["lines.linewidth"] = 99
            pandas.set_option("display.max_rows", 3)
            builtins.display = print
            print("nprandom", numpy.random.random())
            """

        /// Looks for each of them.
        static let finder = """
            import builtins, ctypes, os, random, socket, sys
            libc = ctypes.CDLL(None, use_errno=True)
            print("module", "planted" in sys.modules, "builtin", hasattr(builtins, "planted"),
                  "env", "PLANTED" in os.environ, "os", hasattr(os, "planted"),
                  "file", os.path.exists("/tmp/planted"))
            print("shm", libc.shmget(0x5EED, 0, 0) >= 0, "msg", libc.msgget(0x5EED, 0) >= 0)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect("\\0pysandbox-planted"); print("socket reached")
            except OSError as error:
                print("socket", error.errno)
            print("processes", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
            print("net", os.stat("/proc/self/ns/net").st_ino, "ipc", os.stat("/proc/self/ns/ipc").st_ino)
            print("random", random.random(), os.urandom(8).hex())
            import matplotlib, numpy, pandas
            print("libraries", numpy.pi == 3, matplotlib.rcParams["lines.linewidth"] == 99,
                  pandas.get_option("display.max_rows") == 3, display is print)
            print("nprandom", numpy.random.random())
            """

        static func field(_ name: String, in output: String) -> String? {
            output.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
        }

        @Test(arguments: [ServiceMode.root, .ordinaryUser])
        func nothingCrossesToTheNextRunOnTheSameSlot(_ mode: ServiceMode) async throws {
            let sandbox = try await mode.sandbox()
            let planted = try await sandbox.collect(Self.planter)
            #expect(planted.verdict.status == .ok, "\(planted.combined)")
            // The next run takes the slot given back last; a slot is given back
            // just after its run's verdict, once the run's pid 1 is gone.
            let plantedNet = Self.field("net", in: planted.stdout)?.split(separator: " ").first
            try await Task.sleep(for: .milliseconds(500))
            let found = try await sandbox.collect(Self.finder)
            #expect(found.verdict.status == .ok, "\(found.combined)")
            let output = found.stdout
            // The same slot: the same network namespace (each run has a new IPC
            // namespace, but the kernel may give it the number of the last one).
            let foundNet = Self.field("net", in: output)?.split(separator: " ").first
            #expect(plantedNet != nil && plantedNet == foundNet, "the runs did not share a slot: \(planted.stdout) / \(output)")
            #expect(Self.field("module", in: output) == "False builtin False env False os False file False", "\(output)")
            #expect(Self.field("shm", in: output) == "False msg False", "\(output)")
            #expect(Self.field("socket", in: output) != nil, "the planted socket outlived its run: \(output)")
            #expect(Self.field("processes", in: output) == "[2]", "\(output)")
            #expect(Self.field("random", in: output) != Self.field("random", in: planted.stdout))
            // Preloaded libraries' state is the run's own, numpy's generator included.
            #expect(Self.field("libraries", in: output) == "False False False False", "\(output)")
            #expect(Self.field("nprandom", in: output) != Self.field("nprandom", in: planted.stdout))
        }

        @Test func concurrentRunsCannotReachEachOther() async throws {
            let sandbox = try await SharedSandbox.get()
            var holdLimits = RunLimits()
            holdLimits.timeout = .seconds(10)
            let holder = try sandbox.start(RunRequest(
                code: Self.planter + "\nprint('holding', flush=True)\ntime.sleep(3)", limits: holdLimits))
            var held = ""
            for await chunk in holder.output {
                held += String(decoding: chunk.text?.bytes ?? [], as: UTF8.self)
                if held.contains("holding") { break }
            }
            let found = try await sandbox.collect(Self.finder)
            holder.cancel()
            _ = await holder.verdict()
            let output = found.stdout
            #expect(Self.field("module", in: output) == "False builtin False env False os False file False", "\(output)")
            #expect(Self.field("shm", in: output) == "False msg False", "\(output)")
            #expect(Self.field("socket", in: output) != nil, "reached the other run's socket: \(output)")
            #expect(Self.field("processes", in: output) == "[2]", "\(output)")
            #expect(Self.field("net", in: output) != Self.field("net", in: held), "\(held) / \(output)")
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        @Test func aKilledForkServerFailsOnlyItsRunAndIsReplaced() async throws {
            let sandbox = try await SharedSandbox.get()
            let forkServersBefore = Set(ForkServerProcesses.forkServers())
            var limits = RunLimits()
            limits.timeout = .seconds(20)
            let run = try sandbox.start(RunRequest(code: "print('started', flush=True)\nimport time\ntime.sleep(15)", limits: limits))
            var output = ""
            for await chunk in run.output {
                output += String(decoding: chunk.text?.bytes ?? [], as: UTF8.self)
                if output.contains("started") { break }
            }
            let serving = ForkServerProcesses.forkServers().filter { !ForkServerProcesses.children(of: $0).isEmpty }
            try #require(serving.count == 1, "fork servers with a run: \(serving), before: \(forkServersBefore)")
            kill(serving[0], SIGKILL)
            let verdict = await run.verdict()
            #expect(verdict.status == .internalError)
            #expect(verdict.message?.contains("fork server") == true, "\(verdict.message ?? "no message")")
            let next = try await sandbox.collect("print('after')")
            #expect(next.stdout == "after\n")
            #expect(next.verdict.status == .ok)
            #expect(!ForkServerProcesses.forkServers().contains(serving[0]))
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        @Test func preloadedModulesAreThereBeforeTheProgram() async throws {
            let sandbox = try await Sandbox.prepare(SandboxOptions(preload: ["decimal", "json"]))
            try await sandbox.whileRunning { sandbox in
                let result = try await sandbox.collect("import sys\nprint('decimal' in sys.modules, 'json' in sys.modules)")
                #expect(result.stdout == "True True\n", "\(result.combined)")
            }
        }

        @Test func aModuleThatFailsToImportStopsTheStart() async throws {
            let error = await #expect(throws: SandboxUnavailable.self) {
                try await Sandbox.prepare(SandboxOptions(preload: ["json", "no_such_module_here"]))
            }
            #expect(error?.description.contains("No module named 'no_such_module_here'") == true, "\(error?.description ?? "")")
            #expect(await HostProcesses.leftovers() == [], "\(HostProcesses.sandboxed())")
        }

        @Test func runsWithOtherMemoryLimitsWork() async throws {
            let sandbox = try await SharedSandbox.get()
            var large = RunLimits()
            large.memoryBytes = 768 << 20
            let fits = try await sandbox.collect("x = bytearray(500 << 20)\nprint(len(x) >> 20)", limits: large)
            #expect(fits.stdout == "500\n", "\(fits.combined)")
            #expect(fits.verdict.status == .ok)
            var small = RunLimits()
            small.memoryBytes = 48 << 20
            let over = try await sandbox.collect("x = bytearray(100 << 20)", limits: small)
            #expect(over.verdict.status == .memoryLimit, "\(over.verdict)")
            let after = try await sandbox.collect("x = bytearray(200 << 20)\nprint('ok')")
            #expect(after.stdout == "ok\n", "the default limit came back: \(after.combined)")
        }
    }
}

/// The fork servers on this host (`pysandbox-fork`): the children of a
/// fork-server slot's skeleton init.
enum ForkServerProcesses {
    static func forkServers() -> [pid_t] {
        processes().filter { pid in
            guard let parent = parent(of: pid) else { return false }
            return arguments(of: parent).contains("--fork-server") && !arguments(of: pid).contains("--fork-server")
        }
    }

    /// A fork-server slot lives as long as its service: its supervisor and
    /// skeleton init (`pysandbox-launcher --fork-server`) and its fork server
    /// (their child, which never runs user code). Runs, the fork server's
    /// children, are not part of it.
    static func isSlotMember(_ pid: pid_t) -> Bool {
        arguments(of: pid).contains("--fork-server") || parent(of: pid).map { arguments(of: $0).contains("--fork-server") } == true
    }

    /// The interpreter a fork server runs.
    static func executable(of pid: pid_t) -> String? {
        arguments(of: pid).first
    }

    static func children(of pid: pid_t) -> [pid_t] {
        processes().filter { parent(of: $0) == pid }
    }

    private static func processes() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }

    private static func parent(of pid: pid_t) -> pid_t? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("PPid:") } ?? ""
        return line.split(separator: "\t").dropFirst().first.flatMap { pid_t($0) }
    }

    private static func arguments(of pid: pid_t) -> [String] {
        let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
