import SandboxProtocol

/// The sandbox sessions of one MCP client, by the names it gives them: a
/// name's server session is opened on first use and reused after. When it
/// has ended, the next call that names it is told so (and does not run), and
/// the call after opens a fresh one, saying that earlier state is gone.
///
/// A session's packages and memory limit are fixed when it opens (PROTOCOL.md
/// §4.8): the call that opens it names them; a later call may leave them out
/// or name the same, and one that names others is told so and does not run.
public actor ClientSessions {
    /// What a call in a named session runs in.
    public enum Lookup: Sendable, Equatable {
        case open(SessionHandle, note: String?)
        /// The name's session has ended since its last run: the call must not run.
        case ended(SessionEnd)
        /// The name's session is open with other packages than the call
        /// names (`opened`: the session's, nil for none): the call must not run.
        case otherPackages(opened: [String]?)
        /// The name's session is open with another memory limit than the
        /// call asks for (`opened`: the session's, in MiB): the call must not run.
        case otherMemory(opened: Int)
    }

    /// What a call asks of the session it names.
    public struct Wanted: Sendable {
        public var packages: [String]?
        public var memoryMb: Int?

        public init(packages: [String]? = nil, memoryMb: Int? = nil) {
            self.packages = packages
            self.memoryMb = memoryMb
        }
    }

    private struct OpenSession: Sendable {
        var handle: SessionHandle
        var packages: PackageSetKey?
        /// The limit the service gave it.
        var memoryMb: Int
    }

    private let runner: any CodeRunner
    private var open: [String: OpenSession] = [:]
    /// Names whose session ended, with why, until a new one is opened.
    private var lost: [String: SessionEnd] = [:]
    /// Calls waiting for a name's session that another call is opening: they share it.
    private var opening: [String: [CheckedContinuation<Result<OpenSession, RunnerError>, Never>]] = [:]

    public init(runner: any CodeRunner) {
        self.runner = runner
    }

    /// The open session called `name`, opened now (with what `wanted` asks) if it has none.
    public func session(named name: String, wanting wanted: Wanted = Wanted()) async throws(RunnerError) -> Lookup {
        if let session = open[name] {
            if let end = runner.endOfSession(session.handle) {
                forget(name, because: end)
                return .ended(end)
            }
            return Self.mismatch(session, wanted) ?? .open(session.handle, note: nil)
        }
        if opening[name] != nil {
            let session = try await withCheckedContinuation { opening[name]?.append($0) }.get()
            return Self.mismatch(session, wanted) ?? .open(session.handle, note: nil)
        }
        opening[name] = []
        let packages = wanted.packages.map(PackageSetKey.init)
        let outcome: Result<OpenSession, RunnerError>
        do throws(RunnerError) {
            let opened = try await runner.openSession(SessionOpenParams(memoryMb: wanted.memoryMb, packages: wanted.packages))
            outcome = .success(OpenSession(handle: opened.handle, packages: packages, memoryMb: opened.limits.memoryMb))
        } catch {
            outcome = .failure(error)
        }
        if case .success(let session) = outcome { open[name] = session }
        for waiting in opening.removeValue(forKey: name) ?? [] { waiting.resume(returning: outcome) }
        let session = try outcome.get()
        let imports = packages.map { " It imports \($0.requirements.joined(separator: ", ")) for all its calls." } ?? ""
        let memory = " Its memory limit, \(session.memoryMb) MiB, covers all its calls together."
        let note = lost.removeValue(forKey: name).map {
            "Session '\(name)' is new: the previous one ended (\($0.reason)), so its variables, imports and files are gone.\(imports)\(memory)"
        } ?? "Session '\(name)' started: its variables, imports and /tmp files stay for later calls that name it.\(imports)\(memory)"
        return .open(session.handle, note: note)
    }

    /// What a name has now, for a call that must not open a session (`list_files`, `read_file`).
    public enum Existing: Sendable, Equatable {
        case open(SessionHandle)
        /// The name's session has ended since it was last used: it is forgotten now, so the next call that may open one opens a fresh one.
        case ended(SessionEnd)
        /// No session of that name is open (never opened, reset, or its end already reported).
        case none
    }

    /// The names of the open sessions (as far as the client knows), sorted.
    public var openNames: [String] { open.keys.sorted() }

    /// The open session called `name`, without opening one. A session being opened for it is waited for.
    public func existing(named name: String) async -> Existing {
        if opening[name] != nil {
            guard case .success(let session) = await withCheckedContinuation({ opening[name]?.append($0) }) else { return .none }
            return .open(session.handle)
        }
        guard let session = open[name] else { return .none }
        if let end = runner.endOfSession(session.handle) {
            forget(name, because: end)
            return .ended(end)
        }
        return .open(session.handle)
    }

    /// What `close(named:)` found.
    public enum Closed: Sendable, Equatable {
        /// The name's session was open, and is closed now.
        case closed
        /// The name's session had ended by itself already (and its end was not yet reported to a call).
        case hadEnded(SessionEnd)
        /// The name had no session.
        case none
    }

    /// Closes the session called `name` (`session/close`) and forgets it, so
    /// that the next call that names it opens a fresh one (told it "started",
    /// not that an earlier one ended: the client asked for the end).
    public func close(named name: String) async throws(RunnerError) -> Closed {
        lost[name] = nil
        switch await existing(named: name) {
        case .none:
            return .none
        case .ended(let end):
            lost[name] = nil
            return .hadEnded(end)
        case .open(let handle):
            // Forgotten first: a call that names it while it closes opens a fresh one, never a closing one.
            let session = open.removeValue(forKey: name)
            do throws(RunnerError) {
                try await runner.closeSession(handle)
            } catch {
                switch error {
                case .refused(let refusal) where refusal.code == RPCErrorCode.invalidParams.rawValue
                    || refusal.code == RPCErrorCode.sessionEnded.rawValue:
                    // No longer a session of the connection (it ended as the request went): gone all the same.
                    return .closed
                case .unreachable:
                    // Its connection closed, and the session with it.
                    if let end = runner.endOfSession(handle) { return .hadEnded(end) }
                    throw error
                default:
                    // Not closed (cancelled, or the service could not): still the name's, unless another call opened one.
                    if open[name] == nil, opening[name] == nil { open[name] = session }
                    throw error
                }
            }
            return .closed
        }
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

    /// Why a call that asks for `wanted` must not run in `session`; nil when it may.
    private static func mismatch(_ session: OpenSession, _ wanted: Wanted) -> Lookup? {
        if let packages = wanted.packages.map(PackageSetKey.init), packages != session.packages {
            return .otherPackages(opened: session.packages?.requirements)
        }
        if let memoryMb = wanted.memoryMb, memoryMb != session.memoryMb { return .otherMemory(opened: session.memoryMb) }
        return nil
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
