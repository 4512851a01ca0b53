import SandboxProtocol

/// Protocol sessions (PROTOCOL.md §4.8–4.10): a sandbox whose `__main__`
/// lives on between runs. A run goes into a session with `RunParams.session`
/// and is sent with `send(Method.run, …)` like any other.
extension ProtocolConnection {
    /// `session/open`: a new session on this connection, and the limits it got.
    public func openSession(_ params: SessionOpenParams = SessionOpenParams()) async throws -> SessionOpenResult {
        try await call(Method.sessionOpen, params).result(as: SessionOpenResult.self)
    }

    /// `session/close`: ends the session; its queued and running runs get
    /// their verdicts (`cancelled`) before this returns.
    public func closeSession(_ session: String) async throws {
        _ = try await call(Method.sessionClose, SessionCloseParams(session: session)).result(as: JSONValue.self)
    }

    /// The sessions of this connection that ended by themselves
    /// (`session/ended`), in the order the server said so; the sequence ends
    /// when the connection does. It has one consumer: iterate it from one task.
    public var endedSessions: AsyncStream<SessionEndedParams> { sessionEndings.stream }

    func relaySessionEnded(_ message: JSONValue) throws(ClientError) {
        guard let ended = try? message["params"]?.decoded(as: SessionEndedParams.self) else {
            throw .protocolViolation("malformed session/ended: \(message)")
        }
        sessionEndings.continuation.yield(ended)
    }
}
