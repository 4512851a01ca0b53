import Testing

@testable import SandboxServer

@Suite("TenantQueue")
struct TenantQueueTests {
    @Test func tenantsTakeTurnsWhateverTheirClientsAndWaitingRuns() {
        var queue = TenantQueue<String, String, String>()
        for index in 0..<4 { _ = queue.push("busy-a\(index)", tenant: "busy", client: "a") }
        for index in 0..<4 { _ = queue.push("busy-b\(index)", tenant: "busy", client: "b") }
        let position = queue.push("quiet-1", tenant: "quiet", client: "c")
        #expect(position == 1, "one turn of the busy tenant, then the quiet one's")
        var served: [String] = []
        while let item = queue.pop() { served.append(item) }
        #expect(served.prefix(3) == ["busy-a0", "quiet-1", "busy-b0"], "\(served)")
        #expect(served.count == 9 && queue.isEmpty)
    }

    @Test func aTenantAtItsCapIsPassedOverAndKeepsItsTurn() {
        var queue = TenantQueue<String, String, String>()
        _ = queue.push("capped-1", tenant: "capped", client: "a")
        _ = queue.push("capped-2", tenant: "capped", client: "a")
        _ = queue.push("free-1", tenant: "free", client: "b")
        #expect(queue.pop(passingOver: { $0 == "capped" }) == "free-1")
        #expect(queue.pop(passingOver: { $0 == "capped" }) == nil, "only the capped tenant waits")
        #expect(queue.count == 2 && queue.waiting(of: "capped") == 2)
        #expect(queue.pop() == "capped-1")
    }

    @Test func removingTheLastItemOfATenantEndsItsTurn() {
        var queue = TenantQueue<String, String, String>()
        _ = queue.push("a1", tenant: "t1", client: "a")
        _ = queue.push("b1", tenant: "t2", client: "b")
        #expect(queue.remove(tenant: "t1", client: "a", where: { $0 == "a1" }) == "a1")
        #expect(queue.remove(tenant: "t1", client: "a", where: { $0 == "a1" }) == nil)
        #expect(queue.pop() == "b1" && queue.pop() == nil && queue.isEmpty)
        _ = queue.push("x", tenant: "t1", client: "a")
        _ = queue.push("y", tenant: "t2", client: "b")
        #expect(Set(queue.removeAll()) == ["x", "y"] && queue.isEmpty)
    }
}
