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
        var open = true
    }

    private let state = Mutex(State())
    /// A slot given back or reaped, or the slots closed: runs waiting at the cap look again.
    private let slotsChanged = EventCount()
    /// Slots spawned, for `run()` to watch; finished by `close()`.
    private let spawned: AsyncStream<ForkServerSlot>
    private let intake: AsyncStream<ForkServerSlot>.Continuation

    init(launcher: String, arguments: [String], cgroups: CgroupPlan, maxSlots: Int?, logger: Logger) {
        self.launcher = launcher
        self.arguments = arguments
        self.cgroups = cgroups
        self.maxSlots = max(1, maxSlots ?? .max)
        self.logger = logger
        (spawned, intake) = AsyncStream.makeStream()
    }

    /// An idle slot, or a new one once its fork server is ready, or (at the
    /// cap) the next one given back.
    func acquire() async throws -> ForkServerSlot {
        while true {
            let ticket = slotsChanged.ticket()
            switch claim() {
            case .idle(let slot):
                if slot.isAlive { return slot }
                continue
            case .spawn:
                return try await spawn()
            case .closed:
                throw SandboxUnavailable(description: "the sandbox has shut down; it starts no more fork servers")
            case .wait:
                await slotsChanged.wait(for: ticket)
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
        guard case .enqueued = intake.yield(slot) else {
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
        let keep = state.withLock { state -> Bool in
            guard state.open, alive else { return false }
            state.idle.append(slot)
            return true
        }
        if keep { slotsChanged.notifyAll() } else { slot.close() }
    }

    /// A slot was reaped: room for another.
    private func slotEnded() {
        state.withLock { $0.count -= 1 }
        slotsChanged.notifyAll()
    }

    /// Watches every slot until `close()` (or until this task is cancelled:
    /// the stream of spawned slots ends then), then until the last has exited.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await slot in spawned {
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
        let idle = state.withLock { state in
            state.open = false
            defer { state.idle = [] }
            return state.idle
        }
        idle.forEach { $0.close() }
        intake.finish()
        slotsChanged.notifyAll()  // runs waiting at the cap find the sandbox shut down
    }
}
