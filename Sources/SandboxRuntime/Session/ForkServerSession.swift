import Logging
import NIOCore
import NIOPosix
import SandboxProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `SandboxSession`: a forked run (`--session`) that holds a fork-server
/// slot of its own for its life and runs cells one at a time. The
/// `SandboxSupervisor` owns its task (`supervise`): it starts the session,
/// reads its streams and status channel to the end, and gives the slot back.
/// `SessionStreams` sorts its output into cells; `SessionControl` carries
/// the service's words to the slot.
final class ForkServerSession: SandboxSession, SupervisedSandbox {
    let limits: SessionLimits
    let logger: Logger
    let control = SessionControl()
    let streams: SessionStreams
    private let slots: ForkServerSlots
    private let limitArguments: [String]
    private let readiness: EventLoopPromise<Bool>
    private let ending: EventLoopPromise<SandboxSessionEnd>
    private let cellStarts: AsyncStream<SessionCell>.Continuation
    private let cellStream: AsyncStream<SessionCell>
    private let state = Mutex(State())

    private struct State {
        var cellRunning = false
        var ended = false
        var closed = false
        /// A cell that did not stop when interrupted: the session was killed for it.
        var killedForCell = false
        /// A rollback asked for and not yet reported: if the session ends
        /// instead, there was nothing to roll back to, and it was killed.
        var rollbackPending = false
        var end: SandboxSessionEnd?
    }

    init(slots: ForkServerSlots, limitArguments: [String], limits: SessionLimits, logger: Logger) {
        self.slots = slots
        self.limitArguments = limitArguments
        self.limits = limits
        self.logger = logger
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        readiness = loop.makePromise()
        ending = loop.makePromise()
        (cellStream, cellStarts) = AsyncStream.makeStream(of: SessionCell.self)
        streams = SessionStreams(logger: logger)
    }

    func ready() async -> Bool {
        (try? await readiness.futureResult.get()) ?? false
    }

    func ended() async -> SandboxSessionEnd {
        (try? await ending.futureResult.get()) ?? .failed("the session was never supervised")
    }

    func start(_ request: RunRequest) throws(InvalidRunRequest) -> any SandboxRun {
        try request.validate()
        try state.withLock { state throws(InvalidRunRequest) in
            guard !state.ended && !state.closed else { throw InvalidRunRequest(message: "the session has ended") }
            guard !state.cellRunning else { throw InvalidRunRequest(message: "the session is running another cell") }
            state.cellRunning = true
        }
        // Made once it will run: every cell made ends with a verdict.
        let cell = SessionCell(request: request, session: self)
        cellStarts.yield(cell)
        return cell
    }

    func close() {
        let first = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        streams.interruptCurrent(because: .cancelled)
        control.stop()
    }

    /// Interrupts `cell` if it is still running (KeyboardInterrupt); if it has
    /// not ended `limits.interruptGrace` later, it is rolled back (a session
    /// that rolls back) or the session is killed. A session that rolls back
    /// rolls a cell at its wall clock back at once: its effects are not kept.
    /// `alreadySent`: the slot has acted itself (its CPU limit: interrupted,
    /// or in a session that rolls back, rolled back).
    func interrupt(_ cell: SessionCell, because reason: CellInterruption, alreadySent: Bool = false) {
        guard streams.interrupt(cell, because: reason) else { return }
        let number = cell.number.load(ordering: .relaxed)
        if limits.rollsBack && (reason == .timeout || reason == .cpuTimeout) {
            if alreadySent { state.withLock { $0.rollbackPending = true } } else { rollBack(cell) }
            killAfterGrace(cell, rollingBackFirst: false)
            return
        }
        if !alreadySent { control.interrupt(cell: number) }
        repeatInterrupt(cell, number: number, after: Self.firstInterruptRepeat)
        killAfterGrace(cell, rollingBackFirst: limits.rollsBack)
    }

    static let firstInterruptRepeat = TimeAmount.milliseconds(50)
    static let longestInterruptRepeat = TimeAmount.seconds(1)

