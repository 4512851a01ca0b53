import Foundation
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One program running in its own sandbox.
///
/// Read `output` for stdout and stderr as they are produced; it finishes
/// before `verdict()` returns. Every run ends with exactly one verdict, also
/// when nobody reads its output.
public final class SandboxRun: Sendable {
    public let output: AsyncStream<OutputChunk>
    private let stdinInput: AsyncStream<[UInt8]>.Continuation
    private let killer: RunKiller
    private let outcome: Task<Verdict, Never>

    init(request: RunRequest, launcher: String, arguments: [String], logger: Logger) throws {
        let requestBody = try JSONEncoder().encode(BootstrapRequest(code: request.code, files: request.files))
        let pipes = try (0..<5).map { _ in try ClosingPipe() }
        let (stdin, stdout, stderr, requestPipe, status) = (pipes[0], pipes[1], pipes[2], pipes[3], pipes[4])
        // The launcher's fds 0-4, in order; the other ends stay here.
        let childEnds = [stdin.readEnd, stdout.writeEnd, stderr.writeEnd, requestPipe.readEnd, status.writeEnd]
        let pid: pid_t
        do {
            pid = try Spawner.spawn(path: launcher, arguments: arguments, environment: [], descriptors: childEnds)
        } catch {
            pipes.forEach { $0.closeBoth() }
            throw error
        }
        childEnds.forEach { close($0) }

        let (output, outputSink) = AsyncStream.makeStream(of: OutputChunk.self)
        let (stdinChunks, stdinInput) = AsyncStream.makeStream(of: [UInt8].self)
        switch request.stdin {
        case .none: stdinInput.finish()
        case .bytes(let bytes): stdinInput.yield(bytes); stdinInput.finish()
        case .interactive: break
        }
        let killer = RunKiller(pid: pid)
        let descriptors = RunDescriptors(
            stdin: stdin.writeEnd, stdout: stdout.readEnd, stderr: stderr.readEnd,
            request: requestPipe.writeEnd, status: status.readEnd)
        self.output = output
        self.stdinInput = stdinInput
        self.killer = killer
        self.outcome = Task {
            await Self.supervise(
                descriptors: descriptors, requestBody: Array(requestBody), stdinChunks: stdinChunks,
                limits: request.limits, killer: killer, outputSink: outputSink, logger: logger)
        }
    }

    /// The verdict, once the run has ended and its output has been delivered.
    public func verdict() async -> Verdict {
        await outcome.value
    }

    /// Ends the run with `cancelled`, queued output included; harmless after the end.
    public func cancel() {
        killer.kill(.cancelled)
    }

    /// Sends bytes to the program's stdin (interactive runs).
    public func writeStdin(_ bytes: [UInt8]) {
        stdinInput.yield(bytes)
    }

    /// Closes the program's stdin: `input()` then raises EOFError.
    public func closeStdin() {
        stdinInput.finish()
    }
}

private struct BootstrapRequest: Encodable {
    var code: String
    var files: [String: String]
}

private struct RunDescriptors: Sendable {
    var stdin: CInt
    var stdout: CInt
    var stderr: CInt
    var request: CInt
    var status: CInt
}

