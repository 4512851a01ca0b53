import Synchronization

/// The fork-server slots of package sets: a fork server has its package
/// layer bound when it starts, so each layer (and each kind of fork server)
/// has slots of its own, made when a run first asks for that layer. Past
/// `maxPools`, the pool used least recently (and not in the last
/// `evictionAge`) is closed: its idle fork servers end, and those running
/// a run end when it does. `run()` owns every pool's watch.
final class PackageSlotPools: Sendable {
    enum Kind: Hashable, Sendable {
        case plain
        case preloading
        case session
    }

    private struct Key: Hashable {
        var layer: String
        var kind: Kind
    }

    private struct Entry {
        var slots: ForkServerSlots
        var lastUsed: ContinuousClock.Instant
    }

    private struct State {
        var pools: [Key: Entry] = [:]
        var open = true
    }

    private let make: @Sendable (PackageLayer, Kind) -> ForkServerSlots
    private let maxPools: Int
    private let evictionAge: Duration
    private let state = Mutex(State())
    private let added: AsyncStream<ForkServerSlots>.Continuation
    private let addedStream: AsyncStream<ForkServerSlots>

    init(maxPools: Int = 8, evictionAge: Duration = .seconds(30), make: @escaping @Sendable (PackageLayer, Kind) -> ForkServerSlots) {
        self.make = make
        self.maxPools = maxPools
        self.evictionAge = evictionAge
        (addedStream, added) = AsyncStream.makeStream()
    }

    /// The slots for `layer` of this kind; nil once closed.
    func slots(for layer: PackageLayer, kind: Kind) -> ForkServerSlots? {
        let key = Key(layer: layer.key, kind: kind)
        let now = ContinuousClock.now
        let (slots, evicted) = state.withLock { state -> (ForkServerSlots?, ForkServerSlots?) in
            guard state.open else { return (nil, nil) }
            if let entry = state.pools[key] {
                state.pools[key]?.lastUsed = now
                return (entry.slots, nil)
            }
            let slots = make(layer, kind)
            state.pools[key] = Entry(slots: slots, lastUsed: now)
            added.yield(slots)
            return (slots, evict(&state, now: now))
        }
        evicted?.close()
        return slots
    }

    /// Removes the least recently used pool past the cap, if it has been idle long enough.
    private func evict(_ state: inout State, now: ContinuousClock.Instant) -> ForkServerSlots? {
        guard state.pools.count > maxPools,
            let (key, entry) = state.pools.min(by: { $0.value.lastUsed < $1.value.lastUsed }),
            entry.lastUsed + evictionAge <= now
        else { return nil }
        state.pools[key] = nil
        return entry.slots
    }

    var poolCount: Int { state.withLock { $0.pools.count } }

    /// Watches every pool until `close()`, then until the last slot has exited.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await slots in addedStream {
                group.addTask { await slots.run() }
            }
        }
    }

    func close() {
        let pools = state.withLock { state in
            state.open = false
            defer { state.pools = [:] }
            return state.pools.values.map(\.slots)
        }
        added.finish()
        pools.forEach { $0.close() }
    }
}

/// The package sets whose fork servers import their modules, by layer key.
final class PreloadedSets: Sendable {
    private let modules = Mutex<[String: [String]]>([:])

    func add(_ layer: PackageLayer) {
        let names = layer.importNames
        modules.withLock { $0[layer.key] = names }
    }

    func modules(of layer: PackageLayer) -> [String] {
        modules.withLock { $0[layer.key] ?? [] }
    }
}
