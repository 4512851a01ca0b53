/// Waiting items in one lane per tenant, served round-robin between
/// tenants and, within a lane, between the tenant's clients (`FairQueue`):
/// a tenant with 200 runs waiting from 50 connections delays another
/// tenant's single run by at most one turn. A tenant at its concurrency
/// cap is passed over and keeps its turn.
struct TenantQueue<Tenant: Hashable, Client: Hashable, Item> {
    private var lanes: [Tenant: FairQueue<Client, Item>] = [:]
    /// Tenants with waiting items, in serving order.
    private var turns: [Tenant] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    func waiting(of tenant: Tenant) -> Int { lanes[tenant]?.count ?? 0 }

    /// Appends `item`; returns about how many items will be served before it.
    mutating func push(_ item: Item, tenant: Tenant, client: Client) -> Int {
        if lanes[tenant] == nil { turns.append(tenant) }
        let ahead = lanes[tenant, default: FairQueue()].push(item, owner: client)
        count += 1
        // Each other tenant gets at most one turn per item ahead of this one in its lane, plus one.
        return ahead + lanes.reduce(0) { sum, lane in lane.key == tenant ? sum : sum + min(lane.value.count, ahead + 1) }
    }

    /// The next item of the first tenant in turn that `isAtCap` does not pass over.
    mutating func pop(passingOver isAtCap: (Tenant) -> Bool = { _ in false }) -> Item? {
        guard let index = turns.firstIndex(where: { !isAtCap($0) }) else { return nil }
        let tenant = turns.remove(at: index)
        guard var lane = lanes[tenant], let item = lane.pop() else { return nil }
        if lane.isEmpty {
            lanes[tenant] = nil
        } else {
            lanes[tenant] = lane
            turns.append(tenant)
        }
        count -= 1
        return item
    }

    /// Removes the first item of `client` of `tenant` that matches; nil if there is none.
    mutating func remove(tenant: Tenant, client: Client, where matches: (Item) -> Bool) -> Item? {
        guard var lane = lanes[tenant], let item = lane.remove(owner: client, where: matches) else { return nil }
        count -= 1
        if lane.isEmpty {
            lanes[tenant] = nil
            turns.removeAll { $0 == tenant }
        } else {
            lanes[tenant] = lane
        }
        return item
    }

    mutating func removeAll() -> [Item] {
        var items: [Item] = []
        for tenant in turns { items += lanes[tenant]?.removeAll() ?? [] }
        lanes = [:]
        turns = []
        count = 0
        return items
    }
}
