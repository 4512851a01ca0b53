import Logging
import SandboxProtocol
import Synchronization

/// One WebSocket client speaking protocol v1. Messages are handled in the
/// order they arrive; everything it sends goes through `outbox`, which one
/// writer drains, so a run's notifications always precede its response.
final class RPCConnection: Sendable {
    let client = ClientID.make()
    private let server: ServerState
    private let outbox: Outbox
    private let logger: Logger
    /// Runs accepted and not yet answered, by id.
    private let runs = Mutex<[JSONValue: RunJob]>([:])
    private let runRate: Mutex<TokenBucket>
    private let lastMessage = Mutex(ContinuousClock.now)

    init(server: ServerState, outbox: Outbox, address: String) {
        self.server = server
        self.outbox = outbox
        runRate = Mutex(TokenBucket(runsPerMinute: server.configuration.runsPerMinute))
        var logger = server.logger
        logger[metadataKey: "connection"] = "\(client)"
        logger[metadataKey: "client"] = "\(address)"
        self.logger = logger
    }

    /// Whether the client has sent nothing for `timeout` and has no run in flight.
    func isIdle(for timeout: Duration) -> Bool {
        runs.withLock { $0.isEmpty } && lastMessage.withLock { $0 } + timeout <= .now
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

    func receiveBinary() {
        send(ServerMessage.error(id: .null, .invalidRequest("binary frames are not supported; send JSON text")))
    }

    /// The client went away: cancel everything it started.
    func close() async {
        let jobs = runs.withLock { Array($0.values) }
        for job in jobs { await server.cancel(job) }
    }

    private func handleRequest(id: JSONValue, method: String, params: [String: JSONValue]) async {
        switch method {
        case Method.initialize:
            do throws(RPCError) {
                if let clientInfo = try InitializeParams(params: params).clientInfo {
                    logger.debug("client introduced itself", metadata: ["name": "\(clientInfo.name)", "version": "\(clientInfo.version)"])
                }
                send(ServerMessage.result(id: id, server.info))
            } catch {
                send(ServerMessage.error(id: id, error))
            }
        case Method.run:
            do {
                try await submitRun(id: id, params: params)
            } catch {
                server.metrics.rejected(RPCErrorCode(rawValue: error.code)?.phrase.lowercased() ?? "other")
                logger.debug("run refused", metadata: ["run": "\(id)", "error": "\(error.message)"])
                send(ServerMessage.error(id: id, error))
            }
        default:
            send(ServerMessage.error(id: id, RPCError(.methodNotFound, "'\(method)'")))
        }
    }

    private func submitRun(id: JSONValue, params: [String: JSONValue]) async throws(RPCError) {
        if runs.withLock({ $0[id] != nil }) {
            throw .invalidRequest("id \(id) is already in flight")
        }
        let admitted = try server.admission.admit(RunParams(params: params))
        if let wait = runRate.withLock({ $0.take() }) {
            throw .rateLimited(perMinute: server.configuration.runsPerMinute, retryAfter: wait)
        }
        let limit = server.configuration.maxInFlight
        let job = RunJob(
            id: id, client: client, request: admitted.request, initialStdin: admitted.initialStdin,
            observer: MeteredObserver(client: self, metrics: server.metrics))
        let registered = runs.withLock { runs -> Bool in
            guard runs.count < limit else { return false }
            runs[id] = job
            return true
        }
        guard registered else {
            throw RPCError(
                .tooManyInFlight, "this connection already has \(limit) runs queued or running",
                data: .object(["limit": .integer(Int64(limit))]))
        }
        do {
            try await server.scheduler.submit(job)
        } catch {
            runs.withLock { $0[id] = nil }
            throw error
        }
        logger.debug("run accepted", metadata: server.configuration.logCode
            ? ["run": "\(id)", "code": "\(admitted.request.code)"] : ["run": "\(id)"])
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

extension RPCConnection: RunObserver {
    func queued(_ job: RunJob, position: Int) {
        send(ServerMessage.notification(Method.runStatus, RunStatusParams(id: job.id, state: .queued, position: position)))
    }

    func running(_ job: RunJob) {
        send(ServerMessage.notification(Method.runStatus, RunStatusParams(id: job.id, state: .running)))
    }

    func output(_ job: RunJob, _ output: RunOutputParams) {
        send(ServerMessage.notification(Method.runOutput, output))
    }

    func display(_ job: RunJob, _ display: RunDisplayParams) {
        send(ServerMessage.notification(Method.runDisplay, display))
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
}
