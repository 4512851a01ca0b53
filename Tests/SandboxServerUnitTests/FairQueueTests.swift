import Testing

@testable import SandboxServer

@Suite("FairQueue")
struct FairQueueTests {
    @Test func lanesAreServedRoundRobin() {
        var queue = FairQueue<String, String>()
        for index in 1...3 { _ = queue.push("a\(index)", owner: "a") }
        _ = queue.push("b1", owner: "b")
        _ = queue.push("c1", owner: "c")
        _ = queue.push("b2", owner: "b")
        var served: [String] = []
        while let item = queue.pop() { served.append(item) }
        #expect(served == ["a1", "b1", "c1", "a2", "b2", "a3"])
        #expect(queue.isEmpty)
    }

    /// A client with 200 runs waiting delays another's single run by one turn, not 200.
    @Test func aBusyLaneDelaysAnotherByOneTurn() {
        var queue = FairQueue<String, Int>()
        for index in 0..<200 { _ = queue.push(index, owner: "busy") }
        let position = queue.push(-1, owner: "single")
        #expect(position == 1)
        #expect(queue.pop() == 0)
        #expect(queue.pop() == -1)
        #expect(queue.count == 199)
    }

    @Test func positionsCountWhatIsServedFirst() {
        var queue = FairQueue<String, Int>()
        #expect(queue.push(1, owner: "a") == 0)
        #expect(queue.push(2, owner: "a") == 1)
        #expect(queue.push(3, owner: "b") == 1)  // after a's first
        #expect(queue.push(4, owner: "b") == 3)  // a1, b3, a2
    }

    @Test func removingTheLastItemOfALaneDropsItsTurn() {
        var queue = FairQueue<String, Int>()
        _ = queue.push(1, owner: "a")
        _ = queue.push(2, owner: "b")
        _ = queue.push(3, owner: "a")
        #expect(queue.remove(owner: "b") { $0 == 2 } == 2)
        #expect(queue.remove(owner: "b") { $0 == 2 } == nil)
        #expect(queue.removeAll() == [1, 3])
        #expect(queue.count == 0)
    }
}
