import Logging
import SandboxProtocol
import SandboxRuntime
import Synchronization

/// One WebSocket client speaking protocol v1. Messages are handled in the
/// order they arrive; everything it sends goes through `outbox`, which one
/// writer drains, so a run's notifications always precede its response.
final class RPCConnection: Sendable {
    let client = ClientID.make()
    /// Whose sessions these are, for the per-client cap: its address.
    let holder: SessionHolder
    private let server: ServerState
    private let outbox: Outbox
    private let logger: Logger
    /// Runs accepted and not yet answered, by id.
    private let runs = Mutex<[JSONValue: RunJob]>([:])
    /// Its sessions: those open, and why recent ones ended (for a later run's error).
    private let sessions = Mutex(ConnectionSessions())
    private let runRate: Mutex<TokenBucket>
    /// `code/complete`, `code/inspect` and `code/isComplete`, counted apart from runs.
    private let assistRate: Mutex<TokenBucket>
    /// `session/files/*`, counted apart from runs and completions.
    private let filesRate: Mutex<TokenBucket>
    private let lastMessage = Mutex(ContinuousClock.now)
    /// Requests that wait for others (`session/fork`), served apart from
    /// the message loop by `serveBackground`, so that the messages they
    /// wait for (a run's stdin, a cancel) still arrive.
    private let background = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)

    /// Whose connection it is (its token's tenant), and how its runs are admitted: within the tenant's maxima.
    let tenant: Tenant
    /// The tenant's rate, quota and usage, shared with its other clients.
    private let account: TenantAccount
    private let admission: RunAdmission
    /// Who it is in the audit log: its address, transport and id.
    private let origin: AuditOrigin

    /// `via`: `ws`, or `mcp` for an MCP client's in-process connection.
    init(server: ServerState, outbox: Outbox, address: String, tenant: Tenant = AccessPolicy.defaultTenant, via: String = "ws") {
        self.server = server
        origin = AuditOrigin(client: address, via: via, connection: client)
        self.tenant = tenant
        account = server.accounts.account(for: tenant)
        admission = server.admission(for: tenant)
        self.outbox = outbox
        holder = SessionHolder(address: address, tenant: tenant.name)
        runRate = Mutex(TokenBucket(runsPerMinute: server.configuration.runsPerMinute))
        assistRate = Mutex(TokenBucket(runsPerMinute: CodeAssistant.advertised(server.configuration).perMinute))
        filesRate = Mutex(TokenBucket(runsPerMinute: server.configuration.runsPerMinute))
        var logger = server.logger
        logger[metadataKey: "connection"] = "\(client)"
        logger[metadataKey: "client"] = "\(address)"
        if tenant.name != Tenant.defaultName { logger[metadataKey: "tenant"] = "\(tenant.name)" }
        self.logger = logger
    }

    /// Whether the client has sent nothing for `timeout` and has no run in
    /// flight and no session open (a session ends by its own idle timeout).
    func isIdle(for timeout: Duration) -> Bool {
        runs.withLock { $0.isEmpty } && sessions.withLock { $0.open.isEmpty } && lastMessage.withLock { $0 } + timeout <= .now
    }

    func receive(_ text: String) async {
        lastMessage.withLock { $0 = .now }
        switch Envelope.parse(text) {
        case .failure(let rejected):
            send(ServerMessage.error(id: rejected.id, rejected.error))
        case .success(.request(let id, let method, let params)):
            await handleRequest(id: id, method: method, params: params)
        case .success(.notification(let method, let params)):
            await handleNotification(method: method, params: params)
        }
    }

    /// Runs what `handleRequest` hands over until the connection closes
    /// and the last of it has ended; the connection's owner runs it.
    func serveBackground() async {
        await withDiscardingTaskGroup { group in
            for await work in background.stream {
                group.addTask { await work() }
            }
        }
    }

    func receiveBinary() {
        send(ServerMessage.error(id: .null, .invalidRequest("binary frames are not supported; send JSON text")))
    }

    /// The client went away: cancel everything it started, and end its
    /// sessions. A session whose opening is under way (an MCP client's tool
    /// call, which comes on a task of its own) is closed as it opens, so no
    /// session outlives its connection and the connection's place.
    func close() async {
        // Closed first: a run registered after the snapshot below sees it and is refused.
        sessions.withLock { $0.closed = true }
        background.continuation.finish()
        let jobs = runs.withLock { Array($0.values) }
        for job in jobs { await server.cancel(job) }
        let open = sessions.withLock { Array($0.open.values) }
        await withDiscardingTaskGroup { group in
            for session in open {
                group.addTask {
                    await session.close(.connectionClosed)
                    self.server.sessions.givePlaceBack(session)
                }
            }
        }
    }

    private func handleRequest(id: JSONValue, method: String, params: [String: JSONValue]) async {
        switch method {
        case Method.initialize:
            do throws(RPCError) {
                if let clientInfo = try InitializeParams(params: params).clientInfo {
                    logger.debug("client introduced itself", metadata: ["name": "\(clientInfo.name)", "version": "\(clientInfo.version)"])
                }
                send(ServerMessage.result(id: id, server.info(for: tenant)))
            } catch {
                send(ServerMessage.error(id: id, error))
            }
        case Method.run:
            do {
                try await submitRun(id: id, params: params)
            } catch {
                server.metrics.rejected(RPCErrorCode(rawValue: error.code)?.phrase.lowercased() ?? "other", tenant: tenant.name)
                server.refused(run: id, code: params["code"]?.stringValue, tenant: tenant, origin: origin, error)
                logger.debug("run refused", metadata: ["run": "\(id)", "error": "\(error.message)"])
                send(ServerMessage.error(id: id, error))
            }
        case Method.sessionOpen:
            do {
                send(ServerMessage.result(id: id, try await openSession(params: params)))
            } catch {
                send(ServerMessage.error(id: id, error))
            }
        case Method.sessionClose:
            do {
                try await closeSession(params: params)
                send(ServerMessage.result(id: id, JSONValue.object([:])))
            } catch {
                send(ServerMessage.error(id: id, error))
            }
        case Method.codeComplete, Method.codeInspect, Method.codeIsComplete:
            do {
                try await submitAssist(id: id, method: method, params: params)
            } catch {
                send(ServerMessage.error(id: id, error))
            }
        case Method.sessionFork:
            if case .dropped = background.continuation.yield({ await self.forkSession(id: id, params: params) }) {
                send(ServerMessage.error(id: id, RPCError(.shuttingDown, "the connection is closing")))
            }
        case _ where method.hasPrefix("session/files/"):
            do throws(RPCError) {
                guard let kind = SessionFilesParams.Method(rawValue: String(method.dropFirst("session/files/".count))) else {
                    throw RPCError(.methodNotFound, "'\(method)'")
                }
                try await submitSessionFiles(id: id, params: SessionFilesParams(kind, params: params))
            } catch {
                send(ServerMessage.error(id: id, error))
            }
        default:
            send(ServerMessage.error(id: id, RPCError(.methodNotFound, "'\(method)'")))
        }
    }

    /// A `session/files/*` request: a request of the session's, queued
    /// behind its runs, answered by its observer when it ends.
    private func submitSessionFiles(id: JSONValue, params: SessionFilesParams) async throws(RPCError) {
        let session = try sessionOffered(params.session)
        if let wait = filesRate.withLock({ $0.take() }) {
            throw .rateLimited(perMinute: server.configuration.runsPerMinute, retryAfter: wait, of: "session file requests")
        }
        let request = SessionFilesRequest(params: params, configuration: server.configuration)
        let observer = HelperRunObserver(limit: request.maxAnswerBytes) { [weak self] job, outcome in
            self?.answered(job, outcome.flatMap { request.result(stdout: $0.stdout, verdict: $0.verdict) })
        }
        let job = RunJob(
            id: id, client: client, account: account, request: request.runRequest(), initialStdin: nil, observer: observer,
            session: session, countsAsRun: false)
        try await submit(job, to: session)
    }

    /// `session/fork`'s one response, from the background.
    private func forkSession(id: JSONValue, params: [String: JSONValue]) async {
        do {
            send(ServerMessage.result(id: id, try await fork(id: id, params: params)))
        } catch {
            send(ServerMessage.error(id: id, error))
        }
    }

    /// Copies a session into a new one of this connection: its state is
    /// captured behind its queued runs, a session opens with the copy's
    /// limits, and the state is loaded into it. A copy that fails to load
    /// is closed; the original is never changed.
    private func fork(id: JSONValue, params: [String: JSONValue]) async throws(RPCError) -> SessionForkResult {
        let forkParams = try SessionForkParams(params: params)
        let original = try sessionOffered(forkParams.session)
        let admitted = try server.sessions.admitFork(of: original, forkParams, memoryMb: admission.configuration.memoryMb)
        try account.checkQuota()
        if let wait = runRate.withLock({ $0.take() }) {
            throw .rateLimited(perMinute: server.configuration.runsPerMinute, retryAfter: wait)
        }
        try account.takeRun()
        let forking = SessionForking(configuration: server.configuration)
        // The copy's sandbox starts while the original's state is captured.
        let (copy, opened) = try await open(admitted)
        do {
            let capture = try await runHelper(
                id: id, forking.captureRequest(), in: original, answerLimit: forking.maxCaptureAnswerBytes)
            let state = try forking.captured(stdout: capture.stdout, verdict: capture.verdict)
            let restore = try await runHelper(id: id, forking.restoreRequest(state), in: copy, answerLimit: 1 << 20)
            let copied = try forking.copied(stdout: restore.stdout, verdict: restore.verdict, state: state)
            logger.debug("session forked", metadata: ["session": "\(original.id)", "copy": "\(copy.id)"])
            return SessionForkResult(
                session: opened.session, limits: opened.limits, onFailure: opened.onFailure ?? .rollback, copied: copied)
        } catch {
            await copy.close(.closedByClient)
            server.sessions.givePlaceBack(copy)
            sessions.withLock { $0.ended(copy, reason: "closed") }
            throw error
        }
    }

    /// Runs one of the service's helpers in `session`, behind its queued
    /// runs, as request `id` (cancellable as a run is), and waits for its end.
    private func runHelper(
        id: JSONValue, _ request: RunRequest, in session: ServerSession, answerLimit: Int
    ) async throws(RPCError) -> (stdout: [UInt8], verdict: RunResult) {
        let (outcomes, outcome) = AsyncStream.makeStream(of: HelperRunObserver.Outcome.self)
        let observer = HelperRunObserver(limit: answerLimit) { [weak self] job, result in
            self?.runs.withLock { runs in
                if runs[job.id] === job { runs[job.id] = nil }
            }
            outcome.yield(result)
            outcome.finish()
        }
        let job = RunJob(
            id: id, client: client, account: account, request: request, initialStdin: nil, observer: observer, session: session,
            countsAsRun: false)
        try await submit(job, to: session)
        // Every accepted job ends with `finished` or `refused`, whatever ends it.
        for await result in outcomes { return try result.get() }
        throw RPCError(.shuttingDown, "the connection is closing")
    }

    /// Counts `job` among the requests in flight and queues it behind `session`'s runs.
    private func submit(_ job: RunJob, to session: ServerSession) async throws(RPCError) {
        try register(job)
        do throws(RPCError) {
            if case .schedule = try session.admit(job) { try await server.scheduler.submit(job) }
        } catch {
            runs.withLock { $0[job.id] = nil }
            session.finished(job)
            throw error
        }
    }

    /// Counts `job` among the connection's requests in flight, under its id.
    private func register(_ job: RunJob) throws(RPCError) {
        let limit = server.configuration.maxInFlight
        let refusal = runs.withLock { runs -> RPCError? in
            if runs[job.id] != nil { return .invalidRequest("id \(job.id) is already in flight") }
            guard runs.count < limit else { return .tooManyInFlight(limit: limit) }
            runs[job.id] = job
            return nil
        }
        if let refusal { throw refusal }
        if sessions.withLock({ $0.closed }) {
            runs.withLock { $0[job.id] = nil }
            throw RPCError(.shuttingDown, "the connection is closing")
        }
    }

    /// A session of this connection for `session/fork` and `session/files/*`.
    private func sessionOffered(_ id: String) throws(RPCError) -> ServerSession {
        guard server.sessions.offered else {
            throw RPCError(.methodNotFound, "this server has no sessions (--isolation exec)")
        }
        return try session(id)
    }

    /// A `code/*` request: a run of the editor's helper, in the session
    /// named if it is idle, else in a sandbox of its own; answered by its
    /// observer when the run ends. Counted among the runs in flight.
    private func submitAssist(id: JSONValue, method: String, params: [String: JSONValue]) async throws(RPCError) {
        // The three methods are "code/" and the kind's name.
        let kind = CodeAssistParams.Method(rawValue: String(method.dropFirst("code/".count))) ?? .isComplete
        let assistParams = try CodeAssistParams(kind, params: params)
        if runs.withLock({ $0[id] != nil }) {
            throw .invalidRequest("id \(id) is already in flight")
        }
        // A session that has just ended answers from the code; an unknown id is the client's mistake.
        let session = try assistParams.session.flatMap { name throws(RPCError) -> ServerSession? in
            do throws(RPCError) {
                return try self.session(name)
            } catch where error.code == RPCErrorCode.sessionEnded.rawValue {
                return nil
            }
        }
        let limit = server.configuration.maxInFlight
        guard runs.withLock({ $0.count < limit }) else {
            throw .tooManyInFlight(limit: limit)
        }
        try account.checkQuota()
        if let wait = assistRate.withLock({ $0.take() }) {
            throw .rateLimited(
                perMinute: CodeAssistant.advertised(server.configuration).perMinute, retryAfter: wait,
                of: "completions, inspections and is-complete checks")
        }
        let assistant = CodeAssistant(configuration: server.configuration, wantsPreload: server.admission.wantsPreload)
        func job(inSession session: ServerSession?) throws(RPCError) -> RunJob {
            let answer = AssistAnswer(params: assistParams, source: session == nil ? .code : .session)
            let observer = HelperRunObserver(limit: CodeAssistant.maxAnswerBytes) { [weak self] job, outcome in
                self?.answered(job, outcome.map { answer.result(stdout: $0.stdout, verdict: $0.verdict) })
            }
            return RunJob(
                id: id, client: client, account: account,
                request: try assistant.request(for: assistParams, inSession: session != nil),
                initialStdin: nil, observer: observer, session: session, countsAsRun: false)
        }
        var assisting = try job(inSession: session)
        if let session, session.admitIfIdle(assisting) {
            // its head now: handed to the scheduler below
        } else if session != nil {
            assisting = try job(inSession: nil)  // busy: completion never waits for a run
        }
        runs.withLock { $0[id] = assisting }
        do throws(RPCError) {
            try await server.scheduler.submit(assisting)
        } catch {
            runs.withLock { $0[id] = nil }
            assisting.session?.finished(assisting)
            throw error
        }
    }

    /// A helper's request's one response: its result, or why there is none.
    private func answered(_ job: RunJob, _ outcome: Result<any Encodable & Sendable, RPCError>) {
        runs.withLock { runs in
            if runs[job.id] === job { runs[job.id] = nil }
        }
        switch outcome {
        case .success(let result): send(ServerMessage.result(id: job.id, result))
        case .failure(let error): send(ServerMessage.error(id: job.id, error))
        }
    }

    private func submitRun(id: JSONValue, params: [String: JSONValue]) async throws(RPCError) {
        if runs.withLock({ $0[id] != nil }) {
            throw .invalidRequest("id \(id) is already in flight")
        }
        let runParams = try RunParams(params: params)
        let session = try runParams.session.map { id throws(RPCError) in try self.session(id) }
        let admitted = session == nil ? try admission.admit(runParams) : try admission.admitToSession(runParams)
        if session != nil, !(runParams.packages ?? []).isEmpty {
            throw .invalidParams("packages: a session's runs import the session's packages (session/open)")
        }
        let packages = try server.packages.requirements(runParams.packages, for: tenant)
        try account.checkQuota()
        if let wait = runRate.withLock({ $0.take() }) {
            throw .rateLimited(perMinute: server.configuration.runsPerMinute, retryAfter: wait)
        }
        try account.takeRun()
        let job = RunJob(
            id: id, client: client, account: account, request: admitted.request, initialStdin: admitted.initialStdin,
            observer: server.observer(for: self, origin: origin), session: session, tests: admitted.tests)
        try register(job)
        do {
            if let packages {
                try server.packages.stage(job, set: packages)
            } else {
                switch try session?.admit(job) ?? .schedule {
                case .schedule: try await server.scheduler.submit(job)
                case .queued(let position): queued(job, position: position)
                }
            }
        } catch {
            runs.withLock { $0[id] = nil }
            throw error
        }
        logger.debug("run accepted", metadata: server.configuration.logCode
            ? ["run": "\(id)", "code": "\(admitted.request.code)"] : ["run": "\(id)"])
    }

    private func openSession(params: [String: JSONValue]) async throws(RPCError) -> SessionOpenResult {
        try await open(
            server.sessions.admit(SessionOpenParams(params: params), memoryMb: admission.configuration.memoryMb, tenant: tenant)
        ).result
    }

    /// Opens a session of this connection, within its cap.
    private func open(_ admitted: SessionService.Admitted) async throws(RPCError) -> (session: ServerSession, result: SessionOpenResult) {
        let perConnection = server.configuration.maxSessionsPerConnection
        // Counted before it opens: an MCP client's tool calls may open several at once.
        let reserved = sessions.withLock { sessions -> RPCError? in
            if sessions.closed { return RPCError(.shuttingDown, "the connection is closing") }
            guard sessions.open.count + sessions.opening < perConnection else {
                return RPCError(
                    .tooManySessions, "this connection has \(perConnection) sessions open; close one first",
                    data: .object(["limit": .integer(Int64(perConnection)), "scope": .string("connection")]))
            }
            sessions.opening += 1
            return nil
        }
        if let reserved { throw reserved }
        let session: ServerSession
        do {
            session = try await server.sessions.open(admitted, owner: client, holder: holder, account: account, observer: self)
        } catch {
            sessions.withLock { $0.opening -= 1 }
            throw error
        }
        let kept = sessions.withLock { sessions in
            sessions.opening -= 1
            guard !sessions.closed else { return false }
            sessions.open[session.id] = session
            return true
        }
        guard kept else {
            await session.close(.connectionClosed)
            server.sessions.givePlaceBack(session)
            throw RPCError(.shuttingDown, "the connection closed while the session opened")
        }
        logger.debug("session opened", metadata: ["session": "\(session.id)"])
        let limits = session.sandbox.limits
        return (session, SessionOpenResult(
            session: session.id,
            limits: .init(
                memoryMb: limits.memoryBytes >> 20, idleTimeoutMs: Int(session.idleTimeout / .milliseconds(1)),
                cpuTimeMs: Int(limits.cpuTime / .milliseconds(1))),
            onFailure: limits.rollsBack ? .rollback : .end))
    }

    private func closeSession(params: [String: JSONValue]) async throws(RPCError) {
        let session = try session(SessionCloseParams(params: params).session, forRun: false)
        await session.close(.closedByClient)
        server.sessions.givePlaceBack(session)
        sessions.withLock { $0.ended(session, reason: "closed") }
    }

    /// An open session of this connection, by id. For a run, one that ended
    /// is an error that says why (an open one that has ended says so itself).
    private func session(_ id: String, forRun: Bool = true) throws(RPCError) -> ServerSession {
        try sessions.withLock { sessions throws(RPCError) in
            if let session = sessions.open[id] { return session }
            if forRun, let reason = sessions.endReasons[id] {
                throw RPCError(.sessionEnded, reason, data: .object(["reason": .string(reason)]))
            }
            throw .invalidParams("session: '\(id)' is not a session of this connection")
        }
    }

    private func handleNotification(method: String, params: [String: JSONValue]) async {
        switch method {
        case Method.runStdin:
            guard let stdin = RunStdinParams(params: params), let job = runs.withLock({ $0[stdin.id] }) else { return }
            if let data = stdin.data { job.writeStdin(Array(data.utf8)) }
            if stdin.eof == true { job.closeStdin() }
        case Method.cancelRequest:
            guard let id = params["id"], let job = runs.withLock({ $0[id] }) else { return }
            await server.cancel(job)
        default:
            break  // unknown notifications are ignored
        }
    }

    private func send(_ text: String) {
        outbox.send(text)
    }
}

