import Foundation
import MCP
import SandboxProtocol

/// MCP requests carry a string or an integer id, never null (the MCP
/// specification, "Requests"). The SDK's transport reads any other id as
/// none, so a request `{"id": 1.5, "method": …}` went in as a
/// notification that its server then failed to decode: nobody answered
/// it, and it was counted as unanswered for ever. Such a request is
/// refused here, before it reaches the transport, as protocol v1 refuses it.
enum MCPRequestIDs {
    /// The refusal of a POST body whose request has an id of another kind;
    /// nil for anything else (the transport judges the rest).
    static func refusal(of body: Data?) -> MCP.HTTPResponse? {
        guard let body, let message = try? JSONDecoder().decode(JSONValue.self, from: body) else { return nil }
        // A batch (which the transport refuses on its own) is judged by its worst member.
        let messages = if case .array(let members) = message { members } else { [message] }
        for message in messages {
            guard case .object(let members) = message, members["method"] != nil, let id = members["id"] else { continue }
            switch id {
            case .string, .integer: continue
            default:
                let beyond = id.isIntegerBeyond64Bits ? " (an integer beyond 64 bits)" : ""
                return .error(statusCode: 400, .invalidRequest("id must be a string or an integer, not \(shown(id))\(beyond)"))
            }
        }
        return nil
    }

    /// The id as JSON, cut short: it is the client's, and may be large.
    private static func shown(_ id: JSONValue) -> String {
        let text = id.description
        return text.count > 40 ? String(text.prefix(40)) + "…" : text
    }
}
