import Logging
import NIOCore
import NIOPosix
import SandboxSteps
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One slot of the fork server (`--isolation fork`): a
/// `pysandbox-launcher --fork-server` process, whose fork server has its
/// interpreter and preloaded modules loaded and forks one run at a time
/// (sandbox/launcher/fork_server.c). The slot lives across runs; `watch()`
/// follows it from spawn to reaping.
final class ForkServerSlot: Sendable {
    let pid: pid_t
    private let control: CInt
    private let status: CInt
    private let log: CInt
    private let logger: Logger
    private let readiness: EventLoopPromise<Void>
    private let state = Mutex(State())

    /// The control socket is used and closed under the lock: a number closed
    /// once the slot has ended could by then belong to anything else.
    private struct State {
        var alive = true
        var reaped = false
        var shutDown = false
        var controlOpen = true
    }

    /// Spawns the slot; it is ready once `ready()` returns, and `watch()` must run for its life.
    init(launcher: String, arguments: [String], logger: Logger) throws(SpawnError) {
        var sockets: [CInt] = [-1, -1]
        guard socketpair(AF_UNIX, CInt(SOCK_SEQPACKET.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0, &sockets) == 0 else {
            throw SpawnError(step: "socketpair", errno: errno)
        }
        let statusPipe: ClosingPipe, logPipe: ClosingPipe
        do throws(SpawnError) {
            statusPipe = try ClosingPipe()
            logPipe = try ClosingPipe()
        } catch {
            sockets.forEach { _ = Glibc.close($0) }
            throw error
        }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let childEnds = [devNull, logPipe.writeEnd, logPipe.writeEnd, sockets[1], statusPipe.writeEnd]
        do throws(SpawnError) {
            pid = try Spawner.spawn(path: launcher, arguments: arguments, environment: [], descriptors: childEnds)
        } catch {
            [devNull, sockets[0], sockets[1]].forEach { _ = Glibc.close($0) }
            statusPipe.closeBoth()
            logPipe.closeBoth()
            throw error
        }
        [devNull, logPipe.writeEnd, sockets[1], statusPipe.writeEnd].forEach { _ = Glibc.close($0) }
        control = sockets[0]
        status = statusPipe.readEnd
        log = logPipe.readEnd
        self.logger = logger
        readiness = MultiThreadedEventLoopGroup.singleton.any().makePromise()
    }

    /// Waits until the fork server has loaded its modules; throws what went wrong if it ended first.
    func ready() async throws {
        try await readiness.futureResult.get()
    }

    /// Whether it can take a run: not ended, not asked to end, and its
    /// supervisor still holds the other end of the control socket.
    var isAlive: Bool {
        state.withLock { state in
            guard state.alive && !state.shutDown && state.controlOpen else { return false }
            var watch = pollfd(fd: control, events: 0, revents: 0)
            return poll(&watch, 1, 0) == 0
        }
    }

    /// Hands the slot a run with these limit options; returns the service's
    /// ends of the run's pipes and of its stop socket (a byte ends the run).
    /// A session's request channel is a unix socket, which carries each
    /// cell's stdin descriptor with it (`SessionChannel`).
    func startRun(arguments: [String], session: Bool = false) throws(SpawnError) -> (descriptors: RunDescriptors, stop: CInt) {
        var pipes: [ClosingPipe] = []
        // Sockets, not pipes: a word sent after the slot died must not raise SIGPIPE.
        var stopEnds: [CInt] = [-1, -1]
        do throws(SpawnError) {
            for _ in 0..<5 { pipes.append(session && pipes.count == 3 ? try ClosingPipe.streamSocket() : try ClosingPipe()) }
            guard socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0, &stopEnds) == 0 else {
                throw SpawnError(step: "socketpair", errno: errno)
            }
        } catch {
            pipes.forEach { $0.closeBoth() }
            throw error
        }
        let (stdin, stdout, stderr, request, status) = (pipes[0], pipes[1], pipes[2], pipes[3], pipes[4])
        let stop = (readEnd: stopEnds[1], writeEnd: stopEnds[0])
        // Open to the run's uid, whoever made them: a Python the program
        // starts reaches its main process's stdout and answers through
        // /proc/PID/fd to ask the service for packages (pip's stand-in).
        PackagesChannel.openToTheRun(stdout.writeEnd)
        if !session { PackagesChannel.openToTheRun(request.readEnd) }
        let passed = [stdin.readEnd, stdout.writeEnd, stderr.writeEnd, request.readEnd, status.writeEnd, stop.readEnd]
        let message = Array((["run"] + arguments + (session ? ["--session"] : [])).joined(separator: "\0").utf8)
        let (sent, sendError) = state.withLock { state -> (CInt, CInt) in
            guard state.controlOpen && !state.shutDown else { return (-1, EPIPE) }
            let sent = message.withUnsafeBytes { bytes in
                passed.withUnsafeBufferPointer { fds in
                    send_with_fds(control, bytes.baseAddress, bytes.count, fds.baseAddress, CInt(fds.count))
                }
            }
            return (sent, errno)
        }
        passed.forEach { _ = Glibc.close($0) }
        guard sent == 0 else {
            [stdin.writeEnd, stdout.readEnd, stderr.readEnd, request.writeEnd, status.readEnd, stop.writeEnd]
                .forEach { _ = Glibc.close($0) }
            throw SpawnError(step: "handing the run to the fork server", errno: sendError)
        }
        let descriptors = RunDescriptors(
            stdin: stdin.writeEnd, stdout: stdout.readEnd, stderr: stderr.readEnd,
            request: request.writeEnd, status: status.readEnd)
        return (descriptors, stop.writeEnd)
    }

