import Synchronization

/// Usage kept for the process's life only (`--state none`, and tests).
public final class MemoryUsageStore: UsageStore {
    private let counts = Mutex<[String: [UTCDay: UsageCounts]]>([:])

    public init() {}

    public var name: String { "memory" }

    public func add(_ deltas: [UsageDelta], reading day: UTCDay) async throws(UsageStoreError) -> [String: UsageTotals] {
        counts.withLock { counts in
            for delta in deltas { counts[delta.tenant, default: [:]][delta.day, default: .zero] += delta.counts }
            return counts.mapValues { days in
                UsageTotals(allTime: days.values.reduce(.zero, +), day: day, onDay: days[day] ?? .zero)
            }
        }
    }
}
