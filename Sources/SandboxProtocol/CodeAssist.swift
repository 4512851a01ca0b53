/// What an editor asks about code it holds (PROTOCOL.md §4.12–4.14):
/// `code/complete`, `code/inspect` and `code/isComplete`, as a Jupyter
/// kernel's `complete_request`, `inspect_request` and `is_complete_request`.
public struct CodeAssistParams: Sendable, Equatable {
    public enum Method: String, Sendable, Equatable {
        case complete
        case inspect
        case isComplete
    }

    public var method: Method
    public var code: String
    /// In Unicode code points from the start of `code`; its end by default.
    public var cursor: Int
    /// An open session of the connection, whose names are used.
    public var session: String?
    /// `code/inspect`: 1 adds the source.
    public var detailLevel: Int

    public init(method: Method, code: String, cursor: Int? = nil, session: String? = nil, detailLevel: Int = 0) {
        self.method = method
        self.code = code
        self.cursor = cursor ?? code.unicodeScalars.count
        self.session = session
        self.detailLevel = detailLevel
    }

    public init(_ method: Method, params: [String: JSONValue]) throws(RPCError) {
        let fields: Set<String> = switch method {
        case .complete: ["code", "cursor", "session"]
        case .inspect: ["code", "cursor", "session", "detailLevel"]
        case .isComplete: ["code"]
        }
        if let unknown = params.keys.sorted().first(where: { !fields.contains($0) }) {
            throw .invalidParams("unknown field '\(unknown)'")
        }
        guard let codeValue = params["code"], codeValue != .null else { throw .invalidParams("code: required string missing") }
        guard case .string(let code) = codeValue else { throw .invalidParams("code: must be a string, not \(codeValue.typeName)") }
        self.method = method
        self.code = code
        let length = code.unicodeScalars.count
        let cursor = try RunParams.integer(params, "cursor", minimum: 0) ?? length
        guard cursor <= length else {
            throw .invalidParams("cursor: \(cursor) is above the maximum \(length) (the code's length in code points)")
        }
        self.cursor = cursor
        session = try RunParams.optional(params, "session") { $0.stringValue }
        let detailLevel = try RunParams.integer(params, "detailLevel", minimum: 0) ?? 0
        guard detailLevel <= 1 else { throw .invalidParams("detailLevel: \(detailLevel) is above the maximum 1") }
        self.detailLevel = detailLevel
    }

    /// The method's name on the wire (`code/complete`, …).
    public var methodName: String {
        switch method {
        case .complete: SandboxProtocol.Method.codeComplete
        case .inspect: SandboxProtocol.Method.codeInspect
        case .isComplete: SandboxProtocol.Method.codeIsComplete
        }
    }

    /// The helper's request (`AssistProgram`), as JSON.
    public var helperRequest: JSONValue {
        var request: [String: JSONValue] = ["method": .string(method.rawValue), "code": .string(code)]
        if method != .isComplete {
            request["cursor"] = .integer(Int64(cursor))
            request["detailLevel"] = .integer(Int64(detailLevel))
        }
        return .object(request)
    }
}

/// The params as a client sends them: only the members `init(_:params:)`
/// takes for the method (`code/isComplete` takes `code` alone), the default
/// `detailLevel` left out.
extension CodeAssistParams: Encodable {
    private enum CodingKeys: String, CodingKey {
        case code, cursor, session, detailLevel
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        guard method != .isComplete else { return }
        try container.encode(cursor, forKey: .cursor)
        try container.encodeIfPresent(session, forKey: .session)
        if method == .inspect && detailLevel != 0 { try container.encode(detailLevel, forKey: .detailLevel) }
    }
}

/// `code/complete`'s result.
public struct CompleteResult: Sendable, Equatable, Codable {
    public var matches: [String]
    public var cursorStart: Int
    public var cursorEnd: Int
    public var metadata: AssistMetadata

    public init(matches: [String], cursorStart: Int, cursorEnd: Int, metadata: AssistMetadata) {
        self.matches = matches
        self.cursorStart = cursorStart
        self.cursorEnd = cursorEnd
        self.metadata = metadata
    }
}

/// `code/inspect`'s result: `data` is a MIME bundle (`text/plain`).
public struct InspectResult: Sendable, Equatable, Codable {
    public var found: Bool
    public var data: [String: String]
    public var metadata: AssistMetadata

    public init(found: Bool, data: [String: String], metadata: AssistMetadata) {
        self.found = found
        self.data = data
        self.metadata = metadata
    }
}

/// Where the names came from, their kinds, and why an answer is empty.
public struct AssistMetadata: Sendable, Equatable, Codable {
    public enum Source: String, Sendable, Equatable, Codable {
        case session
        case code
    }

    public var source: Source
    /// `code/complete`: one per match (`module`, `class`, `function`, `keyword`, `instance`).
    public var types: [String]?
    public var error: String?

    public init(source: Source, types: [String]? = nil, error: String? = nil) {
        self.source = source
        self.types = types
        self.error = error
    }
}

/// `code/isComplete`'s result.
public struct IsCompleteResult: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Equatable, Codable {
        case complete
        case incomplete
        case invalid
    }

    public var status: Status
    /// For `incomplete`: the next line's indentation.
    public var indent: String?

    public init(status: Status, indent: String? = nil) {
        self.status = status
        self.indent = indent
    }
}
