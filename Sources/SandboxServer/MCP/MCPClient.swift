import Foundation
import Logging
import MCP
import SandboxMCP
import Synchronization

/// One MCP client of `/mcp` (one MCP session, `Mcp-Session-Id`): its own
/// MCP `Server` and Streamable HTTP transport, and its own protocol v1
/// connection, on which its runs and sandbox sessions live.
final class MCPClient: Sendable {
    let id: String
    /// The client's address, whose connection place it holds (`ClientLimits`).
    let address: String
    let transport: StatefulHTTPServerTransport
    private let metered: SentBytes
    private let server: Server
    private let runner: InProcessRunner
    private let lastRequest = Mutex(ContinuousClock.now)

    private init(id: String, address: String, transport: StatefulHTTPServerTransport, metered: SentBytes,
                 server: Server, runner: InProcessRunner) {
        self.id = id
        self.address = address
        self.transport = transport
        self.metered = metered
        self.server = server
        self.runner = runner
    }

    /// A client whose MCP server is started; `serve()` must then run until it closes.
    static func start(id: String, address: String, state: ServerState) async throws -> MCPClient {
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
        let runner = InProcessRunner(server: state, address: address)
        let server = await SandboxMCPServer.make(runner: runner, logger: logger)
        let metered = SentBytes(transport, logger: logger)
        try await server.start(transport: VerbatimArguments(metered, logger: logger))
        return MCPClient(id: id, address: address, transport: transport, metered: metered, server: server, runner: runner)
    }

    func handle(_ request: MCP.HTTPRequest) async -> MCP.HTTPResponse {
        lastRequest.withLock { $0 = .now }
        return await transport.handleRequest(request)
    }

    /// Delivers the client's protocol v1 messages until it is closed.
    func serve() async {
        await runner.deliver()
    }

    /// Ends the MCP session: its streams, its MCP server, its runs and sandbox sessions.
    func close() async {
        await transport.disconnect()
        await server.stop()
        await runner.close()
    }

    /// Nothing asked for `timeout`, no run in flight, no sandbox session
    /// open: the WebSocket rule, and sandbox sessions end by their own idle timeout.
    func isIdle(for timeout: Duration) -> Bool {
        lastRequest.withLock { $0 } + timeout <= .now && runner.connection.isIdle(for: timeout) && !runner.hasOpenSessions
    }

    /// Bytes sent to the client so far. The SDK's transport keeps every
    /// message for replay until the MCP session ends, so this is what it holds.
    var bytesSent: Int { metered.count }
}

/// The id the registry chose, for the transport to announce.
private struct FixedSessionID: SessionIDGenerator {
    let id: String
    func generateSessionID() -> String { id }
}

/// Counts what goes out through a transport.
private actor SentBytes: Transport {
    private let inner: any Transport
    private let total = Mutex(0)
    nonisolated let logger: Logger

    init(_ inner: any Transport, logger: Logger) {
        self.inner = inner
        self.logger = logger
    }

    nonisolated var count: Int { total.withLock { $0 } }

    func connect() async throws { try await inner.connect() }
    func disconnect() async { await inner.disconnect() }
    func receive() -> AsyncThrowingStream<Data, any Error> { relayedMessages(of: inner) }

    func send(_ data: Data) async throws {
        total.withLock { $0 += data.count }
        try await inner.send(data)
    }
}
