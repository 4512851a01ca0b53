import Logging
import SandboxProtocol
import SandboxRuntime
import ServiceLifecycle
import Synchronization

/// The server's side of package sets: checks `packages` before anything is
/// fetched, and holds a set's layer (a `PackageLease`) for as long as a run
/// or session uses it. A run that names a set passes through here before
/// the scheduler: its set is installed (`run/status` `installing`) while it
/// holds no worker, then it is queued like any other; its lease is given
/// back once it has its verdict. `run()` owns those tasks.
final class PackageService: Service {
    /// nil: packages are off (`--packages none`, or no installer found).
    let store: PackageStore?
    let limits: PackageLimits
    private let scheduler: RunScheduler
    private let logger: Logger
    private let stages: AsyncStream<(RunJob, PackageRequirementSet)>.Continuation
    private let stageStream: AsyncStream<(RunJob, PackageRequirementSet)>
    /// Runs whose set is being installed: a cancel ends them at once.
    private let installing = Mutex<Set<ObjectIdentifier>>([])
    private let accepting = Mutex(true)

    init(store: PackageStore?, scheduler: RunScheduler, logger: Logger) {
        self.store = store
        limits = store?.configuration.limits ?? PackageLimits()
        self.scheduler = scheduler
        self.logger = logger
        (stageStream, stages) = AsyncStream.makeStream()
    }

    var enabled: Bool { store != nil }

    /// `packages` as a set, or the -32602 (or -32008 `disabled`) that says
    /// why not; nil when it names nothing.
    /// `tenant`: whose run or session it is; its `packages` narrow what the service allows.
    func requirements(_ texts: [String]?, for tenant: Tenant = AccessPolicy.defaultTenant) throws(RPCError) -> PackageRequirementSet? {
        guard let texts, !texts.isEmpty else { return nil }
        guard let store else { throw PackageError.disabled.rpcError }
        let set: PackageRequirementSet
        do {
            set = try PackageRequirementSet(parsing: texts, limits: limits.requirements)
        } catch {
            throw error.rpcError
        }
        try Self.check(set, allowed: store.configuration.allowed, tenant: tenant)
        return set
    }

    /// Refuses the first requirement the service's list, or the tenant's, leaves out.
    static func check(_ set: PackageRequirementSet, allowed: PackageAllowList, tenant: Tenant) throws(RPCError) {
        for requirement in set.requirements {
            let name = requirement.normalizedName
            guard allowed.allows(name) else { throw PackageError.notAllowed(name: name).rpcError }
            guard tenant.packages.allows(name) else {
                throw RPCError(
                    .packagesUnavailable,
                    tenant.packages == .none
                        ? "tenant \(tenant.name) may not name packages" : "package '\(name)' is not among those tenant \(tenant.name) may use",
                    data: .object(["reason": .string("notAllowed"), "requirement": .string(name), "scope": .string("tenant")]))
            }
        }
    }

    /// Installs `set` for `job`, then hands it to the scheduler; the job
    /// gets its one response either way.
    func stage(_ job: RunJob, set: PackageRequirementSet) throws(RPCError) {
        guard accepting.withLock({ $0 }) else { throw RPCError(.shuttingDown, "no new runs are accepted") }
        installing.withLock { _ = $0.insert(ObjectIdentifier(job)) }
        stages.yield((job, set))
    }

    /// Ends a run whose set is still being installed with `cancelled`; false if it is past that.
    func cancelInstalling(_ job: RunJob) -> Bool {
        guard installing.withLock({ $0.remove(ObjectIdentifier(job)) }) != nil else { return false }
        job.finishWithoutRunning(.cancelled)
        return true
    }

    /// A session's set, held until `release`.
    func lease(_ set: PackageRequirementSet) async throws(RPCError) -> PackageLease {
        guard let store else { throw PackageError.disabled.rpcError }
        do {
            return try await store.lease(set)
        } catch {
            logger.info("package set refused", metadata: ["set": "\(set.canonicalLines)", "reason": "\(error)"])
            throw error.rpcError
        }
    }

    func release(_ lease: PackageLease) async {
        await store?.release(lease)
    }

    /// Shut down after the scheduler has drained (so a staged run that
    /// reached it has its verdict): new runs are refused, and installs still
    /// under way are stopped, their runs answered `shuttingDown`.
    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                self.accepting.withLock { $0 = false }
                self.stages.finish()
            }
            for await (job, set) in stageStream {
                group.addTask { await self.install(set, for: job) }
            }
            group.cancelAll()
        }
    }

    private func install(_ set: PackageRequirementSet, for job: RunJob) async {
        guard let store else { return }
        if await !store.isInstalled(set) { job.observer.installing(job) }
        let lease: PackageLease
        do {
            lease = try await store.lease(set)
        } catch {
            logger.info("package set refused", metadata: ["run": "\(job.id)", "set": "\(set.canonicalLines)", "reason": "\(error)"])
            if installing.withLock({ $0.remove(ObjectIdentifier(job)) }) != nil {
                job.refuse(Task.isCancelled ? RPCError(.shuttingDown, "the server stopped while the run's packages installed") : error.rpcError)
            }
            return
        }
        // Cancelled while it installed: the run has had its response.
        guard installing.withLock({ $0.remove(ObjectIdentifier(job)) }) != nil, job.use(lease.layer) else {
            await store.release(lease)
            return
        }
        job.packages.start(with: set)
        do {
            try await scheduler.submit(job)
        } catch {
            job.refuse(error)
        }
        await job.ended()
        await store.release(lease)
    }
}
