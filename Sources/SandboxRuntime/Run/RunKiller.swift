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

/// What ends a run: its own launcher, or a fork-server slot's supervisor.
enum KillTarget: Sendable {
    /// SIGTERM; SIGKILL if it has not exited after `escalationDelay`.
    case launcher(pid_t)
    /// A byte on the run's stop pipe; if the run has not ended after
    /// `escalationDelay`, the whole slot is killed (and replaced).
    case forkServerRun(stop: CInt, slot: ForkServerSlot)
}

/// Asks the launcher to kill its sandbox, at most once, and never before it
/// was spawned nor after it was reaped (its pid could belong to someone else
/// by then). A launcher that has not exited `escalationDelay` after SIGTERM
/// gets SIGKILL from a timer on an event loop, which the reaping cancels.
final class RunKiller: Sendable {
    private struct State {
        var target: KillTarget?
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

    /// Records the spawned launcher or started fork-server run. A kill that came before is carried out now.
    func spawned(_ target: KillTarget) {
        state.withLock { state in
            state.target = target
            if state.reason != nil { terminate(&state) }
        }
    }

    func kill(_ reason: KillReason) {
        state.withLock { state in
            guard state.reason == nil, !state.reaped else { return }
            state.reason = reason
            if state.target != nil { terminate(&state) }
        }
    }

    /// Waits for the launcher to exit; true if a signal ended it, so it
    /// could not clean up. Call once its status pipe has closed. Not cut
    /// short by cancellation: a launcher is always reaped.
    func reap() async -> Bool {
        guard let pid = state.withLock({ state -> pid_t? in
            state.reaped = true
            state.escalation?.cancel()
            switch state.target {
            case .launcher(let pid): return pid
            case .forkServerRun(let stop, _):
                close(stop)  // nothing to reap: the slot lives on
                return nil
            case nil: return nil
            }
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
        let escalate: @Sendable () -> Void
        switch state.target {
        case .launcher(let pid):
            _ = Glibc.kill(pid, SIGTERM)
            escalate = { _ = Glibc.kill(pid, SIGKILL) }
        case .forkServerRun(let stop, let slot):
            _ = withUnsafeBytes(of: UInt8(ascii: "s")) { send(stop, $0.baseAddress, 1, CInt(MSG_NOSIGNAL)) }
            escalate = { slot.kill() }
        case nil:
            return
        }
        state.escalation = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: Self.escalationDelay) { [self] in
            self.state.withLock { state in
                if !state.reaped { escalate() }
            }
        }
    }
}
