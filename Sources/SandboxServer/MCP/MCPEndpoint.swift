import Foundation
import HTTPTypes
import Hummingbird
import MCP
import SandboxProtocol
import ServiceLifecycle

/// `/mcp`: run_python over MCP's Streamable HTTP transport (the SDK's
/// `StatefulHTTPServerTransport`, one per MCP client), behind the token and
/// Origin checks of `/v1/*` (AccessMiddleware). POST carries the client's
/// messages and answers with an SSE stream; GET opens the stream for
/// messages of the server's own; DELETE ends the MCP session.
enum MCPEndpoint {
    static let path: RouterPath = "/mcp"

    /// Adds the routes; the returned service must run with the server.
    static func install(on router: Router<SandboxRequestContext>, server: ServerState) -> MCPService {
        let clients = MCPClients(server: server)
        let maxBodyBytes = server.configuration.maxMessageBytes
        for method in [HTTPTypes.HTTPRequest.Method.get, .post, .delete] {
            router.on(path, method: method) { request, context -> Response in
                let body: ByteBuffer
                do {
                    body = try await request.body.collect(upTo: maxBodyBytes)
                } catch {
                    throw HTTPFailure(.invalidRequest("the body is larger than \(maxBodyBytes) bytes"), status: .contentTooLarge)
                }
                let answer = await clients.respond(
                    to: mcpRequest(request, body: body), from: context.clientAddress, tenant: context.tenant, token: context.tokenDigest)
                return response(answer)
            }
        }
        return MCPService(clients: clients, idleTimeout: server.configuration.idleTimeout)
    }

    private static func mcpRequest(_ request: Request, body: ByteBuffer) -> MCP.HTTPRequest {
        var headers: [String: String] = [:]
        for field in request.headers {
            headers[field.name.rawName] = headers[field.name.rawName].map { "\($0), \(field.value)" } ?? field.value
        }
        return MCP.HTTPRequest(
            method: request.method.rawValue, headers: headers,
            body: body.readableBytes > 0 ? Data(body.readableBytesView) : nil, path: request.uri.path)
    }

    private static func response(_ answer: MCP.HTTPResponse) -> Response {
        var headers = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { headers[name] = value }
        }
        let body: ResponseBody
        if case .stream(let events, _) = answer {
            // Each event is written as it comes; the stream ends after the request's response.
            body = ResponseBody { writer in
                for try await event in events { try await writer.write(ByteBuffer(bytes: event)) }
                try await writer.finish(nil)
            }
        } else {
            body = answer.bodyData.map { ResponseBody(byteBuffer: ByteBuffer(bytes: $0)) } ?? ResponseBody()
        }
        return Response(status: .init(code: answer.statusCode), headers: headers, body: body)
    }
}

/// Serves each MCP client's protocol v1 connection, retires idle clients
/// and those whose token a reload of the tenants file removed, and at
/// shutdown retires them all (after the runs have drained, as the service
/// group stops services in reverse order).
struct MCPService: Service {
    let clients: MCPClients
    let idleTimeout: Duration

    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                _ = try? await gracefulShutdown()
                await clients.shutDown()
            }
            group.addTask {
                while clients.isAccepting, (try? await Task.sleep(for: .seconds(1))) != nil {
                    await clients.reap(idleFor: idleTimeout)
                }
            }
            for await client in clients.started {
                group.addTask {
                    await withTaskGroup(of: Void.self) { life in
                        life.addTask { await client.serve() }
                        if let token = client.token, let book = clients.tenants {
                            life.addTask { await retireWhenRevoked(client, token: token, in: book) }
                        }
                        // Whichever ends first ends both: serving ends as the client is retired.
                        await life.next()
                        life.cancelAll()
                    }
                    await clients.retire(client)
                }
            }
        }
    }

    /// Retires `client` when a reload of the tenants file removes its token.
    private func retireWhenRevoked(_ client: MCPClient, token: TokenDigest, in book: TenantBook) async {
        for await _ in book.revocation(of: token) {
            clients.server.logger.notice("MCP session ended: its token was removed from the tenants file", metadata: ["mcp": "\(client.id)"])
            await clients.retire(client)
        }
    }
}
