import Foundation
import SandboxProtocol
import Testing

@testable import SandboxServer

@Suite("TenantAccount")
struct TenantAccountTests {
    static let noon = Date(timeIntervalSince1970: 1_796_601_600 + 43_200)  // 2026-12-07T12:00:00Z

    @Test func theDailyQuotaRefusesOnceSpentSaysWhenItResetsAndResetsAtMidnightUTC() throws {
        let account = TenantAccount(Tenant(name: "school", tokenDigests: [], cpuSecondsPerDay: 2), today: UTCDay(Self.noon))
        try account.checkQuota(now: Self.noon)
        account.charge(cpuMs: 1500, run: true, now: Self.noon)
        try account.checkQuota(now: Self.noon)
        account.charge(cpuMs: 600, run: true, now: Self.noon)
        let error = try #require(throws: RPCError.self) { try account.checkQuota(now: Self.noon) }
        #expect(error.code == -32011)
        #expect(error.message == "Quota exceeded: tenant school has used its 2 CPU seconds for today (UTC); the quota resets at 2026-12-08T00:00:00Z")
        #expect(error.data?["quota"] == "cpuSecondsPerDay" && error.data?["usedMs"] == 2100 && error.data?["limit"] == 2)
        #expect(error.data?["retryAfterMs"] == .integer(43_200_000) && error.data?["resetsAt"] == "2026-12-08T00:00:00Z")
        let usage = account.usage(now: Self.noon)
        #expect(usage.today.cpuMsLeft == 0 && usage.today.runs == 2 && usage.cpuMs == 2100)
        let tomorrow = Self.noon.addingTimeInterval(86_400)
        try account.checkQuota(now: tomorrow)
        #expect(account.usage(now: tomorrow).today == .init(runs: 0, cpuMs: 0, sessions: 0, cpuMsLeft: 2000, resetsAt: "2026-12-09T00:00:00Z"))
        #expect(account.usage(now: tomorrow).cpuMs == 2100, "the totals keep yesterday's")
    }

    @Test func whatTheStoreSaysCountsTowardTheQuotaAndAFailedWriteIsKept() throws {
        let day = UTCDay(Self.noon)
        let account = TenantAccount(Tenant(name: "lab", tokenDigests: [], cpuSecondsPerDay: 1), today: day)
        account.charge(cpuMs: 100, run: false, now: Self.noon)
        account.openedSession(now: Self.noon)
        let pending = account.takePending()
        #expect(pending == [UsageDelta(tenant: "lab", day: day, counts: UsageCounts(cpuMs: 100, sessions: 1))])
        #expect(account.takePending().isEmpty)
        account.restore(pending)
        #expect(account.usage(now: Self.noon).today.cpuMs == 100)
        // Another node's runs, as the store reports them after a write.
        _ = account.takePending()
        account.stored(UsageTotals(allTime: UsageCounts(runs: 9, cpuMs: 1000, sessions: 1), day: day, onDay: UsageCounts(runs: 9, cpuMs: 1000, sessions: 1)))
        #expect(throws: RPCError.self) { try account.checkQuota(now: Self.noon) }
        #expect(account.usage(now: Self.noon).runs == 9)
    }

    @Test func theTenantsRateIsSharedByEveryoneWhoTakesFromIt() throws {
        let account = TenantAccount(Tenant(name: "class", tokenDigests: [], runsPerMinute: 2))
        try account.takeRun()
        try account.takeRun()
        let error = try #require(throws: RPCError.self) { try account.takeRun() }
        #expect(error.code == -32004 && error.data?["scope"] == "tenant class" && error.data?["runsPerMinute"] == 2, "\(error)")
        #expect(error.message.hasPrefix("Rate limited: at most 2 runs per minute for tenant class; retry after"), "\(error.message)")
        let unlimited = TenantAccount(Tenant(name: "other", tokenDigests: []))
        for _ in 0..<1000 { try unlimited.takeRun() }
    }

    @Test func aTenantsPackagesNarrowTheServicesForRunsSessionsAndPip() throws {
        let set = try PackageRequirementSet(parsing: ["numpy", "Six"])
        try PackageService.check(set, allowed: .any, tenant: Tenant(name: "t", tokenDigests: []))
        let some = Tenant(name: "t", tokenDigests: [], packages: .only(["numpy"]))
        let error = try #require(throws: RPCError.self) { try PackageService.check(set, allowed: .any, tenant: some) }
        #expect(error.code == -32008 && error.data?["reason"] == "notAllowed" && error.data?["requirement"] == "six", "\(error)")
        #expect(error.data?["scope"] == "tenant" && error.message == "Packages unavailable: package 'six' is not among those tenant t may use")
        let none = try #require(throws: RPCError.self) {
            try PackageService.check(set, allowed: .any, tenant: Tenant(name: "t", tokenDigests: [], packages: .none))
        }
        #expect(none.message == "Packages unavailable: tenant t may not name packages")
    }

    @Test func aUTCDayIsNamedAsTheStoresKeyIt() throws {
        let day = UTCDay(Self.noon)
        #expect(day.description == "2026-12-07")
        #expect(UTCDay("2026-12-07") == day && UTCDay("2026-12-08")! > day && UTCDay("nonsense") == nil)
        #expect(day.end == Date(timeIntervalSince1970: 1_796_688_000))
    }
}
