/// Runs per minute: a bucket of `capacity` tokens, refilled evenly over a
/// minute; each run takes one. A full bucket allows a burst of `capacity`.
struct TokenBucket: Sendable {
    let capacity: Double
    let perSecond: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant

    init(runsPerMinute: Int, now: ContinuousClock.Instant = .now) {
        capacity = Double(max(1, runsPerMinute))
        perSecond = capacity / 60
        tokens = capacity
        updated = now
    }

    /// Takes a token; nil if there was one, else how long until there is.
    mutating func take(now: ContinuousClock.Instant = .now) -> Duration? {
        let elapsed = Double((now - updated) / .microseconds(1)) / 1_000_000
        tokens = min(capacity, tokens + elapsed * perSecond)
        updated = now
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        return .microseconds(Int64(((1 - tokens) / perSecond * 1_000_000).rounded(.up)))
    }

    var isFull: Bool { tokens >= capacity }

    /// The bucket as of the last `take`: what `RateLimit-*` headers say.
    var standing: RateStanding {
        RateStanding(
            limit: Int(capacity), remaining: Int(tokens.rounded(.down)),
            resetSeconds: Int(((capacity - tokens) / perSecond).rounded(.up)))
    }
}

/// A rate as the IETF draft's `RateLimit-Limit`, `RateLimit-Remaining` and
/// `RateLimit-Reset` give it: runs per minute, runs left now, and seconds
/// until the bucket is full again.
struct RateStanding: Sendable, Equatable {
    var limit: Int
    var remaining: Int
    var resetSeconds: Int

    /// The one with fewer runs left (the later reset on a tie): the rate a client meets first.
    static func tightest(_ standings: [RateStanding]) -> RateStanding? {
        standings.min { ($0.remaining, -$0.resetSeconds) < ($1.remaining, -$1.resetSeconds) }
    }
}
