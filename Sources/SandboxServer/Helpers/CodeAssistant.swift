import Foundation
import SandboxProtocol
import SandboxRuntime

/// Turns `code/complete`, `code/inspect` and `code/isComplete` into runs of
/// the editor's helper (`AssistProgram`): in the session named, as a
/// request of its own kind, or in a sandbox of its own, with the code as
/// the helper's stdin. Its limits fit the warm pools (the defaults' memory
/// and CPU time), so that a completion takes a warm sandbox.
struct CodeAssistant: Sendable {
    let configuration: ServerConfiguration
    /// Which runs are forked from a fork server that preloaded what they import.
    let wantsPreload: @Sendable (RunRequest) -> Bool

    /// How long the whole request may take: a session's lookups are
    /// stopped after `AssistAnswer`'s second, the code's imports may take longer.
    static let timeout: Duration = .seconds(5)
    /// How long a session's lookups may take (assist.py's `FORK_SECONDS`).
    static let lookupTimeoutMs = 1000
    static let maxAnswerBytes = 1 << 20

    static func advertised(_ configuration: ServerConfiguration) -> InitializeResult.Assist {
        .init(timeoutMs: lookupTimeoutMs, perMinute: configuration.runsPerMinute, maxMatches: AssistAnswer.maxMatches)
    }

    /// The helper's run for `params`; `inSession`: run by a session with its names.
    func request(for params: CodeAssistParams, inSession: Bool) throws(RPCError) -> RunRequest {
        let codeBytes = params.code.utf8.count
        guard codeBytes <= configuration.maxCodeBytes else {
            throw RPCError(
                .codeTooLarge, "\(codeBytes) bytes, the limit is \(configuration.maxCodeBytes)",
                data: .object(["maxCodeBytes": .integer(Int64(configuration.maxCodeBytes))]))
        }
        var limits = RunAdmission.warmLimits(configuration)
        limits.timeout = Self.timeout
        limits.maxOutputBytes = Self.maxAnswerBytes
        limits.maxDisplayBytes = 0
        limits.maxReturnBytes = 0
        let stdin = Array((try? JSONEncoder().encode(params.helperRequest)) ?? Data("{}".utf8))
        var request = RunRequest(code: AssistProgram.source, stdin: .bytes(stdin), limits: limits)
        if inSession {
            request.kind = .assist
        } else if params.method != .isComplete {
            // The modules the code imports are imported: from the fork server that preloaded them, if it did.
            request.limits.usesPreload = wantsPreload(RunRequest(code: params.code))
        }
        return request
    }
}
