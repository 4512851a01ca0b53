import Logging
import NIOCore
import SandboxProtocol
import Synchronization

/// Why the service interrupted a session's cell.
enum CellInterruption: Sendable {
    case cancelled
    case timeout
    case cpuTimeout
    case outputLimit
}

/// How the slot reported a cell it rolled back.
struct Rollback: Sendable {
    /// The signal that ended the session's interpreter (9 when the slot ended it).
    var signal: Int
    /// It was over the session's memory limit.
    var memory: Bool
}

/// What a running cell waits for.
enum CellEvent: Sendable {
    /// Both its streams carried its end frame: the program is done with it.
    case programEnded
    /// The slot has counted its CPU time.
    case accounted
    /// The session ended first.
    case sessionEnded
}

/// A session's stdout, stderr and status channel, sorted into its cells.
/// Everything between a cell's request and its end frames (one on each
/// stream, with the cell's nonce) is that cell's; what comes between cells
/// (a thread a cell left, before the slot stopped it) belongs to no cell and
/// is dropped. The end frames are forgeable: a program that forges one ends
/// its own cell early and is stopped until its next; its CPU time, wall
/// clock and limits are the service's own readings all the same.
final class SessionStreams: Sendable {
    private struct Current {
        let cell: SessionCell
        let marker: [UInt8]
        let frames = FrameReader()
        var stderrFrames: StdoutFrames
        let delivery: OutputDelivery
        let events: AsyncStream<CellEvent>.Continuation
        var exitStatus: Int?
        var stderrEnded = false
        var interruption: CellInterruption?
        var cpuMicroseconds: Int?
        /// The largest resident set any process of the session has had.
        var maxRssKb = 0
        /// The session's peak memory during the cell, as its cgroup counted it; nil without one.
        var peakMemoryKb: Int?
        /// The slot found the session over its memory limit at the cell's end.
        var overMemoryLimit = false
        /// The slot rolled the cell back: the session is as it was before it.
        var rollback: Rollback?

        var programEnded: Bool { exitStatus != nil && stderrEnded }
    }

    private struct State {
        var current: Current?
        var end: SandboxSessionEnd?
        var report = LauncherReport()
    }

    private let state = Mutex(State())
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// `cell` is the session's now: what its streams carry from here is its own.
    func begin(_ cell: SessionCell, exceeded: @escaping @Sendable () -> Void) -> AsyncStream<CellEvent> {
        let (events, sink) = AsyncStream.makeStream(of: CellEvent.self)
        let marker = Bootstrap.frameMarker()
        let delivery = RunDelivery(
            body: [], timeout: cell.limits.timeout, maxOutputBytes: cell.limits.maxOutputBytes,
            maxDisplayBytes: cell.limits.maxDisplayBytes, maxReturnBytes: cell.limits.maxReturnBytes,
            returnFiles: cell.request.returnFiles, frameMarker: marker)
        let current = Current(
            cell: cell, marker: marker,
            stderrFrames: StdoutFrames(marker: marker) { $0 == .end ? 24 : 0 },
            delivery: OutputDelivery(
                sink: cell.outputSink, budget: OutputBudget(limit: cell.limits.maxOutputBytes),
                stdinWanted: cell.stdinWanted, packages: cell.packages, exceeded: exceeded),
            events: sink)
        current.frames.expect(delivery)
        let ended = state.withLock { state -> Bool in
            guard state.end == nil else { return true }
            state.current = current
            return false
        }
        if ended {
            state.withLock { $0.current = current }
            sink.yield(.sessionEnded)
        }
        return events
    }

    /// The request a session's bootstrap reads for the current cell.
    func requestBody(for cell: SessionCell) -> [UInt8] {
        let marker = state.withLock { $0.current?.marker } ?? Bootstrap.frameMarker()
        return Bootstrap.request(cell.request, frameMarker: marker)
    }

    /// Records why `cell` is interrupted; false if it is not running, or was already interrupted.
    func interrupt(_ cell: SessionCell, because reason: CellInterruption) -> Bool {
        state.withLock { state in
            guard state.current?.cell === cell, state.current?.programEnded == false,
                  state.current?.interruption == nil else { return false }
            state.current?.interruption = reason
            return true
        }
    }

    func interruptCurrent(because reason: CellInterruption) {
        state.withLock { state in
            if state.current?.interruption == nil { state.current?.interruption = reason }
        }
    }

