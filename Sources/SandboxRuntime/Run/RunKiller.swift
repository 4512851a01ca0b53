import Logging
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
    /// Where the launcher makes the run's cgroup, `run-<pid>`; it removes it
    /// itself unless it is killed.
    private let cgroupParents: [String]
    private let logger: Logger

    /// A launcher that does not exit this long after SIGTERM gets SIGKILL; its
    /// init then dies by the parent-death signal and takes the sandbox with it.
    static let escalationDelay = Duration.seconds(3)

    init(pid: pid_t, census: LauncherCensus, cgroupParents: [String] = [], logger: Logger = Logger(label: "pysandbox.sandbox")) {
        self.pid = pid
        self.census = census
        self.cgroupParents = cgroupParents
        self.logger = logger
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
    /// A launcher killed by a signal (from outside, or by the escalation
    /// above) could not remove the run's cgroup: that is done here, once the
    /// run's processes have followed it.
    func reap() async {
        state.withLock { $0.reaped = true }
        let pid = self.pid
        let status = try? await NIOThreadPool.singleton.runIfActive { () -> CInt in
            var status: CInt = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return status
        }
        let signal = (status ?? 0) & 0x7f
        if signal != 0 && signal != 0x7f {
            await removeRunCgroups()
        }
        census.reaped()
    }

    private func removeRunCgroups() async {
        for parent in cgroupParents {
            let directory = "\(parent)/run-\(pid)"
            let deadline = ContinuousClock.now + .seconds(2)
            // EBUSY while the run's last processes are still dying.
            while rmdir(directory) != 0 && errno == EBUSY && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            if access(directory, F_OK) == 0 {
                logger.warning("cgroup of a killed launcher not removed", metadata: ["path": "\(directory)", "errno": "\(errno)"])
            }
        }
    }
}
