import SandboxClient
import SandboxProtocol

/// What `initialize` says, as far as a server says it (a peer design may
/// leave out everything but the protocol version).
struct ServerInfo: Sendable {
    var description: String
    var maxInFlight: Int?
    /// `capabilities.tests`: the server takes a run's tests (0.16.0 on).
    var testsOffered = false

    static func ask(_ connection: ProtocolConnection) async throws -> ServerInfo {
        let params: JSONValue = ["clientInfo": ["name": "sandbox-bench", "version": .string(PySandbox.version)]]
        let response = try await connection.call(Method.initialize, params)
        if let info = try? response.result(as: InitializeResult.self) {
            return ServerInfo(
                description: "\(info.serverInfo.name) \(info.serverInfo.version), Python \(info.python.version), maxInFlight \(info.limits.maxInFlight)",
                maxInFlight: info.limits.maxInFlight, testsOffered: info.capabilities.tests ?? false)
        }
        return ServerInfo(description: "a protocol v1 server without limits in initialize", maxInFlight: nil)
    }
}