    /// Whether `cell` runs and its program has not ended it.
    func isRunning(_ cell: SessionCell) -> Bool {
        state.withLock { $0.current?.cell === cell && $0.current?.programEnded == false }
    }

    /// The session is over (its streams and status channel read to the end).
    func sessionEnded(_ end: SandboxSessionEnd) {
        let events = state.withLock { state in
            state.end = end
            return state.current?.events
        }
        events?.yield(.sessionEnded)
    }

    /// The cell's verdict, from how it ended; the session has no current cell after this.
    func finish(_ cell: SessionCell, wallMs: Int) -> Verdict {
        let (taken, end, report) = state.withLock { state -> (Current?, SandboxSessionEnd?, LauncherReport) in
            guard state.current?.cell === cell else { return (nil, state.end, state.report) }
            defer { state.current = nil }
            return (state.current, state.end, state.report)
        }
        guard let current = taken else { return Verdict(status: .internalError, message: "the cell was not the session's") }
        current.events.finish()
        let totals = current.delivery.budget.totals
        var verdict = Verdict(
            status: .ok, exitCode: current.exitStatus, wallMs: wallMs, cpuMs: (current.cpuMicroseconds ?? 0) / 1000,
            stdoutBytes: totals.stdout, stderrBytes: totals.stderr, displayBytes: totals.display, truncated: totals.truncated)
        (verdict.maxRssKb, verdict.peakMemoryKb) = (current.maxRssKb, current.peakMemoryKb)
        (verdict.files, verdict.omittedFiles) = current.frames.returnedFiles()
        if let rollback = current.rollback {
            Self.classify(&verdict, rolledBack: rollback, interruption: current.interruption)
            return verdict
        }
        switch current.interruption {
        case .cancelled: verdict.status = .cancelled
        case .timeout: (verdict.status, verdict.limit) = (.timeout, .wall)
        case .cpuTimeout: (verdict.status, verdict.limit) = (.timeout, .cpu)
        case .outputLimit: verdict.status = .outputLimit
        case nil:
            // Output past the limit after the cell had already ended: the interrupt came too late.
            if totals.truncated {
                verdict.status = .outputLimit
            } else if current.overMemoryLimit {
                (verdict.status, verdict.exitCode) = (.memoryLimit, nil)
            } else if let status = current.exitStatus, current.programEnded {
                verdict.status = status == 0 ? .ok : .error
            } else {
                Self.classify(&verdict, endedBy: end, report: report)
            }
        }
        return verdict
    }

    /// A cell rolled back: why, as the service interrupted it or the slot saw it end.
    private static func classify(_ verdict: inout Verdict, rolledBack rollback: Rollback, interruption: CellInterruption?) {
        verdict.rolledBack = true
        verdict.exitCode = nil
        switch interruption {
        case .cancelled: verdict.status = .cancelled
        case .timeout: (verdict.status, verdict.limit) = (.timeout, .wall)
        case .cpuTimeout: (verdict.status, verdict.limit) = (.timeout, .cpu)
        case .outputLimit: verdict.status = .outputLimit
        case nil where rollback.memory: verdict.status = .memoryLimit
        case nil: (verdict.status, verdict.signal) = (.killed, rollback.signal)
        }
    }

    /// A cell the session's end cut short.
    private static func classify(_ verdict: inout Verdict, endedBy end: SandboxSessionEnd?, report: LauncherReport) {
        verdict.exitCode = nil
        switch end {
        case .memoryLimit: verdict.status = .memoryLimit
        case .cpuLimit: (verdict.status, verdict.limit) = (.timeout, .cpu)
        case .closed, .killed: verdict.status = .cancelled
        case .crashed:
            verdict.exitCode = report.commandExitCode.map(Int.init)
            verdict.signal = report.commandSignal.map(Int.init)
            verdict.status = verdict.signal != nil ? .killed : verdict.exitCode == 0 ? .ok : .error
        case .failed(let message): (verdict.status, verdict.message) = (.internalError, message)
        case nil: (verdict.status, verdict.message) = (.internalError, "the cell ended without an end")
        }
    }

    // MARK: Reading

