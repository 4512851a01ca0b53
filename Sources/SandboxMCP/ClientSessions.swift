import SandboxProtocol

/// The sandbox sessions of one MCP client, by the names it gives them: a
/// name's server session is opened on first use and reused after. When it
/// has ended, the next call that names it is told so (and does not run), and
/// the call after opens a fresh one, saying that earlier state is gone.
///
/// A session's packages are fixed when it opens (PROTOCOL.md §4.8): the
/// call that opens it names them; a later call may leave them out or name
/// the same set, and one that names another set is told so and does not run.
public actor ClientSessions {
    /// What a call in a named session runs in.
    public enum Lookup: Sendable {
        case open(SessionHandle, note: String?)
        /// The name's session has ended since its last run: the call must not run.
        case ended(SessionEnd)
        /// The name's session is open with other packages than the call
        /// names (`opened`: the session's, nil for none): the call must not run.
        case otherPackages(opened: [String]?)
    }

    private struct OpenSession {
        var handle: SessionHandle
        var packages: PackageSetKey?
    }

    private let runner: any CodeRunner
    private var open: [String: OpenSession] = [:]
    /// Names whose session ended, with why, until a new one is opened.
    private var lost: [String: SessionEnd] = [:]
    /// Calls waiting for a name's session that another call is opening: they share it.
    private var opening: [String: (packages: PackageSetKey?, waiting: [CheckedContinuation<Result<SessionHandle, RunnerError>, Never>])] = [:]

    public init(runner: any CodeRunner) {
        self.runner = runner
    }

    /// The open session called `name`, opened now (with `packages`) if it has none.
    public func session(named name: String, packages: [String]? = nil) async throws(RunnerError) -> Lookup {
        let wanted = packages.map(PackageSetKey.init)
        if let session = open[name] {
            if let end = runner.endOfSession(session.handle) {
                forget(name, because: end)
                return .ended(end)
            }
            if let wanted, wanted != session.packages { return .otherPackages(opened: session.packages?.requirements) }
            return .open(session.handle, note: nil)
        }
        if let inFlight = opening[name] {
            if let wanted, wanted != inFlight.packages { return .otherPackages(opened: inFlight.packages?.requirements) }
            let handle = try await withCheckedContinuation { opening[name]?.waiting.append($0) }.get()
            return .open(handle, note: nil)
        }
        opening[name] = (wanted, [])
        let outcome: Result<SessionHandle, RunnerError>
        do throws(RunnerError) {
            outcome = .success(try await runner.openSession(SessionOpenParams(packages: packages)))
        } catch {
            outcome = .failure(error)
        }
        if case .success(let handle) = outcome { open[name] = OpenSession(handle: handle, packages: wanted) }
        for waiting in opening.removeValue(forKey: name)?.waiting ?? [] { waiting.resume(returning: outcome) }
        let handle = try outcome.get()
        let imports = wanted.map { " It imports \($0.requirements.joined(separator: ", ")) for all its calls." } ?? ""
        let note = lost.removeValue(forKey: name).map {
            "Session '\(name)' is new: the previous one ended (\($0.reason)), so its variables, imports and files are gone.\(imports)"
        } ?? "Session '\(name)' started: its variables, imports and /tmp files stay for later calls that name it.\(imports)"
        return .open(handle, note: note)
    }

    /// A run found `name`'s session ended (error -32007, or its connection closed).
    public func ended(_ name: String, handle: SessionHandle, because end: SessionEnd) {
        guard open[name]?.handle == handle else { return }
        forget(name, because: end)
    }

    private func forget(_ name: String, because end: SessionEnd) {
        open[name] = nil
        lost[name] = end
    }
}

/// A package list as a set: the same requirements in any order, names
/// compared as PyPI does (`TinyTop` is `tinytop`), are one set. A list the
/// protocol's parser refuses is compared as written (the service will refuse it).
struct PackageSetKey: Sendable, Equatable {
    /// As the call wrote them, for messages.
    let requirements: [String]
    private let canonical: [String]

    init(_ requirements: [String]) {
        self.requirements = requirements
        canonical = (try? PackageRequirementSet(parsing: requirements).canonicalLines) ?? requirements.sorted()
    }

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.canonical == rhs.canonical }
}
