import SandboxClient
import SandboxProtocol

/// The bench failed: the server answered wrongly, closed, or did not answer.
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One run's response, with the output its `run/output` notifications carried.
struct Reply: Sendable {
    var response: ClientEvent.Response
    var stdout: String
    var stderr: String

    var sentAt: ContinuousClock.Instant { response.sentAt }
    var receivedAt: ContinuousClock.Instant { response.receivedAt }
    var roundTrip: Duration { response.roundTrip }
    var error: RPCError? { response.error }

    func result<T: Decodable>(as type: T.Type) throws -> T {
        try response.result(as: type)
    }
}

extension ProtocolConnection {
    /// Runs `params` and gathers its output. A run without a response within
    /// `timeout` fails the bench instead of hanging it.
    func run(_ params: RunParams, timeout: Duration = .seconds(60)) async throws -> Reply {
        try await withThrowingTaskGroup(of: Reply.self) { group in
            group.addTask {
                var stdout = "", stderr = ""
                for try await event in try self.send(Method.run, params).events {
                    switch event {
                    case .output(let output) where output.stream == .stdout: stdout += output.text
                    case .output(let output): stderr += output.text
                    case .status, .display, .test: break
                    case .response(let response): return Reply(response: response, stdout: stdout, stderr: stderr)
                    }
                }
                throw CancellationError()
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw BenchFailure("no response to a run within \(timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
