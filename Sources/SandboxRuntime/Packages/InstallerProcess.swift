import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs the installer as a child: its own process group (a time limit or a
/// cancel kills the group, whatever it started), an environment of our
/// choosing, stdin from /dev/null, stdout and stderr captured together
/// within a budget. One thread watches it: installs are few and long, and
/// the cooperative pool must not block on them.
struct InstallerProcess {
    struct Outcome: Sendable {
        /// The exit code, or 128 + the signal.
        var status: Int32
        var output: String
        var timedOut: Bool
        /// Part of the output was left out (its middle).
        var truncated: Bool
    }

    var executable: String
    var arguments: [String]
    var environment: [String: String]
    var deadline: ContinuousClock.Instant
    var outputBudget: Int

    func run() async throws(PackageError) -> Outcome {
        let pipe: ClosingPipe
        do { pipe = try ClosingPipe() } catch { throw .unavailable(detail: "\(error)") }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let pid: pid_t
        do {
            pid = try Spawner.spawn(
                path: executable, arguments: arguments,
                environment: environment.map { "\($0.key)=\($0.value)" }.sorted(),
                descriptors: [devNull, pipe.writeEnd, pipe.writeEnd])
        } catch {
            close(devNull)
            pipe.closeBoth()
            throw .unavailable(detail: "cannot start the installer \(executable): \(error)")
        }
        close(devNull)
        close(pipe.writeEnd)
        let readEnd = pipe.readEnd
        let watch = Watch(pid: pid, readEnd: readEnd, deadline: deadline, budget: outputBudget)
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                Thread { continuation.resume(returning: watch.run()) }.start()
            }
        } onCancel: {
            // The leader is not reaped before the watch sees it exit, so its pid (the group's id) is still ours.
            watch.cancel()
        }
        if Task.isCancelled { throw .cancelled }
        return outcome
    }

    /// Reads until EOF and reaps; kills the group at the deadline, on
    /// cancel, and once the leader has exited (anything it left behind).
    private final class Watch: @unchecked Sendable {
        let pid: pid_t
        let readEnd: CInt
        let deadline: ContinuousClock.Instant
        let budget: Int
        private let cancelled = NSLock()
        private var isCancelled = false
        private var reaped = false

        init(pid: pid_t, readEnd: CInt, deadline: ContinuousClock.Instant, budget: Int) {
            self.pid = pid
            self.readEnd = readEnd
            self.deadline = deadline
            self.budget = budget
        }

        func cancel() {
            cancelled.withLock {
                isCancelled = true
                if !reaped { kill(-pid, SIGKILL) }
            }
        }

        func run() -> Outcome {
            var capture = OutputCapture(budget: budget)
            var timedOut = false
            var leaderExited = false
            var buffer = [UInt8](repeating: 0, count: 65536)
            var open = true
            while open {
                if !timedOut && ContinuousClock.now >= deadline {
                    timedOut = true
                    kill(-pid, SIGKILL)
                }
                if !leaderExited {
                    var info = siginfo_t()
                    // Linux leaves si_signo 0 when nothing has exited yet.
                    if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info.si_signo == SIGCHLD {
                        leaderExited = true
                        kill(-pid, SIGKILL)  // what it started and left holding the pipe
                    }
                }
                var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, 100)
                guard ready > 0 else { continue }
                let count = read(readEnd, &buffer, buffer.count)
                if count > 0 {
                    capture.append(buffer[0..<count])
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open = false
                }
            }
            close(readEnd)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            cancelled.withLock { reaped = true }
            let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return Outcome(status: code, output: capture.text, timedOut: timedOut, truncated: capture.truncated)
        }
    }
}

/// The first half of the budget and the last half: an installer says what
/// it did at the start and why it failed at the end.
struct OutputCapture {
    let budget: Int
    private var head: [UInt8] = []
    private var tail: [UInt8] = []
    private(set) var truncated = false

    init(budget: Int) { self.budget = max(budget, 2) }

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        var rest = bytes
        let room = budget / 2 - head.count
        if room > 0 {
            head.append(contentsOf: rest.prefix(room))
            rest = rest.dropFirst(room)
        }
        guard !rest.isEmpty else { return }
        tail.append(contentsOf: rest)
        let excess = tail.count - budget / 2
        if excess > 0 {
            tail.removeFirst(excess)
            truncated = true
        }
    }

    var text: String {
        String(decoding: head, as: UTF8.self) + (truncated ? "\n[...]\n" : "") + String(decoding: tail, as: UTF8.self)
    }
}
