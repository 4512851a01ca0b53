import Foundation
import SandboxProtocol
import Testing

@testable import sandbox

/// What the CLI prints of a refusal for a quota or a rate: which one, and
/// when to try again, in words.
@Suite("Refusals in words")
struct RefusalWordsTests {
    @Test func aWaitIsSaidInSecondsMinutesOrHours() {
        #expect(RPCError.words(for: 0.2) == "1 s" && RPCError.words(for: 42) == "42 s")
        #expect(RPCError.words(for: 61) == "2 min" && RPCError.words(for: 3600) == "1 h")
        #expect(RPCError.words(for: 5 * 3600 + 11 * 60 + 30) == "5 h 12 min")
    }

    @Test func aSpentQuotaSaysWhenItResetsAndARateWhenToRetry() {
        let resets = Date().addingTimeInterval(2 * 3600 + 5)
        let quota = RPCError(.quotaExceeded, "tenant t has used its 60 CPU seconds for today (UTC)", data: .object([
            "quota": "cpuSecondsPerDay", "limit": 60, "usedMs": 61_000, "retryAfterMs": 7_205_000,
            "resetsAt": .string(resets.formatted(.iso8601)),
        ]))
        let said = quota.refusalInWords(of: "run")
        #expect(said.hasPrefix("the service refused the run: the daily CPU quota of 60 CPU seconds a day is used up; it resets at "), "\(said)")
        #expect(said.hasSuffix("(midnight UTC), in 2 h 1 min"), "\(said)")
        let rate = RPCError(.rateLimited, "at most 2 runs per minute for tenant t; retry after 12000 ms", data: .object([
            "retryAfterMs": 12_000, "runsPerMinute": 2, "scope": "tenant t", "limit": 2, "remaining": 0, "resetSeconds": 42,
        ]))
        #expect(rate.refusalInWords(of: "run") == "the service refused the run: too many runs: at most 2 a minute for tenant t; try again in 12 s")
        let share = RPCError(.queueFull, "tenant t has 128 runs waiting, its share of the queue; retry later", data: .object([
            "retryAfterMs": 3_000, "scope": "tenant t", "limit": 128,
        ]))
        #expect(share.refusalInWords(of: "run")
                == "the service refused the run: tenant t has 128 runs waiting, its share of the queue; try again in 3 s")
        let full = RPCError(.queueFull, "256 runs are waiting; retry later", data: .object(["retryAfterMs": 100]))
        #expect(full.refusalInWords(of: "run") == "the service refused the run: the service is busy (its queue is full); try again in 1 s")
    }
}
