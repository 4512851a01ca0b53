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

/// Asks the launcher to kill its sandbox, at most once per reason, and never
/// after the launcher has been reaped (its pid could belong to someone else by then).
final class RunKiller: Sendable {
    private struct State {
        var reason: KillReason?
        var reaped = false
    }

    let pid: pid_t
    private let state = Mutex(State())
    private let census: LauncherCensus

    /// A launcher that does not exit this long after SIGTERM gets SIGKILL; its
    /// init then dies by the parent-death signal and takes the sandbox with it.
    static let escalationDelay = Duration.seconds(3)

    init(pid: pid_t, census: LauncherCensus) {
        self.pid = pid
        self.census = census
        census.launched()
    }

    var reason: KillReason? { state.withLock { $0.reason } }

    func kill(_ reason: KillReason) {
        let first = state.withLock { state -> Bool in
            guard state.reason == nil, !state.reaped else { return false }
            state.reason = reason
            _ = Glibc.kill(pid, SIGTERM)
            return true
        }
        guard first else { return }
        Task { [self] in
            try? await Task.sleep(for: Self.escalationDelay)
            state.withLock { state in
                if !state.reaped { _ = Glibc.kill(pid, SIGKILL) }
            }
        }
    }

    /// Waits for the launcher to exit. Call once its status pipe is closed.
    func reap() async {
        state.withLock { $0.reaped = true }
        let pid = self.pid
        _ = try? await NIOThreadPool.singleton.runIfActive {
            var status: CInt = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        census.reaped()
    }
}
