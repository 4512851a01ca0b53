import Foundation
import SandboxProtocol

/// `POST /v1/run`'s body, read as untrusted bytes: a JSON object of `run`
/// params (PROTOCOL.md, "HTTP"), less what needs a WebSocket connection. Its
/// own file, with nothing of the HTTP server, so that it can be fuzzed alone
/// (Tests/Fuzz, target run_body); `RunAdmission` checks the limits next.
enum RunBody {
    static func params(_ body: some Collection<UInt8>) throws(RPCError) -> RunParams {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            throw RPCError(.parseError, "the body is not valid JSON")
        }
        guard case .object(let params) = value else { throw .invalidParams("the body must be a JSON object of run params") }
        let runParams = try RunParams(params: params)
        if runParams.session != nil {
            throw .invalidParams("session: needs the WebSocket endpoint /v1/ws")
        }
        if runParams.interactive == true {
            throw .invalidParams("interactive: needs the WebSocket endpoint /v1/ws")
        }
        return runParams
    }
}
