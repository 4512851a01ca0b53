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
