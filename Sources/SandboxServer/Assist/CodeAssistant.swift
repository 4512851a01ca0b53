import Foundation
import SandboxProtocol
import SandboxRuntime
import Synchronization

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

/// Collects the helper's stdout for one `code/*` request and answers the
/// request when the helper's run ends: its one response.
final class AssistObserver: RunObserver {
    private let answer: AssistAnswer
    private let respond: @Sendable (RunJob, String) -> Void
    private let stdout = Mutex<[UInt8]>([])

    init(answer: AssistAnswer, respond: @escaping @Sendable (RunJob, String) -> Void) {
        self.answer = answer
        self.respond = respond
    }

    func queued(_ job: RunJob, position: Int) {}
    func running(_ job: RunJob) {}
    func display(_ job: RunJob, _ display: RunDisplayParams) {}

    func output(_ job: RunJob, _ output: RunOutputParams) {
        guard output.stream == .stdout else { return }
        stdout.withLock { bytes in
            if bytes.count < CodeAssistant.maxAnswerBytes { bytes += output.text.utf8.prefix(CodeAssistant.maxAnswerBytes - bytes.count) }
        }
    }

    func finished(_ job: RunJob, _ result: RunResult) {
        let reply = answer.result(stdout: stdout.withLock { $0 }, verdict: result)
        respond(job, ServerMessage.result(id: job.id, reply))
    }

    func refused(_ job: RunJob, _ error: RPCError) {
        respond(job, ServerMessage.error(id: job.id, error))
    }
}
