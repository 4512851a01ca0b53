import Logging
import NIOPosix
import Synchronization

/// The fork-server slots of one `Sandbox`: a run takes an idle slot, or a
/// new one when none is idle (there are never more slots than sandboxes
/// alive at once, which the service bounds), and gives it back when its
/// pid 1 is gone. `run()` owns every slot's watch; `close()` ends them all.
final class ForkServerSlots: Sendable {
    private let launcher: String
    private let arguments: [String]
    private let cgroups: CgroupPlan
    private let logger: Logger

    private struct State {
        var idle: [ForkServerSlot] = []
        var open = true
        var unwatched: [ForkServerSlot] = []
        var waiter: CheckedContinuation<ForkServerSlot?, Never>?
    }

    private let state = Mutex(State())

    init(launcher: String, arguments: [String], cgroups: CgroupPlan, logger: Logger) {
        self.launcher = launcher
        self.arguments = arguments
        self.cgroups = cgroups
        self.logger = logger
    }

    /// An idle slot, or a new one once its fork server is ready.
    func acquire() async throws -> ForkServerSlot {
        while let slot = state.withLock({ $0.idle.popLast() }) {
            if slot.isAlive { return slot }
        }
        let slot = try ForkServerSlot(launcher: launcher, arguments: arguments, logger: logger)
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<ForkServerSlot?, Never>?) in
            guard state.open else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.unwatched.append(slot)
            return (true, nil)
        }
        waiter?.resume(returning: slot)
        guard accepted else {
            slot.kill()
            _ = await slot.watch()  // reaped here: the owner has stopped
            throw SandboxUnavailable(description: "the sandbox has shut down; it starts no more fork servers")
        }
        try await slot.ready()
        return slot
    }

    /// Takes a slot back after its run; a dead one is dropped (its watch reaps it).
    func release(_ slot: ForkServerSlot) {
        let keep = state.withLock { state -> Bool in
            guard state.open, slot.isAlive else { return false }
            state.idle.append(slot)
            return true
        }
        if !keep { slot.close() }
    }

    /// Watches every slot until `close()`, then until the last has exited.
    func run() async {
        await withDiscardingTaskGroup { group in
            while let slot = await next() {
                group.addTask { [cgroups, logger] in
                    // A slot killed by a signal could not remove its cgroup.
                    if await slot.watch(), !cgroups.parents.isEmpty {
                        let removal = NIOThreadPool.singleton.runIfActive(
                            eventLoop: MultiThreadedEventLoopGroup.singleton.any()
                        ) { cgroups.removeRunCgroups(ofLauncher: slot.pid, logger: logger) }
                        try? await removal.get()
                    }
                }
            }
        }
    }

    /// Ends the idle slots and refuses new ones; slots still running a run end when it is given back.
    func close() {
        let (idle, waiter) = state.withLock { state in
            state.open = false
            defer {
                state.idle = []
                state.waiter = nil
            }
            return (state.idle, state.waiter)
        }
        idle.forEach { $0.close() }
        waiter?.resume(returning: nil)
    }

    private func next() async -> ForkServerSlot? {
        await withCheckedContinuation { continuation in
            let immediate = state.withLock { state -> ForkServerSlot?? in
                if !state.unwatched.isEmpty { return .some(state.unwatched.removeFirst()) }
                if !state.open { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
