import Logging
import SandboxProtocol
import SandboxRuntime
import ServiceLifecycle
import Synchronization

/// Opens sessions within the server's cap and owns them for the service's
/// life: a task per session waits for its sandbox to end and closes it when
/// idle; a session's runs reach the scheduler one at a time through here.
/// At graceful shutdown (after the scheduler has drained) every session
/// ends with `shutdown`, while connections are still open to hear it.
final class SessionService: Service {
    private let provider: any SandboxProvider
    private let configuration: ServerConfiguration
    private let scheduler: RunScheduler
    private let packages: PackageService
    private let metrics: ServerMetrics
    private let logger: Logger
    private let state: Mutex<State>
    private let watches: AsyncStream<ServerSession>.Continuation
    private let watchStream: AsyncStream<ServerSession>
    private let dispatches: AsyncStream<RunJob>.Continuation
    private let dispatchStream: AsyncStream<RunJob>
    /// A session's sandbox started ahead, with the limits a `session/open`
    /// without params gets (and every fork of such a session): a new
    /// session's sandbox takes 15–25 ms to be ready, which its first run, or
    /// a fork's loading, would wait for. One at a time; the first is made
    /// when the first session opens (a server whose clients open none pays
    /// nothing), and none while the sessions open leave no fork-server slot
    /// for it. It belongs to no one until a session takes it.
    private let spare = Mutex<(any SandboxSession)?>(nil)
    /// Each spare made, watched until it ends: one that ends unused (its
    /// fork server died) is dropped, never handed to a session.
    private let spares: AsyncStream<any SandboxSession>.Continuation
    private let spareStream: AsyncStream<any SandboxSession>

    private struct State {
        var places: SessionPlaces
        /// Open sessions, with the place each holds (none once reclaimed: it passed on).
        var open: [ObjectIdentifier: (session: ServerSession, ticket: SessionPlaces.Ticket?)] = [:]
        var accepting = true
    }

    init(
        provider: any SandboxProvider, configuration: ServerConfiguration, scheduler: RunScheduler, packages: PackageService,
        metrics: ServerMetrics, logger: Logger
    ) {
        self.provider = provider
        self.packages = packages
        self.configuration = configuration
        self.scheduler = scheduler
        self.metrics = metrics
        self.logger = logger
        state = Mutex(State(places: SessionPlaces(total: configuration.maxSessions, perHolder: configuration.sessionsPerClient)))
        (watchStream, watches) = AsyncStream.makeStream(of: ServerSession.self)
        (dispatchStream, dispatches) = AsyncStream.makeStream(of: RunJob.self)
        (spareStream, spares) = AsyncStream.makeStream(of: (any SandboxSession).self)
    }

    var offered: Bool { provider.offersSessions }

    /// What a session opened with `params` gets, checked against the server's limits.
    struct Admitted: Sendable {
        var limits: SessionLimits
        var idleTimeout: Duration
        /// What every cell imports, installed (or found) as the session opens.
        var packages: PackageRequirementSet?
    }

    /// `memoryMb`: the session's memory limits as its client's tenant has
    /// them (the server's by default); the tenant's `packages` narrow the service's.
    func admit(
        _ params: SessionOpenParams, memoryMb: LimitPair? = nil, tenant: Tenant = AccessPolicy.defaultTenant
    ) throws(RPCError) -> Admitted {
        guard provider.offersSessions else {
            throw RPCError(.methodNotFound, "'\(Method.sessionOpen)': this server has no sessions (--isolation exec)")
        }
        var limits = SessionLimits()
        limits.memoryBytes = try Self.value("memoryMb", params.memoryMb, memoryMb ?? configuration.memoryMb) << 20
        let idleTimeoutMs = try Self.value("idleTimeoutMs", params.idleTimeoutMs, configuration.sessionIdleTimeoutMs)
        limits.cpuTime = .milliseconds(configuration.sessionCpuTimeMs)
        limits.interruptGrace = configuration.sessionInterruptGrace
        limits.rollsBack = (params.onFailure ?? .rollback) == .rollback
        return Admitted(
            limits: limits, idleTimeout: .milliseconds(idleTimeoutMs), packages: try packages.requirements(params.packages, for: tenant))
    }

    /// What a copy of `original` (`session/fork`) gets: the original's
    /// limits and package set, but for what `params` asks, checked as `admit` checks.
    func admitFork(of original: ServerSession, _ params: SessionForkParams, memoryMb: LimitPair? = nil) throws(RPCError) -> Admitted {
        var open = SessionOpenParams(
            memoryMb: params.memoryMb ?? Int(original.sandbox.limits.memoryBytes >> 20),
            idleTimeoutMs: params.idleTimeoutMs ?? Int(original.idleTimeout / .milliseconds(1)))
        open.onFailure = params.onFailure ?? (original.sandbox.limits.rollsBack ? .rollback : .end)
        var admitted = try admit(open, memoryMb: memoryMb)
        admitted.packages = original.packages.set
        return admitted
    }

