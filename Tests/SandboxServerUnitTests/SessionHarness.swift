import Foundation
import Logging
import SandboxProtocol
import SandboxRuntime
import ServiceLifecycle
import Synchronization

@testable import SandboxServer

/// The server's parts that sessions go through, on a `FakeSandboxProvider`:
/// a running scheduler and warm pool, a running `SessionService`, and
/// connections (`RPCConnection`s with what they sent parsed), each from an
/// address of the test's choosing. No socket, no sandbox.
final class SessionHarness: Sendable {
    let provider: FakeSandboxProvider
    let configuration: ServerConfiguration
    let state: ServerState
    private let sessionGroup: ServiceGroup
    private let connections = Mutex<[TestConnection]>([])

    private init(provider: FakeSandboxProvider, configuration: ServerConfiguration, state: ServerState, sessionGroup: ServiceGroup) {
        self.provider = provider
        self.configuration = configuration
        self.state = state
        self.sessionGroup = sessionGroup
    }

    var sessions: SessionService { state.sessions }

    /// Runs `body` on a harness whose configuration `configure` adjusts
    /// (one worker by default), then closes its connections and stops it.
    static func with(
        provider: FakeSandboxProvider = FakeSandboxProvider(),
        _ configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: (SessionHarness) async throws -> Void
    ) async throws {
        var configuration = ServerConfiguration()
        configuration.workers = 1
        // The fake's sessions are counted in order; a spare would be one more.
        configuration.spareSessions = 0
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let metrics = ServerMetrics(node: "test")
        let pool = WarmPool(provider: provider, limits: RunAdmission.warmLimits(configuration), target: 1, logger: logger, metrics: metrics)
        let scheduler = RunScheduler(
            workers: configuration.workers, capacity: configuration.queueCapacity,
            executor: RunExecutor(pools: WarmPools(plain: pool), logger: logger), metrics: metrics)
        let packages = PackageService(store: nil, scheduler: scheduler, logger: logger)
        let sessions = SessionService(
            provider: provider, configuration: configuration, scheduler: scheduler, packages: packages, metrics: metrics, logger: logger)
        let state = ServerState(
            configuration: configuration, scheduler: scheduler, admission: RunAdmission(configuration: configuration),
            info: SandboxServer(configuration: configuration, provider: provider, logger: logger).info,
            limits: ClientLimits(.init(maxConnections: 64, maxConnectionsPerAddress: 64, runsPerMinute: 6000)),
            metrics: metrics, sessions: sessions, packages: packages, accounts: TenantAccounts(), tenants: nil, audit: nil, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: sessions)], logger: logger))
        let harness = SessionHarness(provider: provider, configuration: configuration, state: state, sessionGroup: group)
        let poolTask = Task { await pool.run() }
        let schedulerTask = Task { await scheduler.run() }
        let sessionsTask = Task { try await group.run() }
        let outcome = await Result { try await body(harness) }
        for connection in harness.connections.withLock({ $0 }) { await connection.close() }
        // Lingering sandboxes exit now, whatever the test did.
        for session in provider.sessions { session.finishExiting() }
        await harness.shutDownSessions()
        try await sessionsTask.value
        await scheduler.shutDown(grace: .seconds(1))
        await pool.stop()
        await schedulerTask.value
        await poolTask.value
        try outcome.get()
    }

    /// A new connection from `address`.
    func connect(from address: String = "127.0.0.1") -> TestConnection {
        let connection = TestConnection(server: state, address: address)
        connections.withLock { $0.append(connection) }
        return connection
    }

    /// The graceful shutdown of the session service: every open session ends `shutdown`.
    func shutDownSessions() async {
        await sessionGroup.triggerGracefulShutdown()
    }
}

/// One client's connection: what it sends, and everything the server sent it, in order.
final class TestConnection: Sendable {
    let connection: RPCConnection
    let replies = Replies()
    private let outbox = Outbox(limit: 1 << 22)
    private let writer: Task<Void, Never>
    private let nextID = Atomic<Int>(1000)
    private let closed = Atomic<Bool>(false)

    init(server: ServerState, address: String) {
        connection = RPCConnection(server: server, outbox: outbox, address: address)
        writer = Task { [outbox, replies] in await outbox.write { replies.append($0) } }
    }

    /// Closes the connection as its socket going away would, and waits for what it had sent.
    func close() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        await connection.close()
        outbox.finish()
        await writer.value
    }

    /// Sends a request with a fresh id; returns the id.
    @discardableResult
    func send(_ method: String, _ params: JSONValue = .object([:]), id: JSONValue? = nil) async -> JSONValue {
        let id = id ?? .integer(Int64(nextID.wrappingAdd(1, ordering: .relaxed).oldValue))
        let message: JSONValue = ["jsonrpc": "2.0", "id": id, "method": .string(method), "params": params]
        await connection.receive(Self.text(message))
        return id
    }

    func notify(_ method: String, _ params: JSONValue) async {
        let message: JSONValue = ["jsonrpc": "2.0", "method": .string(method), "params": params]
        await connection.receive(Self.text(message))
    }

    /// Sends a request and waits for its response.
    func call(_ method: String, _ params: JSONValue = .object([:])) async throws -> JSONValue {
        let id = await send(method, params)
        return try await response(to: id)
    }

    /// The response to request `id` (its result or error), once it has come.
    func response(to id: JSONValue) async throws -> JSONValue {
        try await replies.next { $0["id"] == id && $0["method"] == nil }
    }

    /// Opens a session and returns its id; fails if it was refused.
    func openSession(_ params: JSONValue = .object([:])) async throws -> String {
        let reply = try await call(Method.sessionOpen, params)
        guard let session = reply["result"]?["session"]?.stringValue else { throw Refused(reply: reply) }
        return session
    }

    /// Sends `code` as a run in `session`; returns its id.
    func run(_ code: String, in session: String? = nil, _ extra: [String: JSONValue] = [:]) async -> JSONValue {
        var params = extra
        params["code"] = .string(code)
        if let session { params["session"] = .string(session) }
        return await send(Method.run, .object(params))
    }

    func cancel(_ id: JSONValue) async {
        await notify(Method.cancelRequest, ["id": id])
    }

    /// The `session/ended` notification for `session`, once it has come.
    func ending(of session: String) async throws -> JSONValue {
        try await replies.next { $0["method"] == .string(Method.sessionEnded) && $0["params"]?["session"] == .string(session) }
    }

    /// Everything sent about run `id` (its notifications and its responses), in order.
    func messages(about id: JSONValue) -> [JSONValue] {
        replies.all.filter { $0["id"] == id || ($0["method"] != nil && $0["params"]?["id"] == id) }
    }

    /// Where the first message that matches is among those sent; nil if none.
    func index(of matches: (JSONValue) -> Bool) -> Int? {
        replies.all.firstIndex(where: matches)
    }

    private static func text(_ value: JSONValue) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self)
    }

    struct Refused: Error, CustomStringConvertible {
        let reply: JSONValue
        var description: String { "refused: \(reply)" }
    }
}

extension JSONValue {
    /// A response's `error.code`.
    var errorCode: Int64? {
        if case .integer(let code)? = self["error"]?["code"] { return code }
        return nil
    }

    /// A verdict's `result.status`.
    var status: String? { self["result"]?["status"]?.stringValue }
}

extension Result where Failure == any Error {
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Waits until `condition` holds, up to 30 s (these suites may run beside busy ones).
func eventually(_ what: String = "the condition", _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { throw EventuallyTimeout(what: what) }
        try await Task.sleep(for: .milliseconds(2))
    }
}

struct EventuallyTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "\(what) did not come to hold within 30 s" }
}
