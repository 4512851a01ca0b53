import Logging
import ServiceLifecycle

/// Writes what each tenant used to the store every `interval`, and takes
/// back every tenant's totals (every node's), against which quotas are
/// checked. A write that fails is kept and tried again; the service's runs
/// never wait for the store. At shutdown, after the runs have drained, it writes once more.
struct UsageRecorder: Service {
    let accounts: TenantAccounts
    let store: any UsageStore
    let interval: Duration
    let metrics: ServerMetrics
    let logger: Logger

    /// The totals before the first run: a quota holds across a restart.
    static func load(_ store: any UsageStore, into accounts: TenantAccounts) async throws(UsageStoreError) {
        let today = UTCDay.today
        accounts.stored(try await store.add([], reading: today), day: today)
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    await record()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        // The last counts, written even when the service is cancelled rather than stopped.
        await Task { await record() }.value
    }

    /// One write of every account's unwritten counts, and the totals after it.
    func record() async {
        let deltas = accounts.all.flatMap { $0.takePending() }
        let today = UTCDay.today
        do throws(UsageStoreError) {
            let totals = try await store.add(deltas, reading: today)
            accounts.stored(totals, day: today)
        } catch {
            for delta in deltas { accounts.account(named: delta.tenant)?.restore([delta]) }
            metrics.usageStoreFailed()
            logger.warning("usage not written; kept for the next try", metadata: ["store": "\(store.name)", "error": "\(error)"])
        }
    }
}
