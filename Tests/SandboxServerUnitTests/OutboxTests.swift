import Synchronization
import Testing

@testable import SandboxServer

@Suite("Outbox")
struct OutboxTests {
    @Test func messagesLeaveInOrderAndTheWriterEndsAfterFinish() async {
        let outbox = Outbox(limit: 1 << 20)
        let written = Mutex<[String]>([])
        let writer = Task { await outbox.write { message in written.withLock { $0.append(message) } } }
        for index in 0..<100 { outbox.send("m\(index)") }
        outbox.finish()
        outbox.send("after finish")
        await writer.value
        #expect(written.withLock { $0 } == (0..<100).map { "m\($0)" })
        #expect(!outbox.hasOverflowed)
    }

    /// A client that does not read: past the limit the outbox drops what it
    /// holds, takes nothing more, and says so (the connection is then ended).
    @Test func pastItsLimitTheOutboxOverflows() async {
        let outbox = Outbox(limit: 1000)
        for _ in 0..<10 { outbox.send(String(repeating: "x", count: 100)) }
        #expect(!outbox.hasOverflowed)  // exactly at the limit
        outbox.send("y")
        #expect(outbox.hasOverflowed)
        for await _ in outbox.overflowed {}  // finished, so this returns
        let written = Mutex<[String]>([])
        await outbox.write { message in written.withLock { $0.append(message) } }
        #expect(written.withLock { $0 }.isEmpty)
    }

    @Test func deliveredMessagesFreeTheirRoom() async {
        let outbox = Outbox(limit: 250)
        let writer = Task { await outbox.write { _ in } }
        for _ in 0..<20 {
            outbox.send(String(repeating: "x", count: 100))
            try? await Task.sleep(for: .milliseconds(2))
        }
        outbox.finish()
        await writer.value
        #expect(!outbox.hasOverflowed)
    }

    @Test func aFailedDeliveryDiscardsTheRest() async {
        struct Gone: Error {}
        let outbox = Outbox(limit: 1 << 20)
        let attempts = Mutex(0)
        for index in 0..<5 { outbox.send("m\(index)") }
        outbox.finish()
        await outbox.write { _ in
            attempts.withLock { $0 += 1 }
            throw Gone()
        }
        #expect(attempts.withLock { $0 } == 1)
    }
}
