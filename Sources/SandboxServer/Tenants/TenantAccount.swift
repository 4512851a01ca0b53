import Foundation
import SandboxProtocol
import Synchronization

/// One tenant's live counters on this node: its run rate, its usage as the
/// store last said plus what this node has not written yet, and the daily
/// CPU quota checked against both.
final class TenantAccount: Sendable {
    let name: String

    private struct State {
        var tenant: Tenant
        var bucket: TokenBucket?
        /// The store's totals after the last write (every node's usage).
        var stored: UsageTotals
        /// Counted here and not written yet, by day.
        var pending: [UTCDay: UsageCounts] = [:]
    }

    private let state: Mutex<State>

    init(_ tenant: Tenant, today: UTCDay = .today) {
        name = tenant.name
        state = Mutex(State(
            tenant: tenant, bucket: tenant.runsPerMinute.map { TokenBucket(runsPerMinute: $0) },
            stored: UsageTotals(day: today)))
    }

    var tenant: Tenant { state.withLock { $0.tenant } }
    var maxConcurrentRuns: Int? { state.withLock { $0.tenant.maxConcurrentRuns } }
    var maxQueuedRuns: Int? { state.withLock { $0.tenant.maxQueuedRuns } }

    /// Takes the new settings (a reloaded file); a changed rate starts a full bucket.
    func update(_ tenant: Tenant) {
        state.withLock { state in
            if tenant.runsPerMinute != state.tenant.runsPerMinute {
                state.bucket = tenant.runsPerMinute.map { TokenBucket(runsPerMinute: $0) }
            }
            state.tenant = tenant
        }
    }

    /// Takes one of the tenant's runs per minute (every connection and
    /// node-local client of it shares them); nil when it has no rate.
    @discardableResult
    func takeRun() throws(RPCError) -> RateStanding? {
        try state.withLock { state throws(RPCError) in
            guard let limit = state.tenant.runsPerMinute, var bucket = state.bucket else { return nil }
            defer { state.bucket = bucket }
            if let wait = bucket.take() {
                throw RPCError.rateLimited(perMinute: limit, retryAfter: wait, scope: "tenant \(state.tenant.name)")
            }
            return bucket.standing
        }
    }

    /// Refuses a run that would start with the day's CPU quota spent. A run
    /// already going is not cut short: its own limits bound it.
    func checkQuota(now: Date = Date()) throws(RPCError) {
        try state.withLock { state throws(RPCError) in
            guard let seconds = state.tenant.cpuSecondsPerDay else { return }
            let day = UTCDay(now)
            let used = Self.onDay(day, state).cpuMs
            guard used >= seconds * 1000 else { return }
            throw RPCError.quotaExceeded(
                tenant: state.tenant.name, cpuSecondsPerDay: seconds, usedMs: used, resetsAt: day.end, now: now)
        }
    }

    /// A verdict's CPU, and a run when it was one (a completion's or a file request's helper is not).
    func charge(cpuMs: Int, run: Bool, now: Date = Date()) {
        add(UsageCounts(runs: run ? 1 : 0, cpuMs: max(0, cpuMs)), now: now)
    }

    func openedSession(now: Date = Date()) {
        add(UsageCounts(sessions: 1), now: now)
    }

    private func add(_ counts: UsageCounts, now: Date) {
        state.withLock { $0.pending[UTCDay(now), default: .zero] += counts }
    }

    /// What `GET /v1/usage` says of it at `now`.
    func usage(now: Date = Date()) -> UsageReport {
        state.withLock { state in
            let day = UTCDay(now)
            let today = Self.onDay(day, state)
            let allTime = state.pending.values.reduce(state.stored.allTime, +)
            return UsageReport(
                tenant: state.tenant.name, runs: allTime.runs, cpuMs: allTime.cpuMs, sessions: allTime.sessions,
                today: UsageReport.Today(
                    runs: today.runs, cpuMs: today.cpuMs, sessions: today.sessions,
                    cpuMsLeft: state.tenant.cpuSecondsPerDay.map { max(0, $0 * 1000 - today.cpuMs) },
                    resetsAt: day.end.formatted(.iso8601)))
        }
    }

    private static func onDay(_ day: UTCDay, _ state: State) -> UsageCounts {
        (state.stored.day == day ? state.stored.onDay : .zero) + (state.pending[day] ?? .zero)
    }

    /// Hands what is not written yet to the writer, which gives it back with
    /// `restore` if the write fails.
    func takePending() -> [UsageDelta] {
        state.withLock { state in
            defer { state.pending = [:] }
            return state.pending.filter { !$0.value.isZero }.map { UsageDelta(tenant: name, day: $0.key, counts: $0.value) }
        }
    }

    func restore(_ deltas: [UsageDelta]) {
        state.withLock { state in
            for delta in deltas { state.pending[delta.day, default: .zero] += delta.counts }
        }
    }

    /// The store's totals after a write (a day's that is not `stored.day` yet moves it on).
    func stored(_ totals: UsageTotals) {
        state.withLock { $0.stored = totals }
    }
}

/// `GET /v1/usage`: the caller's tenant's totals and today's (PROTOCOL.md §8).
struct UsageReport: Codable, Sendable, Equatable {
    struct Today: Codable, Sendable, Equatable {
        var runs: Int
        var cpuMs: Int
        var sessions: Int
        /// With a daily quota: CPU milliseconds left today.
        var cpuMsLeft: Int?
        /// When today ends (UTC), as ISO 8601: `2026-12-08T00:00:00Z`.
        var resetsAt: String
    }

    var tenant: String
    var runs: Int
    var cpuMs: Int
    var sessions: Int
    var today: Today
}

extension RPCError {
    /// A tenant's daily CPU quota is spent: which quota, and when it resets.
    static func quotaExceeded(tenant: String, cpuSecondsPerDay: Int, usedMs: Int, resetsAt: Date, now: Date) -> RPCError {
        let retryAfterMs = Int64(max(1, (resetsAt.timeIntervalSince(now) * 1000).rounded(.up)))
        let resets = resetsAt.formatted(.iso8601)
        return RPCError(
            .quotaExceeded,
            "tenant \(tenant) has used its \(cpuSecondsPerDay) CPU seconds for today (UTC); the quota resets at \(resets)",
            data: .object([
                "quota": .string("cpuSecondsPerDay"), "limit": .integer(Int64(cpuSecondsPerDay)),
                "usedMs": .integer(Int64(usedMs)), "resetsAt": .string(resets), "retryAfterMs": .integer(retryAfterMs),
            ]))
    }
}