    /// Opens a session for `owner`, a connection of `holder`, within the
    /// holder's cap and the server's; when the server is full, an idle
    /// session of a client holding more may give its place up (PROTOCOL.md §4.8).
    func open(
        _ admitted: Admitted, owner: ClientID, holder: SessionHolder, account: TenantAccount, observer: any SessionObserver
    ) async throws(RPCError) -> ServerSession {
        let ticket = try await takePlace(for: holder, tenantCap: account.tenant.maxSessions)
        var limits = admitted.limits
        var lease: PackageLease?
        if let set = admitted.packages {
            // The place is held while the set installs: the session is counted from its request.
            do {
                lease = try await packages.lease(set)
            } catch {
                state.withLock { $0.places.release(ticket) }
                throw error
            }
            limits.packageLayer = lease?.layer
        }
        let sandbox: any SandboxSession
        do {
            sandbox = try takeSpare(for: limits, packages: admitted.packages) ?? provider.openSession(limits: limits)
        } catch {
            state.withLock { $0.places.release(ticket) }
            if let lease { await packages.release(lease) }
            logger.error("could not open a session", metadata: ["error": "\(error)"])
            throw RPCError(.internalError, "could not open a session: \(error)")
        }
        let session = ServerSession(
            owner: owner, sandbox: sandbox, idleTimeout: admitted.idleTimeout, packageLease: lease,
            packageSet: lease != nil ? admitted.packages : nil, observer: observer,
            dispatch: { [dispatches] job in dispatches.yield(job) },
            withdraw: { [scheduler] job in
                job.requestCancel()
                _ = await scheduler.cancelWaiting(job)
            })
        let count = state.withLock { state in
            state.open[ObjectIdentifier(session)] = (session, ticket)
            return state.open.count
        }
        metrics.sessions(count)
        account.openedSession()
        watches.yield(session)
        makeSpare()
        return session
    }

    /// The limits of a session opened without params: the spare's.
    private var spareLimits: SessionLimits? {
        configuration.spareSessions > 0 ? (try? admit(SessionOpenParams()))?.limits : nil
    }

    /// The spare, if a session with `limits` and no packages may take it.
    private func takeSpare(for limits: SessionLimits, packages: PackageRequirementSet?) -> (any SandboxSession)? {
        guard packages == nil, let spareLimits, limits == spareLimits else { return nil }
        return spare.withLock { spare in
            defer { spare = nil }
            return spare
        }
    }

    /// Starts a spare if there is none and the sessions open leave a
    /// fork-server slot for it (there are `maxSessions`).
    private func makeSpare() {
        guard let spareLimits else { return }
        let room = state.withLock { $0.accepting && $0.open.count < configuration.maxSessions }
        guard room else { return }
        let made = spare.withLock { spare -> (any SandboxSession)? in
            guard spare == nil else { return nil }
            spare = try? provider.openSession(limits: spareLimits)
            return spare
        }
        if let made { spares.yield(made) }
    }

    /// Drops `sandbox` if it is still the spare when it ends.
    private func watchSpare(_ sandbox: any SandboxSession) async {
        _ = await sandbox.ended()
        spare.withLock { spare in
            if spare === sandbox { spare = nil }
        }
    }

    /// A place for `holder`: a free one, or a reclaimed one, whose session
    /// has ended (its owner told) by the time this returns.
    private func takePlace(for holder: SessionHolder, tenantCap: Int?) async throws(RPCError) -> SessionPlaces.Ticket {
        let taken = state.withLock { state -> Result<(SessionPlaces.Ticket, reclaimed: ServerSession?), RPCError> in
            guard state.accepting else { return .failure(RPCError(.shuttingDown, "no new sessions are opened")) }
            let refusal: SessionPlaces.Refusal
            do throws(SessionPlaces.Refusal) {
                return .success((try state.places.take(for: holder, tenantCap: tenantCap), nil))
            } catch {
                refusal = error
            }
            switch refusal {
            case .holderFull(let limit):
                return .failure(Self.holderFull(holder, limit: limit))
            case .tenantFull(let limit):
                return .failure(RPCError(
                    .tooManySessions,
                    "tenant \(holder.tenant) has \(limit) sessions open, its cap (over all its clients); close one first",
                    data: .object(["limit": .integer(Int64(limit)), "scope": .string("tenant")])))
            case .serverFull(let limit):
                guard let (ticket, victim) = Self.reclaim(
                    for: holder, tenantCap: tenantCap, in: &state, minimumIdle: configuration.sessionReclaimAfter)
                else {
                    return .failure(RPCError(
                        .tooManySessions,
                        "the server has all its \(limit) sessions open and none idle for \(Self.seconds(configuration.sessionReclaimAfter)) to reclaim; retry later",
                        data: .object(["limit": .integer(Int64(limit)), "scope": .string("server")])))
                }
                return .success((ticket, victim))
            }
        }
        let (ticket, victim) = try taken.get()
        if let victim {
            logger.info("session reclaimed for another client", metadata: [
                "session": "\(victim.id)", "client": "\(holder)",
            ])
            metrics.sessionReclaimed()
            await victim.close(ServerSession.reclaimedEnding)
        }
        return ticket
    }

