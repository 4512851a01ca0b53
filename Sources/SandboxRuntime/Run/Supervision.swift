import Logging
import NIOCore
import SandboxProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Watches one sandbox from launch to verdict: hands over the program when
/// it arrives, feeds stdin, reads output and the launcher's report, and
/// enforces the wall clock and the output limit.
struct Supervision: Sendable {
    let descriptors: RunDescriptors
    let limits: RunLimits
    let killer: RunKiller
    let outputSink: AsyncStream<RunOutput>.Continuation
    let stdinWanted: StdinWantedSignal
    /// The program's `pip install`s; its channel owns `descriptors.request`
    /// from the start, which stays open for the answers (the bootstrap
    /// reads the request by its length, not to its end).
    let packages: PackagesRequests
    let readiness: EventLoopPromise<Bool>
    let logger: Logger
    /// What went wrong when the status channel ends without the run's report.
    var missingReport = "the launcher ended without a report"

    /// Watches the run to its verdict, which goes to `publish` at once, and
    /// the launcher to its exit; true if a signal ended the launcher.
    func run(
        deliveries: AsyncStream<RunDelivery>, stdinChunks: AsyncStream<[UInt8]>,
        publish: @Sendable (Verdict) -> Void
    ) async -> Bool {
        // The launcher reports before it cleans up and exits; the verdict does
        // not wait for that. Its end is followed beside the run, and reaped.
        let (reports, reportSink) = AsyncStream.makeStream(of: LauncherReport.self)
        return await withTaskGroup(of: Bool.self) { launcher in
            launcher.addTask { await followLauncher(reportSink) }
            publish(await watchRun(deliveries: deliveries, stdinChunks: stdinChunks, reports: reports))
            return await launcher.next() ?? false
        }
    }

    private func watchRun(
        deliveries: AsyncStream<RunDelivery>, stdinChunks: AsyncStream<[UInt8]>, reports: AsyncStream<LauncherReport>
    ) async -> Verdict {
        let stopwatch = Stopwatch()
        let budget = OutputBudget(limit: limits.maxOutputBytes)
        let frames = FrameReader()
        let report = await withTaskGroup(of: Void.self) { background -> LauncherReport in
            background.addTask {
                var iterator = deliveries.makeAsyncIterator()
                guard let delivery = await iterator.next() else { return }  // discarded before it got a program
                budget.setLimit(delivery.maxOutputBytes)
                // Before the request: the program's first frame can only follow it.
                frames.expect(delivery)
                stopwatch.start()
                await deliver(delivery)
            }
            background.addTask { await PipeIO.writeChunks(stdinChunks, to: descriptors.stdin) }
            let report = await withTaskGroup(of: LauncherReport?.self) { readers -> LauncherReport in
                readers.addTask {
                    await pump(descriptors.stdout, stream: .stdout, budget: budget, frames: frames, readiness: readiness)
                    return nil
                }
                readers.addTask {
                    await pump(descriptors.stderr, stream: .stderr, budget: budget, frames: nil, readiness: nil)
                    return nil
                }
                readers.addTask {
                    for await report in reports { return report }
                    return LauncherReport()
                }
                var report = LauncherReport()
                for await finished in readers {
                    if let finished { report = finished }
                }
                return report
            }
            background.cancelAll()
            return report
        }
        readiness.succeed(false)  // ignored once the ready signal came
        packages.finish()
        outputSink.finish()
        let totals = budget.totals
        let wallMs = stopwatch.elapsedMilliseconds
        // A sandbox whose setup failed never ran the program: the exit status
        // the launcher reports then is its own (111), not the program's.
        let ran = !report.setupFailed
        var verdict = Verdict(
            status: .ok, exitCode: ran ? report.commandExitCode.map(Int.init) : nil, signal: ran ? report.commandSignal.map(Int.init) : nil,
            wallMs: wallMs, cpuMs: report.cpuMicroseconds / 1000,
            maxRssKb: report.maxRssKb, peakMemoryKb: report.cgroupActive && ran ? report.peakMemoryKb : nil,
            stdoutBytes: totals.stdout, stderrBytes: totals.stderr, displayBytes: totals.display, truncated: totals.truncated)
        (verdict.files, verdict.omittedFiles) = frames.returnedFiles()
        // Output past the limit is `outputLimit` even when the program had
        // exited, and been reaped, before its last output was read: the kill
        // then came too late to be recorded.
        let killReason = killer.reason ?? (totals.truncated ? .outputLimit : nil)
        (verdict.status, verdict.limit, verdict.message) = OneOffRun.classify(
            report: report, killReason: killReason, limits: limits, missingReport: missingReport)
        if verdict.status == .internalError {
            logger.error("sandbox failure", metadata: ["message": "\(verdict.message ?? "")"])
        }
        return verdict
    }

