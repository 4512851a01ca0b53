import Logging
import NIOPosix
import Synchronization

/// The fork-server slots of one `Sandbox`: a run takes an idle slot, or a
/// new one when none is idle (never more than `maxSlots` at once: a run
/// then waits for one to be given back), and gives it back when its pid 1
/// is gone. `run()` owns every slot's watch; `close()` ends them all.
final class ForkServerSlots: Sendable {
    private let launcher: String
    private let arguments: [String]
    private let cgroups: CgroupPlan
    private let maxSlots: Int
    private let logger: Logger

    private struct State {
        var idle: [ForkServerSlot] = []
        /// Slots spawned and not yet reaped.
        var count = 0
        /// Runs waiting for a slot at the cap.
        var waiting: [CheckedContinuation<Void, Never>] = []
        var open = true
        var unwatched: [ForkServerSlot] = []
        var waiter: CheckedContinuation<ForkServerSlot?, Never>?
    }

    private let state = Mutex(State())

    init(launcher: String, arguments: [String], cgroups: CgroupPlan, maxSlots: Int?, logger: Logger) {
        self.launcher = launcher
        self.arguments = arguments
        self.cgroups = cgroups
        self.maxSlots = max(1, maxSlots ?? .max)
        self.logger = logger
    }

    /// An idle slot, or a new one once its fork server is ready, or (at the
    /// cap) the next one given back.
    func acquire() async throws -> ForkServerSlot {
        while true {
            switch claim() {
            case .idle(let slot):
                if slot.isAlive { return slot }
                continue
            case .spawn:
                return try await spawn()
            case .closed:
                throw SandboxUnavailable(description: "the sandbox has shut down; it starts no more fork servers")
            case .wait:
                await withCheckedContinuation { continuation in
                    let ready = state.withLock { state -> Bool in
                        // Something may have been given back since the claim.
                        if !state.idle.isEmpty || state.count < maxSlots || !state.open { return true }
                        state.waiting.append(continuation)
                        return false
                    }
                    if ready { continuation.resume() }
                }
            }
        }
    }

    private enum Claim {
        case idle(ForkServerSlot)
        case spawn
        case wait
        case closed
    }

    private func claim() -> Claim {
        state.withLock { state in
            guard state.open else { return .closed }
            if let slot = state.idle.popLast() { return .idle(slot) }
            guard state.count < maxSlots else { return .wait }
            state.count += 1
            return .spawn
        }
    }

    /// A new slot, counted by the caller's claim.
    private func spawn() async throws -> ForkServerSlot {
        let slot: ForkServerSlot
        do {
            slot = try ForkServerSlot(launcher: launcher, arguments: arguments, logger: logger)
        } catch {
            slotEnded()
            throw error
        }
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
            slotEnded()
            throw SandboxUnavailable(description: "the sandbox has shut down; it starts no more fork servers")
        }
        try await slot.ready()
        return slot
    }

    /// Starts a slot ahead of demand when none is idle (and the cap allows),
    /// and keeps it idle for the next `acquire`.
    func keepOneIdle() async {
        let spawning = state.withLock { state -> Bool in
            guard state.open, state.idle.isEmpty, state.count < maxSlots else { return false }
            state.count += 1
            return true
        }
        guard spawning, let slot = try? await spawn() else { return }
        release(slot)
    }

    /// Takes a slot back after its run; a dead one is dropped (its watch reaps it).
    func release(_ slot: ForkServerSlot) {
        let alive = slot.isAlive
        let (keep, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard state.open, alive else { return (false, nil) }
            state.idle.append(slot)
            return (true, state.waiting.isEmpty ? nil : state.waiting.removeFirst())
        }
        if !keep { slot.close() }
        waiter?.resume()
    }

    /// A slot was reaped: room for another.
    private func slotEnded() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.count -= 1
            return state.waiting.isEmpty ? nil : state.waiting.removeFirst()
        }
        waiter?.resume()
    }

    /// Watches every slot until `close()`, then until the last has exited.
    func run() async {
        await withDiscardingTaskGroup { group in
            while let slot = await next() {
                group.addTask { [cgroups, logger] in
                    defer { self.slotEnded() }
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
        let (idle, waiter, waiting) = state.withLock { state in
            state.open = false
            defer {
                state.idle = []
                state.waiter = nil
                state.waiting = []
            }
            return (state.idle, state.waiter, state.waiting)
        }
        idle.forEach { $0.close() }
        waiter?.resume(returning: nil)
        waiting.forEach { $0.resume() }  // they find the sandbox shut down
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