extension RPCConnection: SessionObserver {
    func sessionEnded(_ session: ServerSession, reason: SessionEndReason, message: String?) {
        sessions.withLock { $0.ended(session, reason: reason.rawValue) }
        server.sessions.givePlaceBack(session)
        logger.debug("session ended", metadata: ["session": "\(session.id)", "reason": "\(reason.rawValue)"])
        send(ServerMessage.notification(
            Method.sessionEnded, SessionEndedParams(session: session.id, reason: reason, message: message)))
    }
}

/// A connection's sessions: the open ones by id, and why recent ones ended.
private struct ConnectionSessions {
    var open: [String: ServerSession] = [:]
    /// `session/open`s under way, counted toward the per-connection cap.
    var opening = 0
    /// `close()` has begun: no session may open any more.
    var closed = false
    var endReasons: [String: String] = [:]
    private var endOrder: [String] = []

    mutating func ended(_ session: ServerSession, reason: String) {
        open[session.id] = nil
        endReasons[session.id] = reason
        endOrder.append(session.id)
        if endOrder.count > 64 { endReasons[endOrder.removeFirst()] = nil }
    }
}

extension RPCConnection: RunObserver {
    func installing(_ job: RunJob) {
        send(ServerMessage.notification(Method.runStatus, RunStatusParams(id: job.id, state: .installing)))
    }

