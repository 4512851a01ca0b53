import Synchronization

/// Counts the launchers of one `Sandbox` that have not been reaped yet. A
/// verdict comes before its launcher has removed the run's cgroup, so the
/// cgroup parents can only go once this count is zero.
final class LauncherCensus: Sendable {
    private let live = Mutex(0)

    var count: Int { live.withLock { $0 } }

    func launched() {
        live.withLock { $0 += 1 }
    }

    func reaped() {
        live.withLock { $0 -= 1 }
    }

    /// Waits until every launcher has been reaped, or `limit` has passed; true if all were.
    func drained(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while count > 0 {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