    /// stdout to its end: the ready signal (its first byte), then each cell's text and frames.
    func readStdout(_ fd: CInt, readiness: EventLoopPromise<Bool>) async {
        var awaitingReadySignal = true
        await PipeIO.readChunks(from: fd) { buffer in
            var buffer = buffer
            if awaitingReadySignal, let signal = buffer.readInteger(as: UInt8.self) {
                awaitingReadySignal = false
                readiness.succeed(signal == 0)
            }
            guard buffer.readableBytes > 0 else { return }
            // Fed under no lock of ours: the FrameReader has its own.
            guard let (frames, delivery) = state.withLock({ state in
                state.current.flatMap { $0.exitStatus == nil ? ($0.frames, $0.delivery) : nil }
            }) else { return }
            for piece in frames.feed(buffer.readableBytesView) {
                guard let status = delivery.handle(piece, frames: frames, logger: logger) else { continue }
                ended(stream: .stdout, status: status)
                break  // what follows the end frame is no cell's
            }
        }
    }

    func readStderr(_ fd: CInt) async {
        await PipeIO.readChunks(from: fd) { buffer in
            let (pieces, delivery) = state.withLock { state -> ([StdoutFrames.Piece], OutputDelivery?) in
                guard state.current != nil, state.current?.stderrEnded == false else { return ([], nil) }
                return (state.current!.stderrFrames.feed(buffer.readableBytesView), state.current!.delivery)
            }
            guard let delivery else { return }
            for piece in pieces {
                switch piece {
                case .text(let bytes): delivery.passOn(bytes, of: .stderr)
                case .frame(.end, _): ended(stream: .stderr, status: 0)
                default: break  // nothing else rides on stderr; a forged frame only mutes the cell's stderr
                }
            }
        }
    }

    /// The status channel to its end: each cell's CPU time and memory, a
    /// cell at its CPU limit or past the session's memory, and the
    /// session's final report, which this returns.
    func readStatus(_ fd: CInt, session: ForkServerSession) async -> LauncherReport {
        var partial: [UInt8] = []
        var received = 0
        await PipeIO.readChunks(from: fd) { buffer in
            received += buffer.readableBytes
            guard received < 1 << 20 else { return }  // a slot says little; ignore floods
            partial += buffer.readableBytesView
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Substring(String(decoding: partial[..<newline], as: UTF8.self))
                partial.removeSubrange(...newline)
                statusLine(line, session: session)
            }
        }
        return state.withLock { $0.report }
    }

    private func statusLine(_ line: Substring, session: ForkServerSession) {
        let status = StatusLine(line)
        guard status.kind == "cell" else {
            state.withLock { $0.report.consume(line: line) }
            return
        }
        if let cpu = status.int("cpu_us") {
            let events = state.withLock { state in
                state.current?.cpuMicroseconds = cpu
                state.current?.maxRssKb = status.int("maxrss_kb") ?? 0
                state.current?.peakMemoryKb = status.int("cgroup") == 1 ? status.int("peak_memory_kb") : nil
                return state.current?.events
            }
            events?.yield(.accounted)
        } else if line.hasPrefix("cell rollback_failed ") {
            // The session ends: its end says how, and the cell's verdict follows it.
            logger.notice("a cell could not be rolled back; the session ends", metadata: ["reason": "\(status.fields["reason"] ?? "")"])
        } else if line.hasPrefix("cell rolled_back ") {
            session.rolledBack()
            // No end frames will come: the interpreter that ran the cell is gone.
            let rollback = Rollback(signal: status.int("signal") ?? 0, memory: status.int("memory") == 1)
            let events = state.withLock { state -> AsyncStream<CellEvent>.Continuation? in
                guard var current = state.current, !current.programEnded else { return nil }
                current.rollback = rollback
                current.exitStatus = current.exitStatus ?? -1
                current.stderrEnded = true
                state.current = current
                return current.events
            }
            events?.yield(.programEnded)
        } else if status.fields["limit"] == "memory" {
            state.withLock { $0.current?.overMemoryLimit = true }
        } else if status.fields["limit"] == "cpu", let cell = state.withLock({ $0.current?.cell }) {
            session.interrupt(cell, because: .cpuTimeout, alreadySent: true)
        }
    }

    private func ended(stream: OutputChunk.Stream, status: Int) {
        let events = state.withLock { state -> AsyncStream<CellEvent>.Continuation? in
            guard state.current != nil else { return nil }
            switch stream {
            case .stdout: state.current?.exitStatus = status
            case .stderr: state.current?.stderrEnded = true
            }
            return state.current!.programEnded ? state.current?.events : nil
        }
        events?.yield(.programEnded)
    }
}
