import Foundation
import SandboxMCP
import SandboxProtocol
import Synchronization

/// A `CodeRunner` that answers as PROTOCOL.md §4.8–4.10 says a server does,
/// without running anything: `session/open` gives `s-1`, `s-2`, …; a run in
/// a session that has ended is refused with -32007 and its reason; a test
/// ends sessions as the server would (`session/ended`, or silently, to be
/// found at the next run). A run prints its code, and brings back the
/// `files` it was given that its `returnFiles` name exactly. A session's
/// files live in memory for `session/files/*`; `session/close` forgets them.
final class ScriptedRunner: CodeRunner {
    private struct State {
        var opened = 0
        /// session/open's params, in the order the sessions were opened.
        var openedWith: [SessionOpenParams] = []
        var runs: [RunParams] = []
        /// Ended on the server; `announced` ones were sent `session/ended`.
        var ended: [String: (reason: SessionEndReason, announced: Bool)] = [:]
        /// Each session's working folder: path → bytes (folders are the paths' prefixes).
        var files: [String: [String: [UInt8]]] = [:]
        var fileRequests: [SessionFilesParams] = []
        /// Closed with `session/close`.
        var closed: [String] = []
    }

    private let state = Mutex(State())

    var runs: [RunParams] { state.withLock { $0.runs } }
    var sessionsOpened: Int { state.withLock { $0.opened } }
    var sessionParams: [SessionOpenParams] { state.withLock { $0.openedWith } }
    var fileRequests: [SessionFilesParams] { state.withLock { $0.fileRequests } }
    var closedSessions: [String] { state.withLock { $0.closed } }

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

    /// `session/files/*` on an in-memory folder: list (one level), read (text when
    /// UTF-8, else base64), write (folders implied); -32009 `notFound` and
    /// `isADirectory` as a server says them.
    func sessionFiles(_ params: SessionFilesParams, in session: SessionHandle) async throws(RunnerError) -> JSONValue {
        var params = params
        params.session = session.id
        try state.withLock { state throws(RunnerError) in
            if state.closed.contains(session.id) {
                throw .refused(.invalidParams("session: '\(session.id)' is not a session of this connection"))
            }
            if let end = state.ended[session.id] {
                throw .refused(RPCError(.sessionEnded, end.reason.rawValue, data: ["reason": .string(end.reason.rawValue)]))
            }
            state.fileRequests.append(params)
        }
        let folder = state.withLock { $0.files[session.id] ?? [:] }
        let path = params.path
        let isFolder = path.isEmpty || folder.keys.contains { $0.hasPrefix(path + "/") }
        func fileError(_ reason: SessionFileErrorReason) -> RunnerError {
            .refused(RPCError(.fileError, "\(reason.rawValue): \(path)", data: ["reason": .string(reason.rawValue), "path": .string(path)]))
        }
        func json(_ value: some Encodable) -> JSONValue {
            (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))) ?? .null
        }
        switch params.method {
        case .list:
            guard isFolder else { throw fileError(folder[path] == nil ? .notFound : .notADirectory) }
            let prefix = path.isEmpty ? "" : path + "/"
            var entries: [String: SessionFilesListResult.Entry] = [:]
            for (file, bytes) in folder where file.hasPrefix(prefix) {
                let rest = file.dropFirst(prefix.count)
                if let slash = rest.firstIndex(of: "/") {
                    let name = String(rest[..<slash])
                    entries[name] = .init(name: name, type: "directory", size: 4096, modifiedMs: 0)
                } else {
                    entries[String(rest)] = .init(name: String(rest), type: "file", size: bytes.count, modifiedMs: 0)
                }
            }
            return json(SessionFilesListResult(path: path, entries: entries.values.sorted { $0.name < $1.name }, truncated: false))
        case .read:
            guard let bytes = folder[path] else { throw fileError(isFolder ? .isADirectory : .notFound) }
            if let text = String(validating: bytes, as: UTF8.self) {
                return json(SessionFilesReadResult(path: path, size: bytes.count, text: text))
            }
            return json(SessionFilesReadResult(path: path, size: bytes.count, base64: Base64.encode(bytes)))
        case .write:
            guard !isFolder else { throw fileError(.isADirectory) }
            let bytes = params.content?.bytes ?? []
            let created = state.withLock { state in
                defer { state.files[session.id, default: [:]][path] = bytes }
                return state.files[session.id]?[path] == nil
            }
            return json(SessionFilesWriteResult(path: path, size: bytes.count, created: created))
        case .remove:
            guard folder[path] != nil else { throw fileError(.notFound) }
            state.withLock { $0.files[session.id]?[path] = nil }
            return json(SessionFilesRemoveResult(path: path, removed: "file"))
        }
    }

    func closeSession(_ session: SessionHandle) async throws(RunnerError) {
        try state.withLock { state throws(RunnerError) in
            guard !state.closed.contains(session.id), state.ended[session.id] == nil else {
                throw .refused(.invalidParams("session: '\(session.id)' is not a session of this connection"))
            }
            state.closed.append(session.id)
            state.files[session.id] = nil
        }
    }

    /// Puts a file into session `id`'s folder, as a run of it would.
    func place(_ path: String, _ bytes: [UInt8], in id: String) {
        state.withLock { $0.files[id, default: [:]][path] = bytes }
    }

    /// The server ends session `id`; with `announced`, `session/ended` reached the runner.
    func end(_ id: String, _ reason: SessionEndReason, announced: Bool) {
        state.withLock { $0.ended[id] = (reason, announced) }
    }
}
