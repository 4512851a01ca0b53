import SandboxProtocol
import SandboxRuntime

/// A run's `tests`: the program once per input, in the order given, each
/// time in a fresh sandbox of the pool with the run's limits (time, memory,
/// CPU and output are each test's own), so that no test sees another's
/// state, files, processes or output. Each result goes to the observer as
/// its test ends (`run/test`); the run's verdict sums them.
struct TestBatch {
    let job: RunJob
    let pools: WarmPools
    /// How long the run may go on starting tests (the server's largest
    /// `timeoutMs`): a run holds its worker for at most this plus one test,
    /// as one run may, and the others' runs get their turns. Tests not
    /// started by then are `notRun`, and the run ends `timeout`.
    let budget: Duration

    /// Runs the tests until the last, until the run is cancelled, or until
    /// its budget is spent; tests not reached are `notRun`. The verdict is
    /// `ok` when every test ran (whatever each came to), `cancelled`,
    /// `timeout` (`wall`: the budget), or `internalError` when a sandbox
    /// could not be had.
    func run() async -> RunResult {
        let queuedMs = milliseconds(since: job.accepted)
        job.observer.running(job)
        let started = ContinuousClock.now
        let share = Self.reportShare(maxOutputBytes: job.request.limits.maxOutputBytes, tests: job.tests.count)
        var results: [TestResult] = []
        results.reserveCapacity(job.tests.count)
        var failure: String?
        var outOfTime = false
        for (index, test) in job.tests.enumerated() {
            if ContinuousClock.now - started >= budget {
                outOfTime = true
                break
            }
            guard !job.cancelRequested, let result = await run(test, index: index, share: share) else { break }
            results.append(result)
            job.observer.tested(job, RunTestParams(id: job.id, test: result))
            if result.status == .internalError {
                failure = result.message
                break
            }
        }
        let cancelled = results.count < job.tests.count && failure == nil && !outOfTime
        for index in results.count..<job.tests.count {
            results.append(TestResult(index: index, name: job.tests[index].name, status: .notRun))
        }
        let status: RunStatus = failure != nil ? .internalError : cancelled ? .cancelled : outOfTime ? .timeout : .ok
        var verdict = Verdict(
            status: status, limit: outOfTime ? .wall : nil, exitCode: status == .ok ? 0 : nil, wallMs: milliseconds(since: started),
            cpuMs: results.reduce(0) { $0 + $1.cpuMs },
            peakMemoryKb: results.compactMap(\.peakMemoryKb).max(),
            stdoutBytes: results.reduce(0) { $0 + $1.stdoutBytes }, stderrBytes: results.reduce(0) { $0 + $1.stderrBytes },
            message: failure.map { "a test's sandbox failed: \($0)" })
        verdict.truncated = results.contains { $0.status == .outputLimit }
        return RunResult(verdict, queuedMs: queuedMs, tests: results)
    }

    /// One test in a sandbox of its own; nil when the run was cancelled before it started.
    private func run(_ test: RunTest, index: Int, share: Int) async -> TestResult? {
        var request = job.request
        request.stdin = .bytes(Array(test.stdin.utf8))
        let pool = await pools.pool(for: request.limits)
        let sandbox: any SandboxRun
        do {
            sandbox = try await pool.take(for: request.limits)
        } catch {
            return TestResult(index: index, name: test.name, status: .internalError, message: "could not launch a sandbox: \(error)")
        }
        let result = await run(test, index: index, share: share, request: request, in: sandbox)
        await pool.runEnded()
        return result
    }

    private func run(_ test: RunTest, index: Int, share: Int, request: RunRequest, in sandbox: any SandboxRun) async -> TestResult? {
        guard job.attachTest(sandbox) else {
            sandbox.cancel()
            _ = await sandbox.verdict()
            return nil
        }
        do {
            try sandbox.start(request)
        } catch {
            sandbox.cancel()
            _ = await sandbox.verdict()
            return TestResult(index: index, name: test.name, status: .internalError, message: error.message)
        }
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        for await output in sandbox.output {
            // The sandbox holds the test to its output limit; only what fits the report is kept.
            guard case .text(let chunk) = output else { continue }
            switch chunk.stream {
            case .stdout: stdout += chunk.bytes
            case .stderr: stderr += chunk.bytes
            }
        }
        let verdict = await sandbox.verdict()
        let status = TestResult.Status(verdict.status)
        let written = String(decoding: stdout, as: UTF8.self)
        return TestResult(
            index: index, name: test.name, status: status, limit: verdict.limit,
            passed: test.expectedStdout.map { status == .ok && (test.compare ?? .default).matches(written, expected: $0) },
            stdout: Self.cut(stdout, to: share), stderr: Self.cut(stderr, to: share),
            stdoutBytes: verdict.stdoutBytes, stderrBytes: verdict.stderrBytes, exitCode: verdict.exitCode, signal: verdict.signal,
            cpuMs: verdict.cpuMs, wallMs: verdict.wallMs, peakMemoryKb: verdict.peakMemoryKb, message: verdict.message)
    }

    /// How much of each stream of each test the results carry: the run's
    /// output limit shared by its tests (never under 256 bytes), so that a
    /// thousand tests' answer stays about the size of one run's output.
    static func reportShare(maxOutputBytes: Int, tests: Int) -> Int {
        max(256, maxOutputBytes / max(1, 2 * tests))
    }

    /// The text of `bytes`, at most `limit` bytes of it, cut at a character's start.
    static func cut(_ bytes: [UInt8], to limit: Int) -> String {
        guard bytes.count > limit else { return String(decoding: bytes, as: UTF8.self) }
        var end = limit
        // Back off continuation bytes (10xxxxxx) so the text ends on a whole character.
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
