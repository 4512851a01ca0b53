import Synchronization
import Testing

@testable import SandboxRuntime

/// The waiters' one primitive: no wakeup is lost between looking at the
/// state and parking, every waiter wakes at a change, and a wait for a
/// condition returns only once it holds.
@Suite("EventCount")
struct EventCountTests {
    /// A value the test's tasks share.
    final class Shared<Value: Sendable>: Sendable {
        private let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
    }

    @Test("a change after the ticket was taken, before the wait, is not lost")
    func aChangeBeforeTheWaitIsNotLost() async {
        let changes = EventCount()
        let ticket = changes.ticket()
        changes.notifyAll()
        await changes.wait(for: ticket)  // returns at once: it would hang otherwise
        #expect(changes.waiting == 0)
    }

    @Test("every waiter parked on the same ticket wakes at one change")
    func everyWaiterWakes() async {
        let changes = EventCount()
        let woken = Shared(0)
        await withTaskGroup(of: Void.self) { group in
            let ticket = changes.ticket()
            for _ in 0..<8 {
                group.addTask {
                    await changes.wait(for: ticket)
                    woken.withLock { $0 += 1 }
                }
            }
            while changes.waiting < 8 { await Task.yield() }
            #expect(woken.withLock { $0 } == 0)
            changes.notifyAll()
        }
        #expect(woken.withLock { $0 } == 8)
        #expect(changes.waiting == 0)
    }

    @Test("a ticket taken after a change waits for the next one")
    func aNewTicketWaitsForTheNextChange() async {
        let changes = EventCount()
        changes.notifyAll()
        let ticket = changes.ticket()
        let returned = Shared(false)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await changes.wait(for: ticket)
                returned.withLock { $0 = true }
            }
            while changes.waiting < 1 { await Task.yield() }
            #expect(!returned.withLock { $0 })
            changes.notifyAll()
        }
        #expect(returned.withLock { $0 })
    }

    @Test("wait(until:) returns only once its condition holds, whatever changes come before")
    func waitUntilLooksAgainAtEveryChange() async {
        let changes = EventCount()
        let count = Shared(0)
        let sawAtReturn = Shared(-1)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await changes.wait(until: { count.withLock { $0 >= 3 } })
                sawAtReturn.withLock { $0 = count.withLock { $0 } }
            }
            for _ in 0..<3 {
                while changes.waiting < 1 { await Task.yield() }
                #expect(sawAtReturn.withLock { $0 } == -1)
                count.withLock { $0 += 1 }
                changes.notifyAll()
            }
        }
        #expect(sawAtReturn.withLock { $0 } == 3)
    }

    @Test("many producers and waiters under contention: every waiter sees its condition")
    func contention() async {
        let changes = EventCount()
        let count = Shared(0)
        await withTaskGroup(of: Void.self) { group in
            for waiter in 0..<50 {
                group.addTask { await changes.wait(until: { count.withLock { $0 } > waiter * 10 }) }
            }
            for _ in 0..<600 {
                group.addTask {
                    count.withLock { $0 += 1 }
                    changes.notifyAll()
                }
            }
        }
        #expect(count.withLock { $0 } == 600)
        #expect(changes.waiting == 0)
    }
}