    /// Interrupts `cell` again, at growing intervals, while it runs and no
    /// rollback is under way: CPython takes a SIGINT that lands between its
    /// last check for signals and a blocking call (the microseconds before
    /// `time.sleep` sleeps) only when that call returns, so one interrupt
    /// can be lost. The session takes one KeyboardInterrupt per cell
    /// (session.py); a program's own SIGINT handler sees each repeat.
    private func repeatInterrupt(_ cell: SessionCell, number: Int, after delay: TimeAmount) {
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: delay) { [self] in
            guard streams.isRunning(cell), !state.withLock({ $0.rollbackPending }) else { return }
            control.interrupt(cell: number)
            repeatInterrupt(cell, number: number, after: min(delay * 2, Self.longestInterruptRepeat))
        }
    }

    private func rollBack(_ cell: SessionCell) {
        state.withLock { $0.rollbackPending = true }
        control.rollBack(cell: cell.number.load(ordering: .relaxed))
    }

    /// The slot reported the current cell rolled back.
    func rolledBack() {
        state.withLock { $0.rollbackPending = false }
    }

    /// A cell still running a grace after its interrupt is rolled back, then
    /// (still running a grace later: no snapshot would go on) the session is killed.
    private func killAfterGrace(_ cell: SessionCell, rollingBackFirst: Bool) {
        let grace = TimeAmount.nanoseconds(Int64(limits.interruptGrace / .nanoseconds(1)))
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: grace) { [self] in
            guard streams.isRunning(cell) else { return }
            if rollingBackFirst {
                logger.notice("an interrupted cell did not stop; it is rolled back")
                rollBack(cell)
                killAfterGrace(cell, rollingBackFirst: false)
                return
            }
            logger.notice("an interrupted cell did not stop; the session is killed")
            state.withLock { $0.killedForCell = true }
            control.stop()
        }
    }

    func abandon(_ message: String) {
        finishSession(.failed(message))
        ending.succeed(.failed(message))
    }

    func supervise() async -> pid_t? {
        await withTaskCancellationHandler {
            await acquireAndWatch()
        } onCancel: {
            close()
        }
        resolveEnding()
        return nil
    }

    /// After the last cell's verdict: its run ended before the watch did.
    private func resolveEnding() {
        ending.succeed(state.withLock { $0.end } ?? .closed)  // ignored once resolved
    }

    private func acquireAndWatch() async {
        var attempts = 0
        while true {
            attempts += 1
            let slot: ForkServerSlot
            do {
                slot = try await slots.acquire()
            } catch {
                await endUnstarted(.failed("no fork server: \(error)"))
                return
            }
            if state.withLock({ $0.closed }) {
                slots.release(slot)
                await endUnstarted(.closed)
                return
            }
            do {
                let started = try slot.startRun(arguments: limitArguments + (limits.rollsBack ? ["--rollback"] : []), session: true)
                control.attach(stop: started.stop, slot: slot)
                await withDiscardingTaskGroup { group in
                    // The next session's fork server starts now, beside this one:
                    // a preloading one takes a second, which its first run would wait.
                    group.addTask { await self.slots.keepOneIdle() }
                    await watch(started.descriptors)
                    control.finish()
                    slots.release(slot)
                    resolveEnding()  // at once, not after the next fork server has started
                }
                return
            } catch {
                // A slot that ended while idle took nothing of the session: another one can.
                slot.kill()
                slots.release(slot)
                guard attempts < 3 else {
                    await endUnstarted(.failed("could not start a session in the fork server: \(error)"))
                    return
                }
            }
        }
    }

    /// From the session's start to its end: its streams and status channel
    /// are read to the end while its cells run one by one.
    private func watch(_ descriptors: RunDescriptors) async {
        Glibc.close(descriptors.stdin)  // each cell brings its own stdin
        let channel = SessionChannel(fd: descriptors.request)
        channel.open(rollsBack: limits.rollsBack)
        enum Finished: Sendable {
            case stream
            case status(LauncherReport)
            case cells
        }
        await withTaskGroup(of: Finished.self) { group in
            group.addTask {
                await self.streams.readStdout(descriptors.stdout, readiness: self.readiness)
                return .stream
            }
            group.addTask {
                await self.streams.readStderr(descriptors.stderr)
                return .stream
            }
            group.addTask { .status(await self.streams.readStatus(descriptors.status, session: self)) }
            group.addTask {
                for await cell in self.cellStream { await self.run(cell, over: channel) }
                return .cells
            }
            // Once its streams and status channel have ended, the session is
            // over: the cell running then gets its verdict, and no other starts.
            var readers = 3
            var report = LauncherReport()
            for await finished in group {
                switch finished {
                case .stream: readers -= 1
                case .status(let final): report = final; readers -= 1
                case .cells: continue
                }
                if readers == 0 { finishSession(sessionEnd(report)) }
            }
            if report.setupFailed {
                logger.error("session failure", metadata: ["message": "\(report.failureMessage ?? "")"])
            }
        }
        channel.close()
    }

    /// One cell: its stdin, its request, its wall clock; its verdict once
    /// both streams have ended it and the slot has counted its CPU time, or
    /// the session has ended.
    private func run(_ cell: SessionCell, over channel: SessionChannel) async {
        let events = streams.begin(cell) { [self] in interrupt(cell, because: .outputLimit) }
        let stopwatch = Stopwatch()
        var wallMs: Int?
        await withTaskGroup(of: Void.self) { group in
            do {
                let stdin = try ClosingPipe()
                group.addTask { await PipeIO.writeChunks(cell.stdinChunks, to: stdin.writeEnd) }
                let answers = try ClosingPipe()
                PackagesChannel.openToTheRun(answers.readEnd)
                cell.packages.channel.attach(answers: answers.writeEnd, stop: control.duplicateStop())
                cell.number.store(control.beginCell(cpuLimit: cell.limits.cpuTime ?? cell.limits.timeout), ordering: .relaxed)
                stopwatch.start()
                try await channel.send(streams.requestBody(for: cell), descriptors: [stdin.readEnd, answers.readEnd])
            } catch {
                // The session is ending (its memory limit, say): the cell's
                // verdict says how, once it has. Ended here if it was not.
                logger.notice("could not hand a cell to its session", metadata: ["error": "\(error)"])
                control.stop()
            }
            group.addTask { [self] in
                try? await Task.sleep(for: cell.limits.timeout)
                if !Task.isCancelled { interrupt(cell, because: .timeout) }
            }
            // Accounted after the program ended it: done. Accounted before, the
            // session is ending (the slot counts a cell its end cuts short).
            waiting: for await event in events {
                switch event {
                case .programEnded:
                    wallMs = stopwatch.elapsedMilliseconds
                    control.endCell()
                case .accounted:
                    if wallMs != nil { break waiting }
                case .sessionEnded:
                    break waiting
                }
            }
            cell.closeStdin()
            group.cancelAll()
        }
        state.withLock { $0.cellRunning = false }
        cell.finish(streams.finish(cell, wallMs: wallMs ?? stopwatch.elapsedMilliseconds))
    }

    /// The session ended before its sandbox started: the cells started
    /// meanwhile end without running.
    private func endUnstarted(_ end: SandboxSessionEnd) async {
        finishSession(end)  // no cell starts after this: the stream ends with those started already
        for await cell in cellStream {
            if case .failed(let message) = end {
                cell.finish(Verdict(status: .internalError, message: message))
            } else {
                cell.finish(Verdict(status: .cancelled))
            }
        }
    }

    /// Why the session's run ended, from its final report.
    private func sessionEnd(_ report: LauncherReport) -> SandboxSessionEnd {
        let (closed, killedForCell) = state.withLock { ($0.closed, $0.killedForCell || $0.rollbackPending) }
        if killedForCell { return .killed }
        if closed { return .closed }
        if report.setupFailed || !report.finished {
            return .failed(report.failureMessage ?? "the fork server's slot ended without reporting the session")
        }
        switch report.limitReached {
        case .memory: return .memoryLimit
        case .cpu: return .cpuLimit
        case nil: break
        }
        if report.oomKills > 0 { return .memoryLimit }
        if control.stopRequested { return .closed }
        if let signal = report.commandSignal {
            return signal == SIGXCPU ? .cpuLimit : .crashed("its interpreter died of signal \(signal)")
        }
        guard let exitCode = report.commandExitCode else {
            // Its pid 1 was killed (from outside, say): nobody saw how the
            // interpreter ended, so do not make up an exit status for it.
            return .failed("the session's sandbox ended without reporting how its interpreter ended")
        }
        return .crashed("its interpreter exited with status \(exitCode)")
    }

    /// The session is over: the cell running gets its verdict from how it
    /// ended, and nothing starts after it.
    private func finishSession(_ end: SandboxSessionEnd) {
        let first = state.withLock { state in
            defer { state.ended = true }
            if !state.ended { state.end = end }
            return !state.ended
        }
        guard first else { return }
        streams.sessionEnded(end)
        cellStarts.finish()
        readiness.succeed(false)  // ignored once the ready signal came
    }
}
