import Synchronization

/// Tasks waiting for their owner's state to change, without a lost wakeup:
/// a waiter takes a `Ticket` before it looks at the state (under the
/// owner's lock or actor), and `wait(for:)` returns at once if the state
/// has changed since (`notifyAll()` was called), or else at the next
/// change. The waiter then looks again: a change is a reason to look, not
/// a promise that what it waits for is there. (An event count, after Reed
/// and Kanodia.)
///
/// Every waiter in the service is one of these (a free fork-server slot, a
/// scheduler gone idle, a session's end) or an `AsyncStream` (an intake a
/// single consumer drains). A wait does not end on cancellation: what
/// cancels the owner changes its state and notifies (a `close()`), so
/// that every waiter finds the end by looking.
public final class EventCount: Sendable {
    /// How many changes had been announced when it was taken.
    public struct Ticket: Sendable {
        fileprivate let changes: UInt64
    }

    private struct State {
        var changes: UInt64 = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// Take before looking at the owner's state.
    public func ticket() -> Ticket {
        state.withLock { Ticket(changes: $0.changes) }
    }

    /// Returns once the state has changed after `ticket` was taken.
    public func wait(for ticket: Ticket) async {
        await withCheckedContinuation { continuation in
            let changed = state.withLock { state -> Bool in
                guard state.changes == ticket.changes else { return true }
                state.waiters.append(continuation)
                return false
            }
            if changed { continuation.resume() }
        }
    }

    /// Returns once `condition` holds, looked at first and after each change;
    /// it runs where the caller does (its actor, if it has one).
    public func wait(until condition: () -> Bool, isolation: isolated (any Actor)? = #isolation) async {
        while true {
            let ticket = ticket()
            if condition() { return }
            await wait(for: ticket)
        }
    }

    /// The state has changed: every waiter looks again.
    public func notifyAll() {
        let waiters = state.withLock { state in
            state.changes &+= 1
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waiters parked now (for tests).
    var waiting: Int { state.withLock { $0.waiters.count } }
}
