import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import SandboxProtocol
import SandboxRuntime
import Synchronization

/// The HTTP side: health, readiness, server info and one-shot runs (PROTOCOL.md, "HTTP").
enum HTTPEndpoints {
    static func install(on router: Router<SandboxRequestContext>, server: ServerState) {
        router.get("/healthz") { _, _ in
            json(.ok, ["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            if await !server.scheduler.isAccepting { return json(.serviceUnavailable, ["status": "draining"]) }
            if await server.scheduler.isFull { return json(.serviceUnavailable, ["status": "queue full"]) }
            return json(.ok, ["status": "ready"])
        }
        router.get("/v1/info") { _, context in
            json(.ok, server.info(for: context.tenant))
        }
        router.post("/v1/run") { request, context in
            try await run(request, from: context.clientAddress, tenant: context.tenant, server: server)
        }
        router.get("/v1/usage") { _, context in
            json(.ok, server.accounts.account(for: context.tenant).usage())
        }
        if server.configuration.access.metrics != .off {
            router.get("/metrics") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: server.metrics.exposition())))
            }
        }
        // Reached only when the WebSocket router did not upgrade the request.
        router.get(WebSocketEndpoint.path) { request, context -> Response in
            throw notUpgraded(request, from: context.clientAddress, server: server)
        }
    }

    /// Why `GET /v1/ws` was not upgraded: too many connections, or not a
    /// WebSocket handshake this server accepts.
    private static func notUpgraded(_ request: Request, from address: String, server: ServerState) -> HTTPFailure {
        switch server.limits.admissionRefusal(for: address) {
        case .tooManyConnections(let limit):
            server.metrics.rejected("connections")
            return HTTPFailure(RPCError(.invalidRequest, "the server has \(limit) connections open; retry later"),
                               status: .serviceUnavailable, headers: [.retryAfter: "1"])
        case .tooManyFromAddress(let limit):
            server.metrics.rejected("connections per address")
            return HTTPFailure(RPCError(.invalidRequest, "\(limit) connections from \(address) are open already"),
                               status: .tooManyRequests, headers: [.retryAfter: "1"])
        case nil:
            return HTTPFailure(RPCError(
                .invalidRequest, "expected a WebSocket upgrade offering subprotocol \(webSocketSubprotocol), or none"),
                status: .badRequest)
        }
    }

    private static func run(_ request: Request, from address: String, tenant: Tenant, server: ServerState) async throws(HTTPFailure) -> Response {
        let origin = AuditOrigin(client: address, via: "http", connection: nil)
        let (admitted, packages) = try await admit(request, tenant: tenant, server: server, origin: origin)
        let account = server.accounts.account(for: tenant)
        let rate: RateStanding?
        do throws(RPCError) {
            try account.checkQuota()
            let standings = [try server.limits.takeHTTPRun(from: address), try account.takeRun()]
            rate = RateStanding.tightest(standings.compactMap { $0 })
        } catch {
            server.metrics.rejected(error.code == RPCErrorCode.quotaExceeded.rawValue ? "quota" : "rate", tenant: tenant.name)
            server.refused(run: .null, code: admitted.request.code, tenant: tenant, origin: origin, error)
            throw HTTPFailure(error)
        }
        let collector = OutputCollector()
        let job = RunJob(
            id: .null, client: ClientID.make(), account: account, request: admitted.request, initialStdin: nil,
            observer: server.observer(for: collector, origin: origin), tests: admitted.tests)
        do {
            if let packages {
                try server.packages.stage(job, set: packages)
            } else {
                try await server.scheduler.submit(job)
            }
        } catch {
            throw HTTPFailure(error)
        }
        guard let outcome = await collector.result() else {
            // The client went away: its run is cancelled from this request's own task.
            await server.cancel(job)
            throw HTTPFailure(RPCError(.internalError, "the client closed the request before the verdict"))
        }
        let result: RunResult
        switch outcome {
        case .success(let verdict): result = verdict
        case .failure(let error): throw HTTPFailure(error)
        }
        var response = json(.ok, RunResponse(result: result, output: collector.output, displays: collector.displays))
        if let rate { response.headers.append(contentsOf: rate.headers) }
        return response
    }

    private static func admit(
        _ request: Request, tenant: Tenant, server: ServerState, origin: AuditOrigin
    ) async throws(HTTPFailure) -> (RunAdmission.Admitted, PackageRequirementSet?) {
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("application/json") else {
            throw HTTPFailure(.invalidRequest("Content-Type must be application/json"), status: .unsupportedMediaType)
        }
        let limit = server.configuration.maxMessageBytes
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch {
            throw HTTPFailure(.invalidRequest("the body is larger than \(limit) bytes"), status: .contentTooLarge)
        }
        var params: RunParams?
        do throws(RPCError) {
            params = try RunBody.params(body.readableBytesView)
            return (try server.admission(for: tenant).admit(params!), try server.packages.requirements(params!.packages, for: tenant))
        } catch {
            server.refused(run: .null, code: params?.code, tenant: tenant, origin: origin, error)
            throw HTTPFailure(error)
        }
    }

    static func json(_ status: HTTPResponse.Status, _ body: some Encodable) -> Response {
        let data = (try? JSONEncoder.protocolEncoder.encode(body)) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A refused HTTP request: the JSON-RPC error and the HTTP status that
/// carries it. Thrown from a route or middleware, Hummingbird answers it as
/// PROTOCOL.md says: `{"error": {code, message, data?}}`, its headers, and
/// `Retry-After` (whole seconds, at least 1) when the error has `retryAfterMs`.
struct HTTPFailure: HTTPResponseError {
    var error: RPCError
    var status: HTTPResponse.Status
    var headers: HTTPFields

    init(_ error: RPCError, status: HTTPResponse.Status? = nil, headers: HTTPFields = [:]) {
        self.error = error
        self.status = status ?? Self.status(for: error)
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = HTTPEndpoints.json(status, ["error": error])
        response.headers.append(contentsOf: headers)
        if case .integer(let retryAfterMs)? = error.data?["retryAfterMs"] {
            response.headers[.retryAfter] = "\(max(1, (retryAfterMs + 999) / 1000))"
        }
        if case .integer(let limit)? = error.data?["limit"], case .integer(let remaining)? = error.data?["remaining"],
           case .integer(let reset)? = error.data?["resetSeconds"] {
            response.headers.append(contentsOf: RateStanding(limit: Int(limit), remaining: Int(remaining), resetSeconds: Int(reset)).headers)
        }
        return response
    }

    private static func status(for error: RPCError) -> HTTPResponse.Status {
        switch RPCErrorCode(rawValue: error.code) {
        case .codeTooLarge: .contentTooLarge
        case .queueFull, .shuttingDown: .serviceUnavailable
        case .rateLimited, .quotaExceeded: .tooManyRequests
        case .internalError: .internalServerError
        case .packagesUnavailable:
            switch error.data?["reason"] {
            case .string("indexUnreachable"), .string("timedOut"), .string("installerFailed"), .string("unavailable"),
                 .string("cancelled"): .serviceUnavailable
            case .string("disabled"), .string("notAllowed"): .forbidden
            default: .unprocessableContent
            }
        default: .badRequest
        }
    }
}

extension RateStanding {
    /// The IETF draft's fields (draft-ietf-httpapi-ratelimit-headers), as Piston's users asked for them.
    var headers: HTTPFields {
        var fields = HTTPFields()
        fields[HTTPField.Name("RateLimit-Limit")!] = "\(limit)"
        fields[HTTPField.Name("RateLimit-Remaining")!] = "\(remaining)"
        fields[HTTPField.Name("RateLimit-Reset")!] = "\(resetSeconds)"
        return fields
    }
}

/// `POST /v1/run`'s answer: the verdict, the whole output (each stream's,
/// and both in the order written) and the displays.
private struct RunResponse: Encodable {
    var result: RunResult
    var output: [HTTPOutputPiece]
    var displays: [HTTPDisplay]

    private enum CodingKeys: String, CodingKey { case stdout, stderr, output, displays }

    func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(text(of: .stdout), forKey: .stdout)
        try container.encode(text(of: .stderr), forKey: .stderr)
        try container.encode(output, forKey: .output)
        try container.encode(displays, forKey: .displays)
    }

    private func text(of stream: RunOutputParams.Stream) -> String {
        output.lazy.filter { $0.stream == stream }.map(\.text).joined()
    }
}

