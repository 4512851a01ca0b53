import Testing

@testable import SandboxServer

@Suite("TokenBucket")
struct TokenBucketTests {
    @Test func aFullBucketAllowsABurstThenSaysWhenToRetry() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(runsPerMinute: 60, now: start)
        for _ in 0..<60 { #expect(bucket.take(now: start) == nil) }
        let wait = bucket.take(now: start)
        #expect(wait == .seconds(1))  // 60 per minute: one a second
        #expect(!bucket.isFull)
    }

    @Test func tokensComeBackEvenlyOverTheMinute() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(runsPerMinute: 120, now: start)
        for _ in 0..<120 { _ = bucket.take(now: start) }
        #expect(bucket.take(now: start + .milliseconds(400)) != nil)  // 0.8 of a token
        #expect(bucket.take(now: start + .milliseconds(600)) == nil)  // the second half-second's token
        #expect(bucket.take(now: start + .milliseconds(700)) != nil)
        let retry = bucket.take(now: start + .milliseconds(700))
        #expect(retry.map { $0 > .zero && $0 <= .milliseconds(500) } == true, "\(String(describing: retry))")
    }

    @Test func theBucketNeverHoldsMoreThanItsCapacity() {
        let start = ContinuousClock.now
        var bucket = TokenBucket(runsPerMinute: 3, now: start)
        let later = start + .seconds(3600)
        for _ in 0..<3 { #expect(bucket.take(now: later) == nil) }
        #expect(bucket.take(now: later) != nil)
    }
}
