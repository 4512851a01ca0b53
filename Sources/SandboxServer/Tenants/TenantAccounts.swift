import Synchronization

/// Every tenant's account on this node, by name, made when first used.
final class TenantAccounts: Sendable {
    private struct State {
        var accounts: [String: TenantAccount] = [:]
        /// The store's totals after its last write, for accounts made later.
        var totals: [String: UsageTotals] = [:]
    }

    private let state = Mutex(State())

    init() {}

    /// `tenant`'s account, with the settings it has now.
    func account(for tenant: Tenant) -> TenantAccount {
        let (account, made) = state.withLock { state -> (TenantAccount, Bool) in
            if let account = state.accounts[tenant.name] { return (account, false) }
            let account = TenantAccount(tenant)
            if let totals = state.totals[tenant.name] { account.stored(totals) }
            state.accounts[tenant.name] = account
            return (account, true)
        }
        if !made, account.tenant != tenant { account.update(tenant) }
        return account
    }

    func account(named name: String) -> TenantAccount? {
        state.withLock { $0.accounts[name] }
    }

    var all: [TenantAccount] { state.withLock { Array($0.accounts.values) } }

    /// A store's totals after a write: every tenant's, this node's or not.
    func stored(_ totals: [String: UsageTotals], day: UTCDay) {
        let accounts = state.withLock { state in
            state.totals = totals
            return state.accounts
        }
        for (name, account) in accounts { account.stored(totals[name] ?? UsageTotals(day: day)) }
    }
}
