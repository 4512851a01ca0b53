import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import SandboxProtocol
import ServiceLifecycle

/// `/v1/ws`: protocol v1 over WebSocket (PROTOCOL.md, "Transport").
enum WebSocketEndpoint {
    static let path: RouterPath = "/v1/ws"

    static func install(on router: Router<SandboxRequestContext>, server: ServerState) {
        router.ws(path) { request, context in
            // Refused here, the request goes on to the HTTP router, which says why (HTTPEndpoints).
            if server.limits.admissionRefusal(for: context.clientAddress) != nil { return .dontUpgrade }
            return negotiate(offered: request.headers[values: .secWebSocketProtocol])
        } onUpgrade: { inbound, outbound, context in
            let address = context.requestContext.clientAddress
            do {
                try server.limits.reserve(for: address)
            } catch {
                // Another connection took the last place since the upgrade was allowed.
                try? await outbound.close(.unknown(1013), reason: "too many connections; try again later")
                return
            }
            server.metrics.connections(server.limits.openConnections)
            defer {
                server.limits.release(address)
                server.metrics.connections(server.limits.openConnections)
            }
            try await serve(
                inbound: inbound, outbound: outbound, address: address, tenant: context.requestContext.tenant,
                token: context.requestContext.tokenDigest, server: server)
        }
    }

    /// Closes the connection once it has been idle for `timeout` (nothing
    /// received, no run in flight); returns early when the connection ends.
    private static func closeWhenIdle(_ connection: RPCConnection, outbound: WebSocketOutboundWriter, after timeout: Duration) async {
        let interval = min(timeout, .seconds(1))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if !Task.isCancelled && connection.isIdle(for: timeout) {
                try? await outbound.close(.normalClosure, reason: "idle timeout")
                return
            }
        }
    }

    /// No subprotocol, or a list with `pysandbox.v1`, which is then echoed; any other list is refused.
    static func negotiate(offered headerValues: [String]) -> RouterShouldUpgrade {
        let offered = headerValues.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        if offered.isEmpty { return .upgrade([:]) }
        guard offered.contains(webSocketSubprotocol) else { return .dontUpgrade }
        return .upgrade([.secWebSocketProtocol: webSocketSubprotocol])
    }

    /// Closes the connection (1008) when a reload of the tenants file removes its token.
    private static func closeWhenRevoked(_ token: TokenDigest, in book: TenantBook, outbound: WebSocketOutboundWriter) async {
        for await _ in book.revocation(of: token) {
            try? await outbound.close(.policyViolation, reason: "its token was removed from the tenants file")
            return
        }
    }

    private static func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, address: String, tenant: Tenant, token: TokenDigest?,
        server: ServerState
    ) async throws {
        let outbox = Outbox(limit: Outbox.limit(
            maxOutputBytes: server.configuration.maxOutputBytes.max, maxReturnBytes: server.configuration.maxReturnBytes))
        let connection = RPCConnection(server: server, outbox: outbox, address: address, tenant: tenant)
        server.logger.debug("connection opened", metadata: ["connection": "\(connection.client)"])
        try await withThrowingTaskGroup(of: Void.self) { idleWatch in
            idleWatch.addTask { await closeWhenIdle(connection, outbound: outbound, after: server.configuration.idleTimeout) }
            idleWatch.addTask { await connection.serveBackground() }
            if let token, let book = server.tenants {
                idleWatch.addTask { await closeWhenRevoked(token, in: book, outbound: outbound) }
            }
            defer { idleWatch.cancelAll() }
            try await converse(inbound: inbound, outbound: outbound, connection: connection, outbox: outbox, server: server)
        }
    }

    /// The connection from its first message to its close.
    private static func converse(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, connection: RPCConnection, outbox: Outbox,
        server: ServerState
    ) async throws {
        var ending = Ending.closed
        let delivered = await withTaskGroup(of: Bool.self) { group in
            // The connection's one writer.
            group.addTask {
                await outbox.write(to: outbound)
                return true
            }
            ending = await read(inbound, into: connection, outbox: outbox, server: server)
            await connection.close()
            if case .overflowed = ending {
                group.cancelAll()
                return false
            }
            // What is queued gets a while to reach the client; one that does
            // not read would otherwise hold the connection (and shutdown) forever.
            outbox.finish()
            group.addTask {
                try? await Task.sleep(for: Outbox.drainTimeout)
                return false
            }
            let drained = await group.next() ?? false
            group.cancelAll()
            return drained
        }
        server.logger.debug("connection closed", metadata: ["connection": "\(connection.client)"])
        guard delivered else {
            server.logger.warning("dropping a client that does not read", metadata: [
                "connection": "\(connection.client)", "overflowed": "\(outbox.hasOverflowed)",
            ])
            // Cancelling the connection's task makes every pending write fail,
            // the close frame's included, and the socket is closed.
            withUnsafeCurrentTask { $0?.cancel() }
            return
        }
        if Task.isShuttingDownGracefully {
            try? await outbound.close(.goingAway, reason: "server shutting down")
        } else if case .failed(let failure) = ending, !(failure is CancellationError) {
            throw failure  // e.g. a message over the limit: the handler closes with 1009
        }
    }

    private enum Ending {
        case closed
        case failed(any Error)
        case overflowed
    }

    /// Handles the client's messages until it closes, the server shuts down,
    /// or the outbox overflows.
    private static func read(
        _ inbound: WebSocketInboundStream, into connection: RPCConnection, outbox: Outbox, server: ServerState
    ) async -> Ending {
        await withTaskGroup(of: Ending.self) { group in
            group.addTask {
                do {
                    try await cancelWhenGracefulShutdown {
                        for try await message in inbound.messages(maxSize: server.configuration.maxMessageBytes) {
                            switch message {
                            case .text(let text): await connection.receive(text)
                            case .binary: connection.receiveBinary()
                            }
                        }
                    }
                    return .closed
                } catch {
                    return .failed(error)
                }
            }
            group.addTask {
                for await _ in outbox.overflowed {}
                return outbox.hasOverflowed ? .overflowed : .closed
            }
            let first = await group.next() ?? .closed
            group.cancelAll()
            return first
        }
    }
}