    /// A session that has ended for its client (closed, or ended and said
    /// so) gives its place back at once, while its sandbox finishes exiting:
    /// the client may open another straight away. Once is enough.
    func givePlaceBack(_ session: ServerSession) {
        state.withLock { state in
            guard let ticket = state.open[ObjectIdentifier(session)]?.ticket else { return }
            state.places.release(ticket)
            state.open[ObjectIdentifier(session)]?.ticket = nil
        }
    }

    /// Picks the session to reclaim for `holder` and passes its place on.
    private static func reclaim(
        for holder: SessionHolder, tenantCap: Int?, in state: inout State, minimumIdle: Duration
    ) -> (SessionPlaces.Ticket, ServerSession)? {
        let candidates = state.open.values.compactMap { entry -> SessionPlaces.Candidate<ServerSession>? in
            guard let ticket = entry.ticket, let idle = entry.session.reclaimableIdleTime(minimum: minimumIdle) else { return nil }
            return .init(ticket: ticket, idleFor: idle, session: entry.session)
        }
        for candidate in state.places.reclaimOrder(for: holder, among: candidates)
        where candidate.session.claimForReclaim(minimum: minimumIdle) {
            // The holder is under its cap (take checked it first), so passing the place cannot fail.
            guard let ticket = try? state.places.pass(candidate.ticket, to: holder, tenantCap: tenantCap) else { return nil }
            state.open[ObjectIdentifier(candidate.session)]?.ticket = nil
            return (ticket, candidate.session)
        }
        return nil
    }

    private static func holderFull(_ holder: SessionHolder, limit: Int) -> RPCError {
        RPCError(
            .tooManySessions,
            "this client (\(holder)) has \(limit) sessions open, its own cap (over all its connections); close one first",
            data: .object(["limit": .integer(Int64(limit)), "scope": .string("client")]))
    }

    private static func seconds(_ duration: Duration) -> String {
        let milliseconds = Int(duration / .milliseconds(1))
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }

    private static func value(_ name: String, _ requested: Int?, _ limit: LimitPair) throws(RPCError) -> Int {
        guard let requested else { return limit.default }
        guard requested <= limit.max else { throw .invalidParams("\(name): \(requested) is above the maximum \(limit.max)") }
        return requested
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.dispatchRuns() }
            group.addTask {
                try? await gracefulShutdown()
                await self.endAll()
            }
            group.addTask {
                await withDiscardingTaskGroup { spareWatches in
                    for await sandbox in self.spareStream {
                        spareWatches.addTask { await self.watchSpare(sandbox) }
                    }
                }
            }
            for await session in watchStream {
                group.addTask { await self.watch(session) }
            }
            dispatches.finish()
        }
    }

    /// A session's run reached its head: the scheduler takes it past its
    /// queue's capacity (the session's run was accepted already).
    private func dispatchRuns() async {
        for await job in dispatchStream {
            do {
                try await scheduler.submit(job, admittedEarlier: true)
            } catch {
                job.finishWithoutRunning(.cancelled, message: error.message)
            }
        }
    }

    /// Until its sandbox ends: closes it once idle for its timeout.
    private func watch(_ session: ServerSession) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let interval = min(session.idleTimeout, .seconds(1))
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if !Task.isCancelled && session.isIdle {
                        self.logger.debug("session idle", metadata: ["session": "\(session.id)"])
                        await session.close(.ended(.idleTimeout, message: nil))
                        return
                    }
                }
            }
            session.sandboxEnded(await session.sandbox.ended())
            group.cancelAll()
        }
        if let lease = session.packageLease { await packages.release(lease) }
        for lease in session.packages.takeLeases() { await packages.release(lease) }
        let count = state.withLock { state in
            if let ticket = state.open.removeValue(forKey: ObjectIdentifier(session))?.ticket { state.places.release(ticket) }
            return state.open.count
        }
        metrics.sessions(count)
    }

    private func endAll() async {
        let sessions = state.withLock { state in
            state.accepting = false
            return state.open.values.map(\.session)
        }
        spare.withLock { spare in
            spare?.close()
            spare = nil
        }
        spares.finish()
        await withDiscardingTaskGroup { group in
            for session in sessions {
                group.addTask { await session.close(.ended(.shutdown, message: "the server is shutting down")) }
            }
        }
        watches.finish()
    }
}
