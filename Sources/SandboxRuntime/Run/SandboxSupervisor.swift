import Logging
import NIOPosix
import ServiceLifecycle

/// What the `SandboxSupervisor` watches: a run's launcher or slot run, or a session.
protocol SupervisedSandbox: AnyObject, Sendable {
    /// Starts the sandbox and watches it until it has been reaped; returns
    /// the launcher's pid if a signal killed it (its cgroups are left over).
    func supervise() async -> pid_t?
    /// Ends a sandbox that will never be supervised, so its waiters return.
    func abandon(_ message: String)
}

extension OneOffRun: SupervisedSandbox {}

/// The owner of every launcher of one `Sandbox`: each is spawned, watched
/// and reaped in a child task of `run()`. Intake closes at graceful shutdown
/// or cancellation (cancelled launchers are killed); `run()` then returns
/// once the last launcher has been reaped and its cgroups removed.
final class SandboxSupervisor: Sendable {
    let cgroups: CgroupPlan
    private let logger: Logger
    /// Launchers submitted and not yet supervised; finished when intake closes
    /// (those already in it still come, and, cancelled, end without spawning).
    private let submitted: AsyncStream<any SupervisedSandbox>
    private let intake: AsyncStream<any SupervisedSandbox>.Continuation

    init(cgroups: CgroupPlan, logger: Logger) {
        self.cgroups = cgroups
        self.logger = logger
        (submitted, intake) = AsyncStream.makeStream()
        cgroups.retainParents()
    }

    /// Hands `run` over to be supervised; false once intake has closed.
    func submit(_ run: any SupervisedSandbox) -> Bool {
        if case .enqueued = intake.yield(run) { return true }
        return false
    }

    /// Supervises every launcher submitted until intake closes (at graceful
    /// shutdown, or when this task is cancelled: the stream ends then), and
    /// waits for those still running.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                self.intake.finish()
            }
            for await launcher in submitted {
                group.addTask { await self.supervise(launcher) }
            }
            intake.finish()
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
}
