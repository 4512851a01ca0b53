import SandboxProtocol

/// What the server sends about one request: its run's notifications, then
/// the response, which always comes last.
public enum ClientEvent: Sendable {
    case status(RunStatusParams)
    case output(RunOutputParams)
    /// A rich result, in place among the output (`run/display`).
    case display(RunDisplayParams)
    /// One of the run's `tests` has ended (`run/test`).
    case test(RunTestParams)
    /// The response: `message` is the whole JSON-RPC response, with `result` or `error`.
    case response(Response)

    public struct Response: Sendable {
        public var message: JSONValue
        /// When the request's frame was handed to the socket, and when the response arrived.
        public var sentAt: ContinuousClock.Instant
        public var receivedAt: ContinuousClock.Instant

        public var roundTrip: Duration { receivedAt - sentAt }

        /// The JSON-RPC error, if the request was refused.
        public var error: RPCError? { message["error"].flatMap { try? $0.decoded(as: RPCError.self) } }

        /// The result, decoded; throws when the response carries none of that shape.
        public func result<T: Decodable>(as type: T.Type) throws(ClientError) -> T {
            if let error { throw .rejected(error) }
            guard let result = message["result"], let decoded = try? result.decoded(as: type) else {
                throw .protocolViolation("unexpected response: \(message)")
            }
            return decoded
        }
    }
}

/// Why a request got no usable response.
public enum ClientError: Error, Sendable, CustomStringConvertible {
    /// The server could not be reached, or the connection was lost.
    case unreachable(String)
    /// The server answered with a JSON-RPC error.
    case rejected(RPCError)
    /// The server refused the connection: HTTP `status` (401 or 403: access; 429 or 503: limits).
    case refused(status: Int, reason: String)
    /// The server sent something protocol v1 does not allow.
    case protocolViolation(String)
    /// No response within the time the caller allowed.
    case timedOut(String)

    public var description: String {
        switch self {
        case .unreachable(let reason): reason
        case .rejected(let error): "\(error.message) (JSON-RPC error \(error.code))"
        case .refused(_, let reason): reason
        case .protocolViolation(let reason): "protocol violation: \(reason)"
        case .timedOut(let reason): reason
        }
    }
}
