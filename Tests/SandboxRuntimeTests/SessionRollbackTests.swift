import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

/// A session that rolls back (`SessionLimits.rollsBack`, the default): a
/// cell that dies of a signal, reaches its wall clock, CPU or memory limit,
/// or does not stop when interrupted leaves the session as it was before
/// it: its names and imports, and no process it started. A cell that ends
/// (an exception, KeyboardInterrupt within the grace) keeps its effects; an
/// interpreter that exits ends the session. As root and as an ordinary user.
extension SandboxSuite {
    @Suite("Sessions that roll back")
    struct SessionRollbackTests {
        typealias Mode = SessionTests.Mode

        static func open(_ mode: Mode, _ configure: (inout SessionLimits) -> Void = { _ in }) async throws -> any SandboxSession {
            try await SessionTests.open(try await mode.sandbox(), configure)
        }

        /// The session's names, a module, and the processes of its namespace
        /// but the interpreter and its snapshots (live ones: a discarded
        /// snapshot is a zombie until the interpreter reaps it).
        static let state = """
            import os, sys
            def others():
                for pid in filter(str.isdigit, os.listdir('/proc')):
                    try:
                        stat = open(f'/proc/{pid}/stat').read()
                    except OSError:
                        continue
                    name, state = stat[stat.index('(') + 1:stat.rindex(')')], stat[stat.rindex(')') + 2]
                    if int(pid) != os.getpid() and name != 'pysandbox-snap' and state != 'Z':
                        yield name
            print(x, 'tabnanny' in sys.modules, sorted(others()))
            """

        static func expectState(_ session: any SandboxSession, _ expected: String, _ comment: Comment) async throws {
            let seen = try await session.collect(Self.state)
            #expect(seen.verdict.status == .ok && seen.stdout == expected, "\(comment): \(seen.stdout) \(seen.stderr) \(seen.verdict)")
        }

        @Test(arguments: Mode.allCases)
        func aCellKilledByASignalIsRolledBackWithEveryProcessItStarted(mode: Mode) async throws {
            let session = try await Self.open(mode)
            defer { session.close() }
            #expect(try await session.collect("x = 1\nimport os, subprocess").verdict.status == .ok)
            let killed = try await session.collect("""
                x = 2
                import tabnanny
                children = [subprocess.Popen(['sleep', '300']) for _ in range(3)]
                os.kill(os.getpid(), 9)
                """)
            #expect(killed.verdict.status == .killed && killed.verdict.signal == 9 && killed.verdict.rolledBack, "\(killed.verdict)")
            try await Self.expectState(session, "1 False []\n", "as before the cell: no json, no sleep")
            // And again: the snapshot that went on took a snapshot of its own.
            _ = try await session.collect("x = 3\nos.kill(os.getpid(), 11)")
            try await Self.expectState(session, "1 False []\n", "rolled back twice")
        }

        @Test(arguments: Mode.allCases)
        func aCellPastItsTimeOrCPULimitIsRolledBack(mode: Mode) async throws {
            let session = try await Self.open(mode)
            defer { session.close() }
            _ = try await session.collect("x = 1")
            var limits = RunLimits()
            limits.timeout = .milliseconds(400)
            limits.cpuTime = .seconds(10)  // the wall clock first: the CPU limit is the timeout's by default
            let timedOut = try await session.collect(RunRequest(code: "x = 2\nimport tabnanny\nwhile True: pass", limits: limits))
            #expect(timedOut.verdict.status == .timeout && timedOut.verdict.limit == .wall && timedOut.verdict.rolledBack, "\(timedOut.verdict)")
            #expect(!timedOut.stderr.contains("KeyboardInterrupt"), "rolled back, not interrupted: \(timedOut.stderr)")
            try await Self.expectState(session, "1 False []\n", "after the timeout")
            limits = RunLimits()
            limits.cpuTime = .milliseconds(300)
            let spun = try await session.collect(RunRequest(code: "x = 3\nwhile True: pass", limits: limits))
            #expect(spun.verdict.status == .timeout && spun.verdict.limit == .cpu && spun.verdict.rolledBack, "\(spun.verdict)")
            try await Self.expectState(session, "1 False []\n", "after the CPU limit")
        }

        @Test func aCellPastTheSessionsMemoryIsRolledBack() async throws {
            let session = try await Self.open(.root) { $0.memoryBytes = 128 << 20 }
            defer { session.close() }
            _ = try await session.collect("x = 1")
            let hog = try await session.collect("x = 2\nimport tabnanny\nhog = bytearray(200 << 20)\nhog[::4096] = b'x' * len(hog[::4096])")
            #expect(hog.verdict.status == .memoryLimit && hog.verdict.rolledBack, "\(hog.verdict)")
            try await Self.expectState(session, "1 False []\n", "after the memory limit")
        }

