import Foundation
import Logging
import MCP
import SandboxMCP
import SandboxProtocol
import Synchronization

/// One MCP client of `/mcp` (one MCP session, `Mcp-Session-Id`): its own
/// MCP `Server` and Streamable HTTP transport, and its own protocol v1
/// connection, on which its runs and sandbox sessions live.
final class MCPClient: Sendable {
    let id: String
    /// The client's address, whose connection place it holds (`ClientLimits`).
    let address: String
    /// The token that started it (its digest): a reload that removes it retires the client.
    let token: TokenDigest?
    let transport: StatefulHTTPServerTransport
    private let metered: MeteredTransport
    private let server: Server
    private let runner: InProcessRunner
    /// The tenant whose token started it: only that tenant's requests reach it.
    var tenantName: String { runner.connection.tenant.name }
    private let lastRequest = Mutex(ContinuousClock.now)

    private init(id: String, address: String, token: TokenDigest?, transport: StatefulHTTPServerTransport, metered: MeteredTransport,
                 server: Server, runner: InProcessRunner) {
        self.id = id
        self.address = address
        self.token = token
        self.transport = transport
        self.metered = metered
        self.server = server
        self.runner = runner
    }

    /// A client whose MCP server is started; `serve()` must then run until it closes.
    static func start(id: String, address: String, tenant: Tenant, token: TokenDigest?, state: ServerState) async throws -> MCPClient {
        var logger = state.logger
        logger[metadataKey: "mcp"] = "\(id)"
        // Origins are checked before any route (AccessMiddleware), with --allow-origin; not again here.
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: FixedSessionID(id: id),
            validationPipeline: StandardValidationPipeline(validators: [
                AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(),
                SessionValidator(),
            ]),
            logger: logger)
        let runner = InProcessRunner(server: state, address: address, tenant: tenant)
        let server = await SandboxMCPServer.make(runner: runner, budget: state.configuration.mcpResultBudget, logger: logger)
        let metered = MeteredTransport(transport, logger: logger)
        try await server.start(transport: VerbatimArguments(metered, logger: logger))
        return MCPClient(id: id, address: address, token: token, transport: transport, metered: metered, server: server, runner: runner)
    }

    func handle(_ request: MCP.HTTPRequest) async -> MCP.HTTPResponse {
        lastRequest.withLock { $0 = .now }
        return await transport.handleRequest(request)
    }

    /// Delivers the client's protocol v1 messages until it is closed.
    func serve() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.runner.connection.serveBackground() }
            await runner.deliver()
        }
    }

    /// Ends the MCP session: its streams, its MCP server, its runs and sandbox sessions.
    func close() async {
        await transport.disconnect()
        await server.stop()
        await runner.close()
    }

    /// Nothing asked or sent for `timeout`, no run or session opening of its
    /// own under way, and its connection idle by the WebSocket rule (no run
    /// in flight, no sandbox session open: sessions end by their own idle
    /// timeout). Every part ends within the server's limits, whatever the
    /// client sent: requests it left unanswered do not count (an id the
    /// SDK could not read was one, and kept a client for ever).
    func isIdle(for timeout: Duration) -> Bool {
        lastRequest.withLock { $0 } + timeout <= .now && metered.lastSent + timeout <= .now
            && !runner.isBusy(within: timeout) && runner.connection.isIdle(for: timeout)
    }

    /// Whether a request of the client's has not been answered yet (at
    /// shutdown, answers under way get a while to go out).
    var isAnswering: Bool { metered.unanswered > 0 }

    /// Bytes sent to the client so far. The SDK's transport keeps every
    /// message for replay until the MCP session ends, so this is what it holds.
    var bytesSent: Int { metered.count }
}

/// The id the registry chose, for the transport to announce.
private struct FixedSessionID: SessionIDGenerator {
    let id: String
    func generateSessionID() -> String { id }
}

/// Counts the bytes that go out through a transport, and the requests that
/// came in and have not been answered yet.
private actor MeteredTransport: Transport {
    private struct Counts {
        var bytesSent = 0
        var lastSent = ContinuousClock.now
        var unanswered: Set<JSONValue> = []
    }

    /// The members that say what a message is.
    private struct Envelope: Decodable {
        struct Params: Decodable {
            /// `notifications/cancelled`'s: that request gets no answer.
            var requestId: JSONValue?
        }

        var id: JSONValue?
        var method: String?
        var params: Params?
    }

    private let inner: any Transport
    private let counts = Mutex(Counts())
    nonisolated let logger: Logger

    init(_ inner: any Transport, logger: Logger) {
        self.inner = inner
        self.logger = logger
    }

    nonisolated var count: Int { counts.withLock { $0.bytesSent } }
    nonisolated var unanswered: Int { counts.withLock { $0.unanswered.count } }
    nonisolated var lastSent: ContinuousClock.Instant { counts.withLock { $0.lastSent } }

    func connect() async throws { try await inner.connect() }
    func disconnect() async { await inner.disconnect() }

    func receive() -> AsyncThrowingStream<Data, any Error> {
        relayedMessages(of: inner) { [self] message in
            received(message)
            return message
        }
    }

    private nonisolated func received(_ message: Data) {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: message), let method = envelope.method else { return }
        counts.withLock { counts in
            if let id = envelope.id {
                counts.unanswered.insert(id)
            } else if method == CancelledNotification.name, let cancelled = envelope.params?.requestId {
                counts.unanswered.remove(cancelled)
            }
        }
    }

    func send(_ data: Data) async throws {
        let envelope = try? JSONDecoder().decode(Envelope.self, from: data)
        defer {
            counts.withLock { counts in
                counts.bytesSent += data.count
                counts.lastSent = .now
                if envelope?.method == nil, let id = envelope?.id { counts.unanswered.remove(id) }
            }
        }
        try await inner.send(data)
    }
}
