import Logging
import SandboxRuntime
import Synchronization

/// Warm sandboxes for the package sets runs named lately, so that a run
/// naming a set takes a sandbox started ahead, as a run naming none does:
/// a `WarmPool` per set, made when a run first names it, at most `maxSets`
/// (the least recently used stopped first). Each holds a lease on its
/// layer while it lasts, so the store never removes a layer a warm sandbox
/// has bound. `run()` owns the pools.
final class LayerWarmPools: Sendable {
    private struct Entry {
        var pool: WarmPool
        var lastUsed: ContinuousClock.Instant
    }

    private struct State {
        var pools: [String: Entry] = [:]
        var open = true
    }

    private let store: PackageStore
    private let warmLimits: RunLimits
    private let maxSets: Int
    private let make: @Sendable (RunLimits) -> WarmPool
    private let state = Mutex(State())
    private let started: AsyncStream<(WarmPool, PackageLease)>.Continuation
    private let startedStream: AsyncStream<(WarmPool, PackageLease)>

    init(store: PackageStore, warmLimits: RunLimits, maxSets: Int = 4, make: @escaping @Sendable (RunLimits) -> WarmPool) {
        self.store = store
        self.warmLimits = warmLimits
        self.maxSets = maxSets
        self.make = make
        (startedStream, started) = AsyncStream.makeStream()
    }

    /// The pool of the run's set; nil for a run that names none, or whose
    /// limits no warm sandbox has (it gets one launched for it).
    func pool(for limits: RunLimits) async -> WarmPool? {
        guard let layer = limits.packageLayer else { return nil }
        var launch = warmLimits
        launch.packageLayer = layer
        guard limits.fits(launchedWith: launch) else { return nil }
        let now = ContinuousClock.now
        if let pool = state.withLock({ state -> WarmPool? in
            state.pools[layer.key]?.lastUsed = now
            return state.pools[layer.key]?.pool
        }) {
            return pool
        }
        guard let lease = await store.lease(layer: layer.key) else { return nil }
        let pool = make(launch)
        let (kept, evicted) = state.withLock { state -> (WarmPool?, WarmPool?) in
            guard state.open else { return (nil, nil) }
            if let other = state.pools[layer.key] { return (other.pool, nil) }  // made meanwhile
            state.pools[layer.key] = Entry(pool: pool, lastUsed: now)
            started.yield((pool, lease))
            guard state.pools.count > maxSets,
                let (key, entry) = state.pools.min(by: { $0.value.lastUsed < $1.value.lastUsed })
            else { return (pool, nil) }
            state.pools[key] = nil
            return (pool, entry.pool)
        }
        if kept !== pool { await store.release(lease) }
        await evicted?.stop()
        return kept
    }

    /// Runs each pool until it stops, then gives its layer back.
    func run() async {
        await withDiscardingTaskGroup { [store] group in
            for await (pool, lease) in startedStream {
                group.addTask {
                    await pool.run()
                    await store.release(lease)
                }
            }
        }
    }

    func stop() async {
        let pools = state.withLock { state in
            state.open = false
            defer { state.pools = [:] }
            return state.pools.values.map(\.pool)
        }
        started.finish()
        for pool in pools { await pool.stop() }
    }
}
