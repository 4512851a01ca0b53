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
                guard let delivery = await iterator.next() else {
                    close(descriptors.request)  // discarded before it got a program
                    return
                }
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
        (verdict.status, verdict.limit, verdict.message) = LauncherRun.classify(
            report: report, killReason: killer.reason, limits: limits, missingReport: missingReport)
        if verdict.status == .internalError {
            logger.error("sandbox failure", metadata: ["message": "\(verdict.message ?? "")"])
        }
        return verdict
    }

    /// Writes the request and keeps the wall clock until the run ends (this task is then cancelled).
    private func deliver(_ delivery: RunDelivery) async {
        await withTaskGroup(of: Void.self) { run in
            run.addTask { await PipeIO.writeAll(delivery.body, to: descriptors.request) }
            run.addTask {
                try? await Task.sleep(for: delivery.wallTimeout)
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
        var awaitingReadySignal = readiness != nil
        await PipeIO.readChunks(from: fd) { buffer in
            var buffer = buffer
            if awaitingReadySignal, let signal = buffer.readInteger(as: UInt8.self) {
                awaitingReadySignal = false
                readiness?.succeed(signal == 0)
            }
            guard buffer.readableBytes > 0 else { return }
            guard let frames else {
                passOn(buffer.readableBytesView, of: stream, budget: budget)
                return
            }
            for piece in frames.feed(buffer.readableBytesView) { handle(piece, budget: budget, frames: frames) }
        }
        for piece in frames?.finish() ?? [] { handle(piece, budget: budget, frames: frames!) }
    }

    private func passOn(_ bytes: some Collection<UInt8>, of stream: OutputChunk.Stream, budget: OutputBudget) {
        let allowed = budget.admit(bytes.count, from: stream)
        if allowed > 0 {
            outputSink.yield(.text(OutputChunk(stream: stream, bytes: Array(bytes.prefix(allowed)))))
        }
        // Past the limit, keep draining so the program never blocks on a full pipe before it dies.
        if allowed < bytes.count { killer.kill(.outputLimit) }
    }

    private func handle(_ piece: StdoutFrames.Piece, budget: OutputBudget, frames: FrameReader) {
        switch piece {
        case .text(let bytes):
            passOn(bytes, of: .stdout, budget: budget)
        case .frame(.display, let payload):
            // A display that does not decode is dropped, but its bytes still count.
            guard budget.admitDisplay(payload.count) else {
                killer.kill(.outputLimit)
                return
            }
            if let display = FrameDecoding.display(payload) { outputSink.yield(.display(display)) }
        case .frame(.files, let payload):
            frames.received(filesFrame: payload)
        case .oversized(let kind, let length):
            logger.debug("oversized frame", metadata: ["kind": "\(kind)", "bytes": "\(length)"])
            budget.cutShort()
            killer.kill(.outputLimit)
        case .malformed:
            budget.cutShort()
            killer.kill(.outputLimit)
        }
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

/// The stdout frame parser of one run, set up when its program is handed
/// over, and the returned files it has seen.
private final class FrameReader: Sendable {
    private struct State {
        var frames: StdoutFrames?
        var patterns: [String] = []
        var maxReturnBytes = 0
        var returned: (files: [ReturnedFile], omitted: [OmittedFile])?
    }

    private let state = Mutex(State())

    func expect(_ delivery: RunDelivery) {
        let maxDisplay = delivery.maxDisplayBytes
        // Base64 of the limit, plus room for the JSON of a full count of paths.
        let maxFiles = delivery.maxReturnBytes / 3 * 4 + 4 + RunRequest.maxReturnedFiles * 4200
        state.withLock {
            $0.frames = StdoutFrames(marker: delivery.frameMarker) { $0 == .display ? maxDisplay : maxFiles }
            $0.patterns = delivery.returnFiles
            $0.maxReturnBytes = delivery.maxReturnBytes
        }
    }

    /// Before `expect`, stdout carries nothing but the ready signal: passed on as text.
    func feed(_ bytes: some Collection<UInt8>) -> [StdoutFrames.Piece] {
        state.withLock { state in
            guard state.frames != nil else { return [.text(Array(bytes))] }
            return state.frames!.feed(bytes)
        }
    }

    func finish() -> [StdoutFrames.Piece] {
        state.withLock { $0.frames?.finish() ?? [] }
    }

    func received(filesFrame payload: [UInt8]) {
        let maxBytes = state.withLock { $0.maxReturnBytes }
        let returned = FrameDecoding.returnedFiles(payload, maxBytes: maxBytes)  // megabytes of JSON: not under the lock
        state.withLock { $0.returned = returned }
    }

    /// nil without `returnFiles`; without a files frame (the program did
    /// not end by itself), every pattern is listed as not collected.
    func returnedFiles() -> ([ReturnedFile]?, [OmittedFile]?) {
        state.withLock { state in
            guard !state.patterns.isEmpty else { return (nil, nil) }
            guard let returned = state.returned else {
                return ([], state.patterns.map { OmittedFile(path: $0, reason: .notCollected) })
            }
            return (returned.files, returned.omitted)
        }
    }
}

/// The run's wall clock, started when the program is handed over.
private final class Stopwatch: Sendable {
    private let started = Mutex<ContinuousClock.Instant?>(nil)

    func start() {
        started.withLock { $0 = .now }
    }

    /// 0 for a sandbox that never got a program.
    var elapsedMilliseconds: Int {
        started.withLock { $0 }.map { Int((ContinuousClock.now - $0) / .milliseconds(1)) } ?? 0
    }
}

extension LauncherRun {
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