extension SandboxRun {
    private static func supervise(
        descriptors: RunDescriptors, requestBody: [UInt8], stdinChunks: AsyncStream<[UInt8]>, limits: RunLimits,
        killer: RunKiller, outputSink: AsyncStream<OutputChunk>.Continuation, logger: Logger
    ) async -> Verdict {
        let clock = ContinuousClock()
        let started = clock.now
        let budget = OutputBudget(limit: limits.maxOutputBytes)
        let report = await withTaskGroup(of: Void.self) { background -> LauncherReport in
            background.addTask {
                let (body, sink) = AsyncStream.makeStream(of: [UInt8].self)
                sink.yield(requestBody)
                sink.finish()
                await PipeIO.writeChunks(body, to: descriptors.request)
            }
            background.addTask { await PipeIO.writeChunks(stdinChunks, to: descriptors.stdin) }
            background.addTask {
                try? await Task.sleep(for: limits.wallTimeout)
                if !Task.isCancelled { killer.kill(.timeout) }
            }
            let report = await withTaskGroup(of: LauncherReport?.self) { readers -> LauncherReport in
                for (fd, stream) in [(descriptors.stdout, OutputChunk.Stream.stdout), (descriptors.stderr, .stderr)] {
                    readers.addTask {
                        await pump(fd, stream: stream, budget: budget, killer: killer, sink: outputSink)
                        return nil
                    }
                }
                readers.addTask { await readReport(descriptors.status) }
                var report = LauncherReport()
                for await finished in readers {
                    if let finished { report = finished }
                }
                return report
            }
            background.cancelAll()
            return report
        }
        await killer.reap()
        outputSink.finish()
        let totals = budget.totals
        var verdict = Verdict(
            status: .ok, exitCode: report.commandExitCode, signal: report.commandSignal,
            wallMs: Int((clock.now - started) / .milliseconds(1)), cpuMs: report.cpuMicroseconds / 1000,
            maxRssKb: report.maxRssKb, peakMemoryKb: report.cgroupActive ? report.peakMemoryKb : nil,
            stdoutBytes: totals.stdout, stderrBytes: totals.stderr, truncated: totals.truncated)
        (verdict.status, verdict.message) = classify(report: report, killReason: killer.reason, limits: limits)
        if verdict.status == .internalError {
            logger.error("sandbox failure", metadata: ["message": "\(verdict.message ?? "")"])
        } else if !report.failures.isEmpty {
            // e.g. a cgroup that could not be removed after the run: the run itself was fine.
            logger.warning("launcher cleanup failure", metadata: ["report": "\(report.failures.map(\.line))"])
        }
        return verdict
    }

    private static func pump(
        _ fd: CInt, stream: OutputChunk.Stream, budget: OutputBudget, killer: RunKiller,
        sink: AsyncStream<OutputChunk>.Continuation
    ) async {
        await PipeIO.readChunks(from: fd) { buffer in
            let allowed = budget.admit(buffer.readableBytes, from: stream)
            if allowed > 0 {
                sink.yield(OutputChunk(stream: stream, bytes: Array(buffer.readableBytesView.prefix(allowed))))
            }
            // Past the limit, keep draining so the program never blocks on a full pipe before it dies.
            if allowed < buffer.readableBytes { killer.kill(.outputLimit) }
        }
    }

    private static func readReport(_ fd: CInt) async -> LauncherReport {
        var bytes: [UInt8] = []
        await PipeIO.readChunks(from: fd) { buffer in
            if bytes.count < 1 << 16 { bytes += buffer.readableBytesView }
        }
        var report = LauncherReport()
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            report.consume(line: line)
        }
        return report
    }

    static func classify(report: LauncherReport, killReason: KillReason?, limits: RunLimits) -> (Verdict.Status, String?) {
        switch killReason {
        case .timeout: return (.timeout, nil)
        case .cancelled: return (.cancelled, nil)
        case .outputLimit: return (.outputLimit, nil)
        case nil: break
        }
        if report.setupFailed {
            return (.internalError, report.failureMessage)
        }
        guard report.finished else {
            return (.internalError, report.failureMessage ?? "the launcher ended without a report")
        }
        let failed = report.commandSignal != nil || report.commandExitCode != 0
        if report.oomKills > 0 && failed {
            return (.memoryLimit, nil)
        }
        if let signal = report.commandSignal {
            let cpuExhausted = report.cpuMicroseconds >= limits.cpuSeconds * 1_000_000
            if signal == SIGXCPU || (signal == SIGKILL && cpuExhausted) { return (.timeout, nil) }
            return (.killed, nil)
        }
        guard let exitCode = report.commandExitCode else {
            return (.internalError, report.failureMessage ?? "the launcher did not report how the program ended")
        }
        return (exitCode == 0 ? .ok : .error, nil)
    }
}
