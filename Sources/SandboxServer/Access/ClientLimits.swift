import SandboxProtocol
import Synchronization

/// Connections open, over all and per client address, and the run rate of
/// HTTP clients (per address; WebSocket connections have a bucket each).
final class ClientLimits: Sendable {
    struct Settings: Sendable {
        var maxConnections: Int
        var maxConnectionsPerAddress: Int
        var runsPerMinute: Int
    }

    enum Refusal: Error, Equatable {
        case tooManyConnections(limit: Int)
        case tooManyFromAddress(limit: Int)
    }

    private struct State {
        var total = 0
        var byAddress: [String: Int] = [:]
        var httpBuckets: [String: TokenBucket] = [:]
    }

    let settings: Settings
    private let state = Mutex(State())

    init(_ settings: Settings) {
        self.settings = settings
    }

    var openConnections: Int { state.withLock { $0.total } }

    /// Whether a connection from `address` would be let in now (checked before the upgrade).
    func admissionRefusal(for address: String) -> Refusal? {
        state.withLock { Self.refusal(for: address, in: $0, settings) }
    }

    /// Counts a connection in; release it with `release(_:)` when it closes.
    func reserve(for address: String) throws(Refusal) {
        try state.withLock { state throws(Refusal) in
            if let refusal = Self.refusal(for: address, in: state, settings) { throw refusal }
            state.total += 1
            state.byAddress[address, default: 0] += 1
        }
    }

    func release(_ address: String) {
        state.withLock { state in
            state.total -= 1
            let left = (state.byAddress[address] ?? 1) - 1
            state.byAddress[address] = left > 0 ? left : nil
        }
    }

    /// Takes a run from `address`'s HTTP bucket and says how it stands; the error says when to retry.
    func takeHTTPRun(from address: String) throws(RPCError) -> RateStanding {
        try state.withLock { state throws(RPCError) in
            if state.httpBuckets.count > 10_000 { state.httpBuckets = state.httpBuckets.filter { !$0.value.isFull } }
            var bucket = state.httpBuckets[address] ?? TokenBucket(runsPerMinute: settings.runsPerMinute)
            defer { state.httpBuckets[address] = bucket }
            if let wait = bucket.take() { throw RPCError.rateLimited(perMinute: settings.runsPerMinute, retryAfter: wait) }
            return bucket.standing
        }
    }

    private static func refusal(for address: String, in state: State, _ settings: Settings) -> Refusal? {
        if state.total >= settings.maxConnections { return .tooManyConnections(limit: settings.maxConnections) }
        if state.byAddress[address, default: 0] >= settings.maxConnectionsPerAddress {
            return .tooManyFromAddress(limit: settings.maxConnectionsPerAddress)
        }
        return nil
    }
}

extension RPCError {
    /// `what`: the requests counted (runs, or `code/*` requests at their own rate).
    /// `scope`: whose rate it is when not the connection's or the address's (`tenant NAME`).
    static func rateLimited(perMinute: Int, retryAfter wait: Duration, of what: String = "runs", scope: String? = nil) -> RPCError {
        let milliseconds = Int64((wait / .milliseconds(1)).rounded(.up))
        // The same figures as REST's RateLimit-* headers: none left, and full
        // again once the next token has come and the rest of a minute's.
        let reset = (Double(max(1, milliseconds)) / 1000 + 60 * Double(max(0, perMinute - 1)) / Double(max(1, perMinute))).rounded(.up)
        var data: [String: JSONValue] = [
            "retryAfterMs": .integer(max(1, milliseconds)), "runsPerMinute": .integer(Int64(perMinute)),
            "limit": .integer(Int64(perMinute)), "remaining": 0, "resetSeconds": .integer(Int64(reset)),
        ]
        if let scope { data["scope"] = .string(scope) }
        return RPCError(
            .rateLimited, "at most \(perMinute) \(what) per minute\(scope.map { " for \($0)" } ?? ""); retry after \(milliseconds) ms",
            data: .object(data))
    }

    /// A connection with `limit` runs (and `code/*` requests) queued or running.
    static func tooManyInFlight(limit: Int) -> RPCError {
        RPCError(
            .tooManyInFlight, "this connection already has \(limit) runs queued or running",
            data: .object(["limit": .integer(Int64(limit))]))
    }
}