    /// Writes the request and keeps the wall clock until the run ends (this task is then cancelled).
    private func deliver(_ delivery: RunDelivery) async {
        await withTaskGroup(of: Void.self) { run in
            let request = dup(descriptors.request)  // the answers' channel keeps its own
            if request >= 0 { run.addTask { await PipeIO.writeAll(delivery.body, to: request) } }
            run.addTask {
                try? await Task.sleep(for: delivery.timeout)
                if !Task.isCancelled { killer.kill(.timeout) }
            }
        }
    }

    /// Passes output on within the budget. On stdout the bootstrap's first
    /// byte is not output but its ready signal, and frames (displays,
    /// returned files) are taken out of the text.
    private func pump(
        _ fd: CInt, stream: OutputChunk.Stream, budget: OutputBudget, frames: FrameReader?,
        readiness: EventLoopPromise<Bool>?
    ) async {
        let delivery = OutputDelivery(
            sink: outputSink, budget: budget, stdinWanted: stdinWanted, packages: frames != nil ? packages : nil
        ) { [killer] in
            killer.kill(.outputLimit)
        }
        var awaitingReadySignal = readiness != nil
        await PipeIO.readChunks(from: fd) { buffer in
            var buffer = buffer
            if awaitingReadySignal, let signal = buffer.readInteger(as: UInt8.self) {
                awaitingReadySignal = false
                readiness?.succeed(signal == 0)
            }
            guard buffer.readableBytes > 0 else { return }
            guard let frames else {
                delivery.passOn(buffer.readableBytesView, of: stream)
                return
            }
            for piece in frames.feed(buffer.readableBytesView) { _ = delivery.handle(piece, frames: frames, logger: logger) }
        }
        for piece in frames?.finish() ?? [] { _ = delivery.handle(piece, frames: frames!, logger: logger) }
    }

    /// Reads the launcher's status lines to the end: hands over the report
    /// at its final line (or at the end, if the launcher died first), then
    /// logs what went wrong during cleanup, and reaps the launcher; true if
    /// a signal ended it.
    private func followLauncher(_ reportSink: AsyncStream<LauncherReport>.Continuation) async -> Bool {
        var report = LauncherReport()
        var partialLine: [UInt8] = []
        var received = 0
        await PipeIO.readChunks(from: descriptors.status) { buffer in
            received += buffer.readableBytes
            guard received < 1 << 16 else { return }  // a launcher says little; ignore floods
            partialLine += buffer.readableBytesView
            while let newline = partialLine.firstIndex(of: UInt8(ascii: "\n")) {
                let wasFinished = report.finished
                report.consume(line: Substring(String(decoding: partialLine[..<newline], as: UTF8.self)))
                partialLine.removeSubrange(...newline)
                if report.finished && !wasFinished {
                    reportSink.yield(report)
                    reportSink.finish()
                } else if wasFinished, let failure = report.failures.last {
                    logger.warning("launcher cleanup failure", metadata: ["report": "\(failure.line)"])
                }
            }
        }
        reportSink.yield(report)  // ignored once the final line was handed over
        reportSink.finish()
        return await killer.reap()
    }
}

/// The run's wall clock, started when the program is handed over.
final class Stopwatch: Sendable {
    private let started = Mutex<ContinuousClock.Instant?>(nil)

    func start() {
        started.withLock { $0 = .now }
    }

    /// 0 for a sandbox that never got a program.
    var elapsedMilliseconds: Int {
        started.withLock { $0 }.map { Int((ContinuousClock.now - $0) / .milliseconds(1)) } ?? 0
    }
}

extension OneOffRun {
    static func classify(
        report: LauncherReport, killReason: KillReason?, limits: RunLimits,
        missingReport: String = "the launcher ended without a report"
    ) -> (RunStatus, TimeLimit?, String?) {
        switch killReason {
        case .timeout: return (.timeout, .wall, nil)
        case .cancelled: return (.cancelled, nil, nil)
        case .outputLimit: return (.outputLimit, nil, nil)
        case nil: break
        }
        if report.setupFailed {
            return (.internalError, nil, report.failureMessage)
        }
        guard report.finished else {
            return (.internalError, nil, report.failureMessage ?? missingReport)
        }
        switch report.limitReached {
        case .cpu: return (.timeout, .cpu, nil)
        case .memory: return (.memoryLimit, nil, nil)
        case nil: break
        }
        let failed = report.commandSignal != nil || report.commandExitCode != 0
        if report.oomKills > 0 && failed {
            return (.memoryLimit, nil, nil)
        }
        if let signal = report.commandSignal {
            // RLIMIT_CPU, the per-process backstop: SIGXCPU, then SIGKILL a second later.
            let cpuExhausted = report.cpuMicroseconds >= limits.cpuTimeMilliseconds * 1000
            if signal == SIGXCPU || (signal == SIGKILL && cpuExhausted) { return (.timeout, .cpu, nil) }
            return (.killed, nil, nil)
        }
        guard let exitCode = report.commandExitCode else {
            return (.internalError, nil, report.failureMessage ?? "the launcher did not report how the program ended")
        }
        return (exitCode == 0 ? .ok : .error, nil, nil)
    }
}
