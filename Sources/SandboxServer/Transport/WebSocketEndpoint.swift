import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import SandboxProtocol
import ServiceLifecycle

/// `/v1/ws`: protocol v1 over WebSocket (PROTOCOL.md, "Transport").
enum WebSocketEndpoint {
    static let path: RouterPath = "/v1/ws"

    static func install(on router: Router<BasicWebSocketRequestContext>, server: ServerState) {
        router.ws(path) { request, _ in
            negotiate(offered: request.headers[values: .secWebSocketProtocol])
        } onUpgrade: { inbound, outbound, _ in
            try await serve(inbound: inbound, outbound: outbound, server: server)
        }
    }

    /// No subprotocol, or a list with `pysandbox.v1`, which is then echoed; any other list is refused.
    static func negotiate(offered headerValues: [String]) -> RouterShouldUpgrade {
        let offered = headerValues.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        if offered.isEmpty { return .upgrade([:]) }
        guard offered.contains(webSocketSubprotocol) else { return .dontUpgrade }
        return .upgrade([.secWebSocketProtocol: webSocketSubprotocol])
    }

    private static func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, server: ServerState) async throws {
        let (outgoing, outbox) = AsyncStream.makeStream(of: String.self)
        let connection = RPCConnection(server: server, outbox: outbox)
        server.logger.debug("connection opened", metadata: ["connection": "\(connection.client)"])
        var failure: (any Error)?
        await withTaskGroup(of: Void.self) { group in
            // The connection's one writer.
            group.addTask {
                for await text in outgoing {
                    try? await outbound.write(.text(text))
                }
            }
            do {
                try await cancelWhenGracefulShutdown {
                    for try await message in inbound.messages(maxSize: server.configuration.maxMessageBytes) {
                        switch message {
                        case .text(let text): await connection.receive(text)
                        case .binary: connection.receiveBinary()
                        }
                    }
                }
            } catch {
                failure = error
            }
            await connection.close()
            outbox.finish()
        }
        server.logger.debug("connection closed", metadata: ["connection": "\(connection.client)"])
        if Task.isShuttingDownGracefully {
            try? await outbound.close(.goingAway, reason: "server shutting down")
        } else if let failure, !(failure is CancellationError) {
            throw failure  // e.g. a message over the limit: the handler closes with 1009
        }
    }
}
