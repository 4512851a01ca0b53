import SandboxProtocol

/// The sandbox sessions of one MCP client, by the names it gives them: a
/// name's server session is opened on first use and reused after. When it
/// has ended, the next call that names it is told so (and does not run), and
/// the call after opens a fresh one, saying that earlier state is gone.
public actor ClientSessions {
    /// What a call in a named session runs in.
    public enum Lookup: Sendable {
        case open(SessionHandle, note: String?)
        /// The name's session has ended since its last run: the call must not run.
        case ended(SessionEnd)
    }

    private let runner: any CodeRunner
    private var open: [String: SessionHandle] = [:]
    /// Names whose session ended, with why, until a new one is opened.
    private var lost: [String: SessionEnd] = [:]
    /// Calls waiting for a name's session that another call is opening: they share it.
    private var opening: [String: [CheckedContinuation<Result<SessionHandle, RunnerError>, Never>]] = [:]

    public init(runner: any CodeRunner) {
        self.runner = runner
    }

    /// The open session called `name`, opened now if it has none.
    public func session(named name: String) async throws(RunnerError) -> Lookup {
        if let handle = open[name] {
            guard let end = runner.endOfSession(handle) else { return .open(handle, note: nil) }
            forget(name, because: end)
            return .ended(end)
        }
        if opening[name] != nil {
            let handle = try await withCheckedContinuation { opening[name, default: []].append($0) }.get()
            return .open(handle, note: nil)
        }
        opening[name] = []
        let outcome: Result<SessionHandle, RunnerError>
        do throws(RunnerError) { outcome = .success(try await runner.openSession()) } catch { outcome = .failure(error) }
        if case .success(let handle) = outcome { open[name] = handle }
        for waiting in opening.removeValue(forKey: name) ?? [] { waiting.resume(returning: outcome) }
        let handle = try outcome.get()
        let note = lost.removeValue(forKey: name).map {
            "Session '\(name)' is new: the previous one ended (\($0.reason)), so its variables, imports and files are gone."
        } ?? "Session '\(name)' started: its variables, imports and /tmp files stay for later calls that name it."
        return .open(handle, note: note)
    }

    /// A run found `name`'s session ended (error -32007, or its connection closed).
    public func ended(_ name: String, handle: SessionHandle, because end: SessionEnd) {
        guard open[name] == handle else { return }
        forget(name, because: end)
    }

    private func forget(_ name: String, because end: SessionEnd) {
        open[name] = nil
        lost[name] = end
    }
}
