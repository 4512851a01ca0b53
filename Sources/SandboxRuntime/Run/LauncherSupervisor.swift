import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// What the `LauncherSupervisor` watches: a run's launcher or slot run, or a session.
protocol SupervisedSandbox: AnyObject, Sendable {
    /// Starts the sandbox and watches it until it has been reaped; returns
    /// the launcher's pid if a signal killed it (its cgroups are left over).
    func supervise() async -> pid_t?
    /// Ends a sandbox that will never be supervised, so its waiters return.
    func abandon(_ message: String)
}

extension LauncherRun: SupervisedSandbox {}

/// The owner of every launcher of one `Sandbox`: each is spawned, watched
/// and reaped in a child task of `run()`. Intake closes at graceful shutdown
/// or cancellation (cancelled launchers are killed); `run()` then returns
/// once the last launcher has been reaped and its cgroups removed.
final class LauncherSupervisor: Sendable {
    let cgroups: CgroupPlan
    private let logger: Logger

    private enum State {
        case open(pending: [any SupervisedSandbox], waiter: CheckedContinuation<(any SupervisedSandbox)?, Never>?)
        case closed(pending: [any SupervisedSandbox])
    }

    private let state = Mutex(State.open(pending: [], waiter: nil))

    init(cgroups: CgroupPlan, logger: Logger) {
        self.cgroups = cgroups
        self.logger = logger
        cgroups.retainParents()
    }

    /// Hands `run` over to be supervised; false once intake has closed.
    func submit(_ run: any SupervisedSandbox) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<(any SupervisedSandbox)?, Never>?) in
            switch state {
            case .open(let pending, let waiter?):
                state = .open(pending: pending, waiter: nil)
                return (true, waiter)
            case .open(var pending, nil):
                pending.append(run)
                state = .open(pending: pending, waiter: nil)
                return (true, nil)
            case .closed:
                return (false, nil)
            }
        }
        waiter?.resume(returning: run)
        return accepted
    }

    /// Supervises every launcher submitted until intake closes, and waits
    /// for those still running.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                self.close()
            }
            while let launcher = await withTaskCancellationHandler(
                operation: { await self.next() }, onCancel: { self.close() })
            {
                group.addTask { await self.supervise(launcher) }
            }
        }
    }

    /// Runs `launcher` from spawn to reaping; what a launcher killed by a
    /// signal left of its run's cgroups is removed here.
    func supervise(_ launcher: any SupervisedSandbox) async {
        guard let killedPid = await launcher.supervise(), !cgroups.parents.isEmpty else { return }
        // A future, not the async form: that one gives up when cancelled.
        let removal = NIOThreadPool.singleton.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) {
            [cgroups, logger] in cgroups.removeRunCgroups(ofLauncher: killedPid, logger: logger)
        }
        try? await removal.get()
    }

    private func close() {
        let waiter = state.withLock { state -> CheckedContinuation<(any SupervisedSandbox)?, Never>? in
            switch state {
            case .open(let pending, let waiter):
                state = .closed(pending: pending)
                return waiter
            case .closed:
                return nil
            }
        }
        waiter?.resume(returning: nil)
    }

    /// The next launcher to supervise; those submitted before intake closed
    /// still come (cancelled, they end without spawning), then nil.
    private func next() async -> (any SupervisedSandbox)? {
        await withCheckedContinuation { continuation in
            let immediate = state.withLock { state -> (any SupervisedSandbox)?? in
                switch state {
                case .open(var pending, nil) where !pending.isEmpty:
                    let first = pending.removeFirst()
                    state = .open(pending: pending, waiter: nil)
                    return .some(first)
                case .open(let pending, _):
                    state = .open(pending: pending, waiter: continuation)
                    return .none
                case .closed(var pending):
                    guard !pending.isEmpty else { return .some(nil) }
                    let first = pending.removeFirst()
                    state = .closed(pending: pending)
                    return .some(first)
                }
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