        @Test(arguments: Mode.allCases)
        func aStuckInterruptIsRolledBackAndAnInterruptedCellKeepsItsEffects(mode: Mode) async throws {
            // The default grace: a polite cell under a loaded CI machine once took over 800 ms to take its interrupt.
            let session = try await Self.open(mode) { $0.interruptGrace = .seconds(2) }
            defer { session.close() }
            _ = try await session.collect("x = 1")
            let stubborn = try session.start(RunRequest(code: """
                x = 2
                import tabnanny, signal, time
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                print('ignoring', flush=True)
                while True: time.sleep(0.01)
                """))
            let stuck = await Self.cancelOnceItPrints(stubborn)
            #expect(stuck.verdict.status == .cancelled && stuck.verdict.rolledBack, "\(stuck.verdict)")
            // The snapshot has the interrupt handler of before: x = 1, and SIGINT interrupts again.
            try await Self.expectState(session, "1 False []\n", "after the stuck interrupt")
            let polite = try session.start(RunRequest(code: "x = 5\nimport tabnanny, time\nprint('waiting', flush=True)\ntime.sleep(30)"))
            let interrupted = await Self.cancelOnceItPrints(polite)
            #expect(interrupted.verdict.status == .cancelled && !interrupted.verdict.rolledBack, "\(interrupted.verdict)")
            #expect(interrupted.stderr.contains("KeyboardInterrupt"))
            try await Self.expectState(session, "5 True []\n", "KeyboardInterrupt keeps what the cell did")
        }

        /// Cancelled the moment it prints, a cell is about to sleep: an
        /// interrupt that lands before the sleep begins is taken by CPython
        /// only when the sleep ends, so the service repeats it. Every cell
        /// takes exactly one KeyboardInterrupt and keeps its effects.
        @Test(arguments: Mode.allCases)
        func aCellInterruptedJustBeforeItSleepsTakesTheInterrupt(mode: Mode) async throws {
            let session = try await Self.open(mode)
            defer { session.close() }
            _ = try await session.collect("import time\ncells = 0")
            for cell in 1...40 {
                let run = try session.start(RunRequest(code: """
                    cells += 1
                    try:
                        print('sleeping', flush=True)
                        time.sleep(30)
                    except KeyboardInterrupt:
                        time.sleep(0.1)  # the repeated interrupt does not cut this short
                        raise
                    """))
                let interrupted = await Self.cancelOnceItPrints(run)
                #expect(interrupted.verdict.status == .cancelled && !interrupted.verdict.rolledBack, "cell \(cell): \(interrupted.verdict)")
                #expect(interrupted.stderr.components(separatedBy: "KeyboardInterrupt").count == 2, "cell \(cell): \(interrupted.stderr)")
            }
            let counted = try await session.collect("print(cells)")
            #expect(counted.stdout == "40\n", "\(counted.stdout) \(counted.stderr)")
        }

        @Test func anExceptionKeepsItsEffectsAndAnExitEndsTheSession() async throws {
            let session = try await Self.open(.root)
            _ = try await session.collect("x = 1")
            let failed = try await session.collect("x = 7\nimport tabnanny\nraise ValueError('kept')")
            #expect(failed.verdict.status == .error && !failed.verdict.rolledBack)
            try await Self.expectState(session, "7 True []\n", "an exception keeps the cell's effects")
            let exited = try await session.collect("os._exit(3)")
            #expect(!exited.verdict.rolledBack, "\(exited.verdict)")
            #expect(await SessionTests.end(of: session, within: .seconds(10)) == .crashed("its interpreter exited with status 3"))
        }

        @Test func withoutRollbackAKilledCellEndsTheSession() async throws {
            let session = try await Self.open(.root) { $0.rollsBack = false }
            _ = try await session.collect("x = 1")
            let killed = try await session.collect("import os\nos.kill(os.getpid(), 9)")
            #expect(killed.verdict.status == .killed && !killed.verdict.rolledBack, "\(killed.verdict)")
            #expect(await SessionTests.end(of: session, within: .seconds(10)) == .crashed("its interpreter died of signal 9"))
        }

        /// Cancels `run` once it has printed, and collects it to its verdict.
        static func cancelOnceItPrints(_ run: any SandboxRun) async -> (verdict: Verdict, stderr: String) {
            var stderr: [UInt8] = []
            var cancelled = false
            for await item in run.output {
                guard case .text(let chunk) = item else { continue }
                if chunk.stream == .stderr { stderr += chunk.bytes }
                if !cancelled {
                    cancelled = true
                    run.cancel()
                }
            }
            return (await run.verdict(), String(decoding: stderr, as: UTF8.self))
        }
    }
}