    /// Asks the slot to end: its fork server exits once the current run has.
    func close() {
        state.withLock { state in
            guard !state.shutDown else { return }
            state.shutDown = true
            if state.controlOpen { _ = Glibc.shutdown(control, CInt(SHUT_RDWR)) }
        }
    }

    /// Ends the slot and its run at once; never after it was reaped.
    func kill() {
        state.withLock { state in
            if !state.reaped { _ = Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Follows the slot to its end: its readiness, what it logs, its exit;
    /// then reaps it; true if a signal ended it. Not cut short by
    /// cancellation (`close()` or `kill()` end it).
    @discardableResult
    func watch() async -> Bool {
        await withTaskCancellationHandler {
            await follow()
        } onCancel: {
            // It must not outlive its owner: ended as at shutdown (its run
            // stopped, its fork server and skeleton reaped), killed if that
            // takes too long. A SIGKILL first would orphan its skeleton.
            close()
            MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: RunKiller.escalationDelay) { [self] in kill() }
        }
    }

    private func follow() async -> Bool {
        let heard = SlotOutput()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                var partial: [UInt8] = []
                await PipeIO.readChunks(from: status) { buffer in
                    partial += buffer.readableBytesView
                    while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: partial[..<newline], as: UTF8.self)
                        partial.removeSubrange(...newline)
                        if line == "ready" {
                            readiness.succeed(())
                        } else {
                            heard.failures.withLock { $0.append(line) }
                            logger.error("fork server slot", metadata: ["pid": "\(pid)", "report": "\(line)"])
                        }
                    }
                }
            }
            group.addTask { [self] in
                await PipeIO.readChunks(from: log) { buffer in
                    heard.logTail.withLock { tail in
                        tail += buffer.readableBytesView
                        if tail.count > 4096 { tail.removeFirst(tail.count - 4096) }
                    }
                    logger.warning("fork server output", metadata: [
                        "pid": "\(pid)", "text": "\(String(decoding: buffer.readableBytesView, as: UTF8.self))",
                    ])
                }
            }
        }
        state.withLock { $0.alive = false }
        let report = LauncherReport.failureMessage(lines: heard.failures.withLock { $0 })
        let output = String(decoding: heard.logTail.withLock { $0 }, as: UTF8.self).trimmingSuffixWhitespace
        readiness.fail(SandboxUnavailable(description: "the fork server did not start: "
            + [report, output.isEmpty ? nil : "its output: \(output)"].compactMap { $0 }.joined(separator: "; ")))
        let reaped = NIOThreadPool.singleton.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) {
            [pid] () -> CInt in
            var status: CInt = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return status
        }
        let exitStatus = (try? await reaped.get()) ?? 0
        state.withLock { $0.reaped = true }
        state.withLock { state in  // status and log belonged to their readers, which closed them
            state.controlOpen = false
            _ = Glibc.close(control)
        }
        let signal = exitStatus & 0x7f
        return signal != 0 && signal != 0x7f
    }
}

/// What a slot said on its status channel and its log, for a startup failure's message.
private final class SlotOutput: Sendable {
    let failures = Mutex<[String]>([])
    let logTail = Mutex<[UInt8]>([])
}

extension String {
    fileprivate var trimmingSuffixWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
