import Foundation

/// A client message that passed the JSON-RPC envelope checks.
public enum ClientMessage: Sendable, Equatable {
    /// Has an id and wants exactly one response.
    case request(id: JSONValue, method: String, params: [String: JSONValue])
    /// Has no id; never answered, not even with an error.
    case notification(method: String, params: [String: JSONValue])
}

/// A client message that failed the envelope checks: answer `error` with `id`.
public struct RejectedMessage: Error, Sendable, Equatable {
    public var id: JSONValue
    public var error: RPCError
}

/// Reads one text frame as a JSON-RPC 2.0 message (PROTOCOL.md, "Messages").
public enum Envelope {
    public static func parse(_ text: String) -> Result<ClientMessage, RejectedMessage> {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            return .failure(RejectedMessage(id: .null, error: RPCError(.parseError, parseProblem(text))))
        }
        return parse(value)
    }

    public static func parse(_ value: JSONValue) -> Result<ClientMessage, RejectedMessage> {
        guard case .object(let members) = value else {
            if case .array = value {
                return .failure(RejectedMessage(id: .null, error: .invalidRequest("batches are not supported")))
            }
            return .failure(RejectedMessage(id: .null, error: .invalidRequest("a message must be a JSON object, not \(value.typeName)")))
        }
        let id = members["id"]
        if let id, !isValidID(id) {
            let beyond = id.isIntegerBeyond64Bits ? " (an integer beyond 64 bits)" : ""
            return .failure(RejectedMessage(id: .null, error: .invalidRequest("id must be a string or an integer, not \(id)\(beyond)")))
        }
        let replyID = id ?? .null
        guard members["jsonrpc"] == .string("2.0") else {
            return .failure(RejectedMessage(id: replyID, error: .invalidRequest("'jsonrpc' must be \"2.0\"")))
        }
        guard case .string(let method)? = members["method"] else {
            return .failure(RejectedMessage(id: replyID, error: .invalidRequest("'method' must be a string")))
        }
        let params: [String: JSONValue]
        switch members["params"] {
        case nil: params = [:]
        case .object(let object)?: params = object
        case let other?:
            return .failure(RejectedMessage(id: replyID, error: .invalidParams("params must be an object, not \(other.typeName)")))
        }
        guard let id else { return .success(.notification(method: method, params: params)) }
        return .success(.request(id: id, method: method, params: params))
    }

    static func isValidID(_ id: JSONValue) -> Bool {
        switch id {
        case .string, .integer: true
        default: false
        }
    }

    /// What is wrong with text that did not decode. JSONDecoder only says
    /// "not valid JSON"; JSONSerialization, which has the same limits, says
    /// where and why (nesting deeper than 512, a number beyond a Double).
    private static func parseProblem(_ text: String) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            if var detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String, !detail.isEmpty {
                if detail.hasPrefix("Number "), let end = detail.range(of: " is not representable") {
                    detail = "number " + detail[detail.index(detail.startIndex, offsetBy: 7)..<end.lowerBound] + " is out of range"
                }
                detail = detail.replacingOccurrences(of: "dictionaries", with: "objects")
                if detail.hasSuffix(".") { detail.removeLast() }
                return detail.prefix(1).lowercased() + detail.dropFirst()
            }
        }
        return "the message is not valid JSON"
    }
}

/// Server messages as text frames.
public enum ServerMessage {
    public static func result(id: JSONValue, _ result: some Encodable & Sendable) -> String {
        encode(Response(id: id, result: result))
    }

    public static func error(id: JSONValue, _ error: RPCError) -> String {
        encode(ErrorResponse(id: id, error: error))
    }

    public static func notification(_ method: String, _ params: some Encodable & Sendable) -> String {
        encode(Notification(method: method, params: params))
    }

    private struct Response<Result: Encodable>: Encodable {
        var jsonrpc = "2.0"
        var id: JSONValue
        var result: Result
    }

    private struct ErrorResponse: Encodable {
        var jsonrpc = "2.0"
        var id: JSONValue
        var error: RPCError
    }

    private struct Notification<Params: Encodable>: Encodable {
        var jsonrpc = "2.0"
        var method: String
        var params: Params
    }

    private static func encode(_ message: some Encodable) -> String {
        // Encoding these types cannot fail: no floats that are not finite, no custom throws.
        let data = (try? JSONEncoder.protocolEncoder.encode(message)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

extension JSONValue {
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var intValue: Int? {
        if case .integer(let value) = self { return Int(exactly: value) }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }
}
