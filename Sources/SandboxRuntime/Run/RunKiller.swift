import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the service ended a run itself.
enum KillReason: Sendable {
    case timeout
    case cancelled
    case outputLimit
}

/// Asks the launcher to kill its sandbox, at most once, and never before it
/// was spawned nor after it was reaped (its pid could belong to someone else
/// by then). A launcher that has not exited `escalationDelay` after SIGTERM
/// gets SIGKILL from a timer on an event loop, which the reaping cancels.
final class RunKiller: Sendable {
    private struct State {
        var pid: pid_t?
        var reason: KillReason?
        var escalation: Scheduled<Void>?
        var reaped = false
    }

    private let state = Mutex(State())

    /// How long a launcher may take to kill its sandbox and clean up. Past
    /// it, SIGKILL; its init then dies by the parent-death signal and takes
    /// the sandbox with it.
    static let escalationDelay = TimeAmount.seconds(3)

    var reason: KillReason? { state.withLock { $0.reason } }

    /// Records the spawned launcher. A kill that came before is carried out now.
    func spawned(_ pid: pid_t) {
        state.withLock { state in
            state.pid = pid
            if state.reason != nil { terminate(&state) }
        }
    }

    func kill(_ reason: KillReason) {
        state.withLock { state in
            guard state.reason == nil, !state.reaped else { return }
            state.reason = reason
            if state.pid != nil { terminate(&state) }
        }
    }

    /// Waits for the launcher to exit; true if a signal ended it, so it
    /// could not clean up. Call once its status pipe has closed. Not cut
    /// short by cancellation: a launcher is always reaped.
    func reap() async -> Bool {
        guard let pid = state.withLock({ state -> pid_t? in
            state.reaped = true
            state.escalation?.cancel()
            return state.pid
        }) else { return false }
        let exit = NIOThreadPool.singleton.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) { () -> CInt in
            var status: CInt = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return status
        }
        let status = try? await exit.get()
        let signal = (status ?? 0) & 0x7f
        return signal != 0 && signal != 0x7f
    }

    private func terminate(_ state: inout State) {
        guard let pid = state.pid else { return }
        _ = Glibc.kill(pid, SIGTERM)
        state.escalation = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: Self.escalationDelay) { [self] in
            self.state.withLock { state in
                if !state.reaped { _ = Glibc.kill(pid, SIGKILL) }
            }
        }
    }
}
