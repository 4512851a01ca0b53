import Testing

@testable import SandboxServer

@Suite("SessionPlaces")
struct SessionPlacesTests {
    let alice = SessionHolder(address: "127.0.0.1")
    let bob = SessionHolder(address: "127.0.0.2")
    let carol = SessionHolder(address: "10.0.0.3")

    @Test func aHolderStopsAtItsOwnCapBeforeTheServerIsFull() throws {
        var places = SessionPlaces(total: 4, perHolder: 2)
        _ = try places.take(for: alice)
        _ = try places.take(for: alice)
        #expect(throws: SessionPlaces.Refusal.holderFull(limit: 2)) { try places.take(for: alice) }
        _ = try places.take(for: bob)
        #expect(places.count == 3 && places.held(by: alice) == 2 && places.held(by: bob) == 1)
    }

    /// A tenant's cap counts every holder of it; a place passed on is under it too.
    @Test func aTenantStopsAtItsCapOverAllItsHoldersAndOnlyIt() throws {
        var places = SessionPlaces(total: 8, perHolder: 4)
        let schoolA = SessionHolder(address: "10.0.0.1", tenant: "school")
        let schoolB = SessionHolder(address: "10.0.0.2", tenant: "school")
        let lab = SessionHolder(address: "10.0.0.1", tenant: "lab")
        let first = try places.take(for: schoolA, tenantCap: 2)
        _ = try places.take(for: schoolB, tenantCap: 2)
        #expect(throws: SessionPlaces.Refusal.tenantFull(limit: 2)) { try places.take(for: schoolA, tenantCap: 2) }
        let labs = try places.take(for: lab, tenantCap: 2)
        #expect(places.held(byTenant: "school") == 2 && places.held(byTenant: "lab") == 1 && places.held(by: lab) == 1)
        #expect(throws: SessionPlaces.Refusal.tenantFull(limit: 2)) { try places.pass(labs, to: schoolA, tenantCap: 2) }
        places.release(first)
        _ = try places.pass(labs, to: schoolA, tenantCap: 2)
        #expect(places.held(byTenant: "school") == 2 && places.held(byTenant: "lab") == 0)
    }

    @Test func theServerFullIsSaidOnlyToHoldersUnderTheirCap() throws {
        var places = SessionPlaces(total: 3, perHolder: 2)
        for holder in [alice, alice, bob] { _ = try places.take(for: holder) }
        #expect(throws: SessionPlaces.Refusal.serverFull(limit: 3)) { try places.take(for: carol) }
        #expect(throws: SessionPlaces.Refusal.holderFull(limit: 2)) { try places.take(for: alice) }
    }

    @Test func aReleasedPlaceIsFreeOnceAndOnlyOnce() throws {
        var places = SessionPlaces(total: 2, perHolder: 2)
        let first = try places.take(for: alice)
        _ = try places.take(for: alice)
        places.release(first)
        places.release(first)
        #expect(places.count == 1 && places.held(by: alice) == 1)
        _ = try places.take(for: bob)
        #expect(throws: SessionPlaces.Refusal.serverFull(limit: 2)) { try places.take(for: carol) }
    }

    @Test func aPassedPlaceChangesHoldersAndTheOldTicketNoLongerCounts() throws {
        var places = SessionPlaces(total: 2, perHolder: 2)
        let first = try places.take(for: alice)
        _ = try places.take(for: alice)
        let passed = try places.pass(first, to: bob)
        #expect(places.count == 2 && places.held(by: alice) == 1 && places.held(by: bob) == 1)
        #expect(places.holder(of: passed) == bob && places.holder(of: first) == nil)
        places.release(first)  // already passed on: nothing changes
        #expect(places.held(by: bob) == 1 && places.count == 2)
    }

    @Test func aPlaceIsNotPassedToAHolderAtItsCap() throws {
        var places = SessionPlaces(total: 3, perHolder: 1)
        let alices = try places.take(for: alice)
        _ = try places.take(for: bob)
        #expect(throws: SessionPlaces.Refusal.holderFull(limit: 1)) { try places.pass(alices, to: bob) }
        #expect(places.holder(of: alices) == alice)
    }

    @Test func reclaimingTakesFromWhoeverHoldsMostItsLongestIdleSession() throws {
        var places = SessionPlaces(total: 6, perHolder: 4)
        let a1 = try places.take(for: alice), a2 = try places.take(for: alice), a3 = try places.take(for: alice)
        let b1 = try places.take(for: bob), b2 = try places.take(for: bob)
        let c1 = try places.take(for: carol)
        let candidates: [SessionPlaces.Candidate<String>] = [
            .init(ticket: b1, idleFor: .seconds(900), session: "b1"),
            .init(ticket: a1, idleFor: .seconds(40), session: "a1"),
            .init(ticket: a3, idleFor: .seconds(300), session: "a3"),
            .init(ticket: b2, idleFor: .seconds(60), session: "b2"),
            .init(ticket: c1, idleFor: .seconds(5000), session: "c1"),
        ]
        _ = a2  // busy: not a candidate
        let newcomer = SessionHolder(address: "10.0.0.9")
        // Alice holds 3, Bob 2, Carol 1, the newcomer none: Alice first (longest idle first), then Bob, then Carol.
        #expect(places.reclaimOrder(for: newcomer, among: candidates).map(\.session) == ["a3", "a1", "b1", "b2", "c1"])
        // Carol (1) takes only from those holding more than she does, and never from herself.
        #expect(places.reclaimOrder(for: carol, among: candidates).map(\.session) == ["a3", "a1", "b1", "b2"])
        // Bob (2) takes only from Alice; Alice (3) from nobody.
        #expect(places.reclaimOrder(for: bob, among: candidates).map(\.session) == ["a3", "a1"])
        #expect(places.reclaimOrder(for: alice, among: candidates).isEmpty)
    }

    @Test func candidatesWhosePlaceWasPassedOnAreNotReclaimedTwice() throws {
        var places = SessionPlaces(total: 2, perHolder: 2)
        let a1 = try places.take(for: alice)
        _ = try places.take(for: alice)
        let candidate = SessionPlaces.Candidate(ticket: a1, idleFor: .seconds(60), session: "a1")
        _ = try places.pass(a1, to: bob)
        #expect(places.reclaimOrder(for: carol, among: [candidate]).isEmpty)
    }
}
