import Foundation

/// What a tenant used: runs ended, CPU their verdicts counted, sessions opened.
public struct UsageCounts: Sendable, Equatable, Codable {
    public var runs = 0
    public var cpuMs = 0
    public var sessions = 0

    public init(runs: Int = 0, cpuMs: Int = 0, sessions: Int = 0) {
        self.runs = runs
        self.cpuMs = cpuMs
        self.sessions = sessions
    }

    public static let zero = UsageCounts()
    public var isZero: Bool { self == .zero }

    public static func + (left: UsageCounts, right: UsageCounts) -> UsageCounts {
        UsageCounts(runs: left.runs + right.runs, cpuMs: left.cpuMs + right.cpuMs, sessions: left.sessions + right.sessions)
    }

    public static func += (left: inout UsageCounts, right: UsageCounts) { left = left + right }
}

/// One tenant's counts as a store holds them: over all time and on one day.
public struct UsageTotals: Sendable, Equatable {
    public var allTime: UsageCounts
    public var day: UTCDay
    public var onDay: UsageCounts

    public init(allTime: UsageCounts = .zero, day: UTCDay, onDay: UsageCounts = .zero) {
        self.allTime = allTime
        self.day = day
        self.onDay = onDay
    }
}

/// A UTC calendar day, the period of `cpuSecondsPerDay`: `2026-12-07`.
public struct UTCDay: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public let number: Int

    public init(number: Int) { self.number = number }

    public init(_ date: Date) {
        number = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    public static var today: UTCDay { UTCDay(Date()) }

    public var start: Date { Date(timeIntervalSince1970: Double(number) * 86_400) }
    /// When the next day starts: the quota's reset.
    public var end: Date { Date(timeIntervalSince1970: Double(number + 1) * 86_400) }

    /// `YYYY-MM-DD`, as the stores key it.
    public var description: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: start)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) else { return nil }
        self.init(date)
    }

    public static func < (left: UTCDay, right: UTCDay) -> Bool { left.number < right.number }
}

/// Why a store could not be read or written.
public struct UsageStoreError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// Where tenants' usage lasts: across restarts, and (PostgreSQL) across the nodes that share it.
public protocol UsageStore: Sendable {
    /// Adds `deltas` (by tenant and day) and returns every tenant's totals
    /// after it, over all time and on `day`: another node's usage included.
    func add(_ deltas: [UsageDelta], reading day: UTCDay) async throws(UsageStoreError) -> [String: UsageTotals]
    /// What the store is, for logs: `sqlite:/var/lib/...`, `postgres://host/db`.
    var name: String { get }
}

/// Counts to add to one tenant's day.
public struct UsageDelta: Sendable, Equatable {
    public var tenant: String
    public var day: UTCDay
    public var counts: UsageCounts

    public init(tenant: String, day: UTCDay, counts: UsageCounts) {
        self.tenant = tenant
        self.day = day
        self.counts = counts
    }
}
