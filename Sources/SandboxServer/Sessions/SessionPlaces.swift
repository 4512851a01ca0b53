/// Who a session's place is charged to, for the per-client cap: the
/// client's address (which behind a trusted proxy is the one it forwards,
/// `ClientAddressMiddleware`, as for the per-address connection limits)
/// within its tenant; the tenant's own cap (`maxSessions`) counts all its holders.
struct SessionHolder: Hashable, Sendable, CustomStringConvertible {
    let address: String
    var tenant = Tenant.defaultName

    var description: String { tenant == Tenant.defaultName ? address : "\(address) of tenant \(tenant)" }
}

/// The server's session places and who holds them: at most `total` over
/// all, at most `perHolder` for one holder. A place is taken before the
/// session's sandbox opens and given back when the session is gone; a
/// reclaimed session's place passes straight to the client that asked, so
/// nobody else can take it in between. Pure bookkeeping: `SessionService`
/// decides when, and ends the sessions.
struct SessionPlaces: Sendable {
    /// One place; tickets are never reused.
    struct Ticket: Hashable, Sendable {
        fileprivate let number: Int
    }

    enum Refusal: Error, Equatable {
        /// The holder has `limit` places already: its own cap.
        case holderFull(limit: Int)
        /// Every one of the server's `limit` places is taken.
        case serverFull(limit: Int)
        /// The holder's tenant has `limit` places already (`maxSessions`).
        case tenantFull(limit: Int)
    }

    /// A session that could be reclaimed: no run queued or running, idle `idleFor`.
    struct Candidate<Session> {
        var ticket: Ticket
        var idleFor: Duration
        var session: Session
    }

    let total: Int
    let perHolder: Int
    private var holders: [Ticket: SessionHolder] = [:]
    private var counts: [SessionHolder: Int] = [:]
    private var tenantCounts: [String: Int] = [:]
    private var nextTicket = 0

    init(total: Int, perHolder: Int) {
        self.total = total
        self.perHolder = perHolder
    }

    var count: Int { holders.count }

    func held(by holder: SessionHolder) -> Int { counts[holder, default: 0] }
    func held(byTenant tenant: String) -> Int { tenantCounts[tenant, default: 0] }

    func holder(of ticket: Ticket) -> SessionHolder? { holders[ticket] }

    /// Takes a free place for `holder`, whose tenant may hold `tenantCap`.
    /// The holder's cap and its tenant's are checked first: a client at
    /// its own cap is told so, however full the server is.
    mutating func take(for holder: SessionHolder, tenantCap: Int? = nil) throws(Refusal) -> Ticket {
        try checkCaps(of: holder, tenantCap: tenantCap)
        if count >= total { throw .serverFull(limit: total) }
        return add(holder)
    }

    private func checkCaps(of holder: SessionHolder, tenantCap: Int?) throws(Refusal) {
        if held(by: holder) >= perHolder { throw .holderFull(limit: perHolder) }
        if let tenantCap, held(byTenant: holder.tenant) >= tenantCap { throw .tenantFull(limit: tenantCap) }
    }

    /// Gives a place back; a ticket already given back or passed on is ignored.
    mutating func release(_ ticket: Ticket) {
        guard let holder = holders.removeValue(forKey: ticket) else { return }
        let left = counts[holder, default: 1] - 1
        counts[holder] = left > 0 ? left : nil
        let tenantLeft = tenantCounts[holder.tenant, default: 1] - 1
        tenantCounts[holder.tenant] = tenantLeft > 0 ? tenantLeft : nil
    }

    /// Passes a reclaimed session's place to `holder`, under its own cap;
    /// the old ticket stops counting.
    mutating func pass(_ ticket: Ticket, to holder: SessionHolder, tenantCap: Int? = nil) throws(Refusal) -> Ticket {
        try checkCaps(of: holder, tenantCap: tenantCap)
        release(ticket)
        return add(holder)
    }

    /// The sessions `holder` may take the place of, best first. Only a
    /// holder with more places than `holder` loses one, so that reclaiming
    /// evens out what clients hold and never goes round in circles; among
    /// those, the one holding the most gives first (ties: the longer idle
    /// session first), and of its sessions the one idle longest. (A place
    /// just passed on is not idle long enough to be reclaimed back at once:
    /// candidates have been idle for the server's minimum.)
    func reclaimOrder<Session>(for holder: SessionHolder, among candidates: [Candidate<Session>]) -> [Candidate<Session>] {
        let mine = held(by: holder)
        return candidates
            .compactMap { candidate -> (Candidate<Session>, Int)? in
                guard let owner = holders[candidate.ticket], owner != holder else { return nil }
                let theirs = held(by: owner)
                return theirs > mine ? (candidate, theirs) : nil
            }
            .sorted { ($0.1, $0.0.idleFor) > ($1.1, $1.0.idleFor) }
            .map(\.0)
    }

    private mutating func add(_ holder: SessionHolder) -> Ticket {
        let ticket = Ticket(number: nextTicket)
        nextTicket += 1
        holders[ticket] = holder
        counts[holder, default: 0] += 1
        tenantCounts[holder.tenant, default: 0] += 1
        return ticket
    }
}
