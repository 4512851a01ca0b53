/// Waiting items in one lane per owner, served round-robin: an owner with
/// 200 items waiting delays another owner's single item by at most one turn.
struct FairQueue<Owner: Hashable, Item> {
    private var lanes: [Owner: [Item]] = [:]
    /// Owners with waiting items, in serving order.
    private var turns: [Owner] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Appends `item`; returns about how many items will be served before it.
    mutating func push(_ item: Item, owner: Owner) -> Int {
        let ahead = lanes[owner]?.count ?? 0
        if lanes[owner] == nil { turns.append(owner) }
        lanes[owner, default: []].append(item)
        count += 1
        // Each other owner gets at most one turn per item ahead of this one, plus one.
        return ahead + lanes.reduce(0) { sum, lane in lane.key == owner ? sum : sum + min(lane.value.count, ahead + 1) }
    }

    mutating func pop() -> Item? {
        guard !turns.isEmpty else { return nil }
        let owner = turns.removeFirst()
        var lane = lanes[owner] ?? []
        let item = lane.removeFirst()
        if lane.isEmpty {
            lanes[owner] = nil
        } else {
            lanes[owner] = lane
            turns.append(owner)
        }
        count -= 1
        return item
    }

    /// Removes the first item of `owner` that matches; nil if there is none.
    mutating func remove(owner: Owner, where matches: (Item) -> Bool) -> Item? {
        guard var lane = lanes[owner], let index = lane.firstIndex(where: matches) else { return nil }
        let item = lane.remove(at: index)
        count -= 1
        if lane.isEmpty {
            lanes[owner] = nil
            turns.removeAll { $0 == owner }
        } else {
            lanes[owner] = lane
        }
        return item
    }

    mutating func removeAll() -> [Item] {
        var items: [Item] = []
        while let item = pop() { items.append(item) }
        return items
    }
}
