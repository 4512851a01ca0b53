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
    private let metrics: ServerMetrics
    private let logger: Logger
    private let state = Mutex(State())
    private let watches: AsyncStream<ServerSession>.Continuation
    private let watchStream: AsyncStream<ServerSession>
    private let dispatches: AsyncStream<RunJob>.Continuation
    private let dispatchStream: AsyncStream<RunJob>

    private struct State {
        var open: [ObjectIdentifier: ServerSession] = [:]
        var accepting = true
    }

    init(provider: any SandboxProvider, configuration: ServerConfiguration, scheduler: RunScheduler, metrics: ServerMetrics, logger: Logger) {
        self.provider = provider
        self.configuration = configuration
        self.scheduler = scheduler
        self.metrics = metrics
        self.logger = logger
        (watchStream, watches) = AsyncStream.makeStream(of: ServerSession.self)
        (dispatchStream, dispatches) = AsyncStream.makeStream(of: RunJob.self)
    }

    var offered: Bool { provider.offersSessions }

    /// What a session opened with `params` gets, checked against the server's limits.
    struct Admitted: Sendable {
        var limits: SessionLimits
        var idleTimeout: Duration
    }

    func admit(_ params: SessionOpenParams) throws(RPCError) -> Admitted {
        guard provider.offersSessions else {
            throw RPCError(.methodNotFound, "'\(Method.sessionOpen)': this server has no sessions (--isolation exec)")
        }
        var limits = SessionLimits()
        limits.memoryBytes = try Self.value("memoryMb", params.memoryMb, configuration.memoryMb) << 20
        let idleTimeoutMs = try Self.value("idleTimeoutMs", params.idleTimeoutMs, configuration.sessionIdleTimeoutMs)
        limits.cpuTime = .milliseconds(configuration.sessionCpuTimeMs)
        limits.interruptGrace = configuration.sessionInterruptGrace
        return Admitted(limits: limits, idleTimeout: .milliseconds(idleTimeoutMs))
    }

    /// Opens a session for `owner`, within the server's cap.
    func open(_ admitted: Admitted, owner: ClientID, observer: any SessionObserver) throws(RPCError) -> ServerSession {
        let reserved = state.withLock { state -> RPCError? in
            guard state.accepting else { return RPCError(.shuttingDown, "no new sessions are opened") }
            guard state.open.count < configuration.maxSessions else {
                return RPCError(
                    .tooManySessions, "the server has \(configuration.maxSessions) sessions open; retry later",
                    data: .object(["limit": .integer(Int64(configuration.maxSessions)), "scope": .string("server")]))
            }
            return nil
        }
        if let reserved { throw reserved }
        let sandbox: any SandboxSession
        do {
            sandbox = try provider.openSession(limits: admitted.limits)
        } catch {
            logger.error("could not open a session", metadata: ["error": "\(error)"])
            throw RPCError(.internalError, "could not open a session: \(error)")
        }
        let session = ServerSession(
            owner: owner, sandbox: sandbox, idleTimeout: admitted.idleTimeout, observer: observer
        ) { [dispatches] job in dispatches.yield(job) }
        let count = state.withLock { state in
            state.open[ObjectIdentifier(session)] = session
            return state.open.count
        }
        metrics.sessions(count)
        watches.yield(session)
        return session
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
        let count = state.withLock { state in
            state.open[ObjectIdentifier(session)] = nil
            return state.open.count
        }
        metrics.sessions(count)
    }

    private func endAll() async {
        let sessions = state.withLock { state in
            state.accepting = false
            return Array(state.open.values)
        }
        await withDiscardingTaskGroup { group in
            for session in sessions {
                group.addTask { await session.close(.ended(.shutdown, message: "the server is shutting down")) }
            }
        }
        watches.finish()
    }
}
