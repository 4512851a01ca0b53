import SandboxMCP
import SandboxProtocol
import Synchronization

/// A `CodeRunner` that answers as PROTOCOL.md §4.8–4.10 says a server does,
/// without running anything: `session/open` gives `s-1`, `s-2`, …; a run in
/// a session that has ended is refused with -32007 and its reason; a test
/// ends sessions as the server would (`session/ended`, or silently, to be
/// found at the next run). A run prints its code, and brings back the
/// `files` it was given that its `returnFiles` name exactly.
final class ScriptedRunner: CodeRunner {
    private struct State {
        var opened = 0
        /// session/open's params, in the order the sessions were opened.
        var openedWith: [SessionOpenParams] = []
        var runs: [RunParams] = []
        /// Ended on the server; `announced` ones were sent `session/ended`.
        var ended: [String: (reason: SessionEndReason, announced: Bool)] = [:]
    }

    private let state = Mutex(State())

    var runs: [RunParams] { state.withLock { $0.runs } }
    var sessionsOpened: Int { state.withLock { $0.opened } }
    var sessionParams: [SessionOpenParams] { state.withLock { $0.openedWith } }

    func run(
        _ params: RunParams, in session: SessionHandle?, record: @escaping @Sendable (RunEvent) -> Void
    ) async throws(RunnerError) -> RunResult {
        var params = params
        params.session = session?.id
        if let session, let end = state.withLock({ $0.ended[session.id] }) {
            throw .refused(RPCError(.sessionEnded, end.reason.rawValue, data: ["reason": .string(end.reason.rawValue)]))
        }
        state.withLock { $0.runs.append(params) }
        record(.output(RunOutputParams(id: 1, stream: .stdout, text: params.code, seq: 0)))
        guard let patterns = params.returnFiles else { return RunResult(Verdict(status: .ok, exitCode: 0), queuedMs: 0) }
        // The files it was given that a pattern names exactly come back; other patterns match nothing.
        let given = params.files ?? [:]
        let files = patterns.compactMap { pattern in given[pattern].map { ReturnedFile(path: pattern, content: $0.bytes) } }
        let omitted = patterns.filter { given[$0] == nil }.map { OmittedFile(path: $0, reason: .noMatch) }
        return RunResult(Verdict(status: .ok, exitCode: 0, files: files, omittedFiles: omitted), queuedMs: 0)
    }

    /// What a session opened without `memoryMb` gets, as a server's default.
    static let defaultMemoryMb = 256

    func openSession(_ params: SessionOpenParams) async throws(RunnerError) -> OpenedSession {
        // Another task gets a chance to ask for the same name meanwhile.
        await Task.yield()
        if let refusal = params.packages?.first(where: { $0.hasPrefix("nosuch") }) {
            throw .refused(RPCError(.packagesUnavailable, "no package named '\(refusal)'",
                                    data: ["reason": "unknownPackage", "requirement": .string(refusal)]))
        }
        let number = state.withLock { state in
            state.opened += 1
            state.openedWith.append(params)
            return state.opened
        }
        let limits = SessionOpenResult.Limits(memoryMb: params.memoryMb ?? Self.defaultMemoryMb, idleTimeoutMs: 600_000, cpuTimeMs: 60_000)
        return OpenedSession(handle: SessionHandle(id: "s-\(number)"), limits: limits)
    }

    func endOfSession(_ session: SessionHandle) -> SessionEnd? {
        state.withLock { state in
            state.ended[session.id].flatMap { $0.announced ? SessionEnd($0.reason) : nil }
        }
    }

    /// The server ends session `id`; with `announced`, `session/ended` reached the runner.
    func end(_ id: String, _ reason: SessionEndReason, announced: Bool) {
        state.withLock { $0.ended[id] = (reason, announced) }
    }
}
