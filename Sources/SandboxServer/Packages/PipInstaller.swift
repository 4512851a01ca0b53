import Logging
import SandboxProtocol
import SandboxRuntime
import Synchronization

/// The package sets a run or a session has: the set it asked for at its
/// start, grown by each `pip install` inside it, and the leases of the
/// layers mounted in it, given back when it ends (a layer mounted later
/// covers the earlier one, whose files the program may still hold open).
final class PackageHolding: Sendable {
    private struct State {
        var set: PackageRequirementSet?
        var leases: [PackageLease] = []
    }

    private let state: Mutex<State>

    init(set: PackageRequirementSet? = nil) {
        state = Mutex(State(set: set))
    }

    var set: PackageRequirementSet? { state.withLock { $0.set } }

    /// The set it started with (a run's, once its layer is leased).
    func start(with set: PackageRequirementSet) {
        state.withLock { $0.set = set }
    }

    func grow(to set: PackageRequirementSet, lease: PackageLease) {
        state.withLock { state in
            state.set = set
            state.leases.append(lease)
        }
    }

    /// The leases of the layers mounted after the start; the holding keeps none.
    func takeLeases() -> [PackageLease] {
        state.withLock { state in
            defer { state.leases = [] }
            return state.leases
        }
    }
}

/// Answers `pip install` inside a run or a session (`PackagesWanted`):
/// the same rules, limits and errors as `packages` on `run`, for the set
/// the program has plus what it asks for now (a name it already had takes
/// the new requirement). The set is installed outside the sandbox, its
/// layer mounted over the program's, and the program told what it got.
/// One install at a time per run: its requests are served in order.
struct PipInstaller: Sendable {
    let store: PackageStore?
    let logger: Logger

    var limits: PackageLimits { store?.configuration.limits ?? PackageLimits() }

    /// Serves each of the run's requests until it ends.
    /// `tenant`: whose run it is; its `packages` narrow what `pip install` may add.
    func serve(_ requests: AsyncStream<PackagesWanted>, holding: PackageHolding, run: String, tenant: Tenant) async {
        for await wanted in requests {
            wanted.answer(await install(wanted, holding: holding, run: run, tenant: tenant))
        }
    }

    func release(_ holding: PackageHolding) async {
        for lease in holding.takeLeases() { await store?.release(lease) }
    }

    private func install(_ wanted: PackagesWanted, holding: PackageHolding, run: String, tenant: Tenant) async -> PackagesAnswer {
        guard let store else { return Self.refusal(PackageError.disabled.rpcError) }
        let set: PackageRequirementSet
        do {
            let added = try PackageRequirementSet(parsing: wanted.requirements, limits: limits.requirements)
            try PackageService.check(added, allowed: store.configuration.allowed, tenant: tenant)
            let addedNames = Set(added.requirements.map(\.normalizedName))
            let kept = (holding.set?.requirements ?? []).filter { !addedNames.contains($0.normalizedName) }
            set = try PackageRequirementSet(parsing: kept.map(\.canonical) + added.canonicalLines, limits: limits.requirements)
        } catch let error as PackageRequirementError {
            return Self.refusal(error.rpcError)
        } catch let error as RPCError {
            return Self.refusal(error)
        } catch {
            return Self.refusal(RPCError(.invalidParams, "\(error)"))
        }
        let lease: PackageLease
        do {
            lease = try await store.lease(set)
        } catch {
            logger.info("pip install refused", metadata: ["run": "\(run)", "set": "\(set.canonicalLines)", "reason": "\(error)"])
            return Self.refusal(error.rpcError)
        }
        if let reason = await wanted.mount(lease.layer) {
            await store.release(lease)
            logger.warning("pip install: the layer could not be mounted", metadata: ["run": "\(run)", "reason": "\(reason)"])
            return Self.refusal(PackageError.unavailable(detail: reason).rpcError)
        }
        holding.grow(to: set, lease: lease)
        logger.debug("pip install", metadata: ["run": "\(run)", "set": "\(set.canonicalLines)"])
        return .installed(lease.layer.packages)
    }

    private static func refusal(_ error: RPCError) -> PackagesAnswer {
        var reason = "refused", requirement: String?
        if case .object(let data)? = error.data {
            if case .string(let text)? = data["reason"] { reason = text }
            if case .string(let text)? = data["requirement"] { requirement = text }
        }
        return .refused(code: error.code, reason: reason, requirement: requirement, message: error.message)
    }
}
