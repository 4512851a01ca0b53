import SandboxClient
import SandboxProtocol

/// The service's help at the prompt (PROTOCOL.md §4.12, §4.14): Tab's
/// completion from the session, and whether Enter ends a block. Each answer
/// is awaited at most `timeout`, since the prompt waits for it; a server
/// without the method, a refusal, a failure or no answer in time is nil,
/// and the REPL does as it would without the service.
struct PromptAssistant: Sendable {
    let connection: ProtocolConnection
    /// `capabilities.complete` and `.isComplete`.
    let completes: Bool
    let decidesBlocks: Bool
    var timeout: Duration = .seconds(2)

    init(connection: ProtocolConnection, capabilities: InitializeResult.Capabilities) {
        self.connection = connection
        completes = capabilities.complete == true
        decidesBlocks = capabilities.isComplete == true
    }

    /// What Tab does, with names from `session`; nil: nothing.
    func completion(for request: CompletionRequest, session: String) async -> LineCompletion? {
        guard completes else { return nil }
        let answer = try? await connection.complete(request.code, cursor: request.cursor, session: session, timeout: timeout)
        return answer.flatMap(request.completion(from:))
    }

    /// The service's word on whether `block` is whole.
    func isComplete(_ block: PythonBlock) async -> IsCompleteResult? {
        guard decidesBlocks else { return nil }
        return try? await connection.isComplete(BlockDecision.code(of: block), timeout: timeout)
    }
}