/// A stretch of one stream's text in `POST /v1/run`'s `output`: the
/// `run/output` messages from `seq` on, up to the other stream's or a display.
private struct HTTPOutputPiece: Encodable {
    var stream: RunOutputParams.Stream
    var seq: Int
    var text: String
}

/// A display in `POST /v1/run`'s answer: `run/display` without the id.
private struct HTTPDisplay: Encodable {
    var seq: Int
    var data: [String: JSONValue]
    var metadata: [String: JSONValue]?
}

/// Gathers a run's output for a one-shot HTTP answer.
private final class OutputCollector: RunObserver {
    private struct State {
        var output: [HTTPOutputPiece] = []
        var displays: [HTTPDisplay] = []
    }

    private let state = Mutex(State())
    private let results: AsyncStream<Result<RunResult, RPCError>>
    private let resultSink: AsyncStream<Result<RunResult, RPCError>>.Continuation

    init() {
        (results, resultSink) = AsyncStream.makeStream()
    }

    var output: [HTTPOutputPiece] { state.withLock { $0.output } }
    var displays: [HTTPDisplay] { state.withLock { $0.displays } }

    /// The verdict, or the error that answered the run instead; nil when
    /// the request's task was cancelled first (the stream ends then).
    func result() async -> Result<RunResult, RPCError>? {
        for await result in results { return result }
        if Task.isCancelled { return nil }
        return .success(RunResult(Verdict(status: .internalError, message: "the run ended without a verdict"), queuedMs: 0))
    }

    func queued(_ job: RunJob, position: Int) {}
    func running(_ job: RunJob) {}

    func output(_ job: RunJob, _ output: RunOutputParams) {
        state.withLock { state in
            // Consecutive messages of one stream make one piece; a display between them parts them.
            if let last = state.output.last, last.stream == output.stream,
               state.displays.last.map({ $0.seq < last.seq }) ?? true {
                state.output[state.output.count - 1].text += output.text
            } else {
                state.output.append(HTTPOutputPiece(stream: output.stream, seq: output.seq, text: output.text))
            }
        }
    }

    func display(_ job: RunJob, _ display: RunDisplayParams) {
        state.withLock { state in
            state.displays.append(HTTPDisplay(
                seq: display.seq, data: display.data, metadata: display.metadata))
        }
    }

    func finished(_ job: RunJob, _ result: RunResult) {
        resultSink.yield(.success(result))
        resultSink.finish()
    }

    func refused(_ job: RunJob, _ error: RPCError) {
        resultSink.yield(.failure(error))
        resultSink.finish()
    }
}