    func queued(_ job: RunJob, position: Int) {
        send(ServerMessage.notification(Method.runStatus, RunStatusParams(id: job.id, state: .queued, position: position)))
    }

    func running(_ job: RunJob) {
        send(ServerMessage.notification(Method.runStatus, RunStatusParams(id: job.id, state: .running)))
    }

    func output(_ job: RunJob, _ output: RunOutputParams) {
        send(ServerMessage.output(output))
    }

    func display(_ job: RunJob, _ display: RunDisplayParams) {
        send(ServerMessage.notification(Method.runDisplay, display))
    }

    func stdinWanted(_ job: RunJob) {
        send(ServerMessage.notification(Method.runStdinWanted, RunStdinWantedParams(id: job.id)))
    }

    func tested(_ job: RunJob, _ test: RunTestParams) {
        send(ServerMessage.notification(Method.runTest, test))
    }

    func finished(_ job: RunJob, _ result: RunResult) {
        logger.debug("run finished", metadata: [
            "run": "\(job.id)", "status": "\(result.status)", "wallMs": "\(result.wallMs)", "queuedMs": "\(result.queuedMs)",
        ])
        // Forget the id first: a client may reuse it as soon as it sees the response.
        runs.withLock { runs in
            if runs[job.id] === job { runs[job.id] = nil }
        }
        send(ServerMessage.result(id: job.id, result))
    }

    func refused(_ job: RunJob, _ error: RPCError) {
        logger.debug("run refused", metadata: ["run": "\(job.id)", "error": "\(error.message)"])
        runs.withLock { runs in
            if runs[job.id] === job { runs[job.id] = nil }
        }
        send(ServerMessage.error(id: job.id, error))
    }
}
