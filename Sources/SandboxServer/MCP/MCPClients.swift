import Foundation
import MCP
import SandboxProtocol
import Synchronization

/// The MCP clients of `/mcp`, by MCP session id. An `initialize` without a
/// session starts a client; every later request names its client's session.
/// Each client holds a connection place of its address, as a WebSocket does
/// (`--max-connections`, `--max-connections-per-address`), until it is retired:
/// by DELETE, by idling, or at shutdown.
final class MCPClients: Sendable {
    private struct State {
        var clients: [String: MCPClient] = [:]
        var accepting = true
    }

    let server: ServerState
    /// The tenants as reloads leave them, when the server has a tenants file.
    var tenants: TenantBook? { server.tenants }
    private let state = Mutex(State())
    /// Clients just started, for `MCPService` to serve.
    let started: AsyncStream<MCPClient>
    private let startedSink: AsyncStream<MCPClient>.Continuation

    init(server: ServerState) {
        self.server = server
        (started, startedSink) = AsyncStream.makeStream(of: MCPClient.self)
    }

    /// What a client may make the transport keep for replay before it is
    /// retired: a few connections' worth of slow-client buffer.
    var maxBytesSent: Int {
        4 * Outbox.limit(maxOutputBytes: server.configuration.maxOutputBytes.max, maxReturnBytes: server.configuration.maxReturnBytes)
    }

    /// `token`: the digest of the token the request presented, if it did.
    func respond(to request: MCP.HTTPRequest, from address: String, tenant: Tenant, token: TokenDigest?) async -> MCP.HTTPResponse {
        if request.method == "POST", let refusal = MCPRequestIDs.refusal(of: request.body) { return refusal }
        let sessionID = request.header(HTTPHeaderName.sessionID)
        // Another tenant's MCP session is no session of this one's: as if it had ended.
        if let sessionID, let client = state.withLock({ $0.clients[sessionID] }), client.tenantName == tenant.name {
            let response = await client.handle(request)
            if request.method == "DELETE" && response.statusCode == 200 { await retire(client) }
            return response
        }
        if let sessionID {
            return .error(statusCode: 404, .invalidRequest("Not Found: no MCP session \(sessionID) (it ended); initialize a new one"))
        }
        guard request.method == "POST", Self.isInitialize(request.body) else {
            return .error(statusCode: 400, .invalidRequest("Bad Request: no \(HTTPHeaderName.sessionID) header; start with initialize"))
        }
        return await start(request, from: address, tenant: tenant, token: token)
    }

    private func start(_ request: MCP.HTTPRequest, from address: String, tenant: Tenant, token: TokenDigest?) async -> MCP.HTTPResponse {
        guard state.withLock({ $0.accepting }) else {
            return .error(statusCode: 503, .invalidRequest("Service Unavailable: the server is shutting down"))
        }
        do {
            try server.limits.reserve(for: address)
        } catch {
            return Self.refusal(error, address: address, server: server)
        }
        server.metrics.connections(server.limits.openConnections)
        let client: MCPClient
        do {
            client = try await MCPClient.start(id: UUID().uuidString, address: address, tenant: tenant, token: token, state: server)
        } catch {
            release(address)
            return .error(statusCode: 500, .internalError("Internal Server Error: the MCP session could not start: \(error)"))
        }
        let response = await client.handle(request)
        let kept = state.withLock { state in
            guard state.accepting, response.statusCode == 200 else { return false }
            state.clients[client.id] = client
            return true
        }
        guard kept else {
            await client.close()
            release(address)
            return response
        }
        server.logger.debug("MCP session started", metadata: ["mcp": "\(client.id)", "client": "\(address)"])
        startedSink.yield(client)
        return response
    }

    /// Ends `client` once, whoever asks first, and gives its connection place back.
    func retire(_ client: MCPClient) async {
        guard state.withLock({ $0.clients.removeValue(forKey: client.id) }) != nil else { return }
        await client.close()
        release(client.address)
        server.logger.debug("MCP session ended", metadata: ["mcp": "\(client.id)"])
    }

    /// Retires the clients idle for `timeout`, and those whose transport holds too much.
    func reap(idleFor timeout: Duration) async {
        let limit = maxBytesSent
        let done = state.withLock { $0.clients.values.filter { $0.isIdle(for: timeout) || $0.bytesSent > limit } }
        for client in done {
            if client.bytesSent > limit {
                server.logger.notice("MCP session ended: it was sent more than its transport may keep",
                                     metadata: ["mcp": "\(client.id)", "bytes": "\(client.bytesSent)"])
            }
            await retire(client)
        }
    }

    var isAccepting: Bool { state.withLock { $0.accepting } }

    /// Takes no more clients and retires every one, once the answers under
    /// way have been handed to their streams (for at most `drainTimeout`).
    func shutDown(drainTimeout: Duration = Outbox.drainTimeout) async {
        let clients = state.withLock { state in
            state.accepting = false
            return Array(state.clients.values)
        }
        startedSink.finish()
        let deadline = ContinuousClock.now + drainTimeout
        while clients.contains(where: \.isAnswering), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for client in clients { await retire(client) }
    }

    private func release(_ address: String) {
        server.limits.release(address)
        server.metrics.connections(server.limits.openConnections)
    }

    private static func isInitialize(_ body: Data?) -> Bool {
        guard let body, let message = try? JSONDecoder().decode(JSONValue.self, from: body) else { return false }
        return message["method"]?.stringValue == "initialize" && message["id"] != nil
    }

    private static func refusal(_ refusal: ClientLimits.Refusal, address: String, server: ServerState) -> MCP.HTTPResponse {
        switch refusal {
        case .tooManyConnections(let limit):
            server.metrics.rejected("connections")
            return .error(statusCode: 503, .invalidRequest("the server has \(limit) connections open; retry later"),
                          extraHeaders: ["Retry-After": "1"])
        case .tooManyFromAddress(let limit):
            server.metrics.rejected("connections per address")
            return .error(statusCode: 429, .invalidRequest("\(limit) connections from \(address) are open already"),
                          extraHeaders: ["Retry-After": "1"])
        }
    }
}
