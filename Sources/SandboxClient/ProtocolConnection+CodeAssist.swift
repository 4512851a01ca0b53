import SandboxProtocol

/// What an editor asks about code (PROTOCOL.md §4.12–4.14), each answer
/// awaited at most `timeout`: a prompt that waits for it must not hang.
extension ProtocolConnection {
    /// `code/complete`: the names that may replace the one ending at `cursor`.
    public func complete(_ code: String, cursor: Int? = nil, session: String? = nil, timeout: Duration) async throws -> CompleteResult {
        try await ask(CodeAssistParams(method: .complete, code: code, cursor: cursor, session: session), timeout: timeout)
    }

    /// `code/isComplete`: whether `code` typed at a prompt runs as it is or needs more lines.
    public func isComplete(_ code: String, timeout: Duration) async throws -> IsCompleteResult {
        try await ask(CodeAssistParams(method: .isComplete, code: code), timeout: timeout)
    }

    private func ask<Answer: Decodable>(_ params: CodeAssistParams, timeout: Duration) async throws -> Answer {
        try await call(params.methodName, params, timeout: timeout).result(as: Answer.self)
    }
}
