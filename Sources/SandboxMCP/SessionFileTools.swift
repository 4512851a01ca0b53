import Logging
import MCP
import SandboxProtocol

/// `list_files`, `read_file` and `write_file` of one MCP client: the files
/// of one of its sessions (the names `run_python`'s `session` gives), through
/// `session/files/*`. `list_files` and `read_file` need the session open and
/// say so when it is not; `write_file` opens it as `run_python` would (with
/// the service's default memory limit and no packages), so that an agent can
/// put data in place and then run code on it.
public struct SessionFileTools: Sendable {
    public static let listName = "list_files"
    public static let readName = "read_file"
    public static let writeName = "write_file"
    public static let names = [listName, readName, writeName]

    let runner: any CodeRunner
    let sessions: ClientSessions
    let budget: ResultBudget
    let logger: Logger

    public init(runner: any CodeRunner, sessions: ClientSessions, budget: ResultBudget = .default, logger: Logger) {
        self.runner = runner
        self.sessions = sessions
        self.budget = budget
        self.logger = logger
    }

    /// A path as the session's programs see it: "/tmp" for the working folder, "/tmp/x" for "x".
    static func shownPath(_ path: String) -> String {
        path.isEmpty ? "/tmp" : "/tmp/" + path
    }

    /// `path` as a Python string literal for an example ('.' for the working folder), or `path` when it would
    /// need escapes or is long: an example must stay short and right.
    static func pythonLiteral(_ path: String) -> String {
        if path.isEmpty { return "'.'" }
        let plain = path.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0 != "'" && $0 != "\\" && $0.value != 0x7F }
        return plain && path.utf8.count <= 200 ? "'\(path)'" : "path"
    }

    public func call(_ tool: String, _ arguments: [String: Value]?) async -> CallTool.Result {
        let method: SessionFilesParams.Method = switch tool {
        case Self.readName: .read
        case Self.writeName: .write
        default: .list
        }
        let request: SessionFileArguments
        do throws(ArgumentError) {
            request = try SessionFileArguments(arguments, for: tool)
        } catch {
            return RunReport.error("Invalid arguments: \(error.description). \(Self.notDone(method))")
        }
        let name = request.session
        let handle: SessionHandle
        var note: String?
        if method == .write {
            do throws(RunnerError) {
                switch try await sessions.session(named: name) {
                case .open(let open, let opened): (handle, note) = (open, opened)
                case .ended(let end): return Self.sessionEnded(name, end, method: method)
                // Asking for no packages and no memory limit, a call fits any open session.
                case .otherPackages, .otherMemory: return RunReport.error("Session '\(name)' could not be used. \(Self.notDone(method))")
                }
            } catch {
                return SessionFileErrors.result(error, method: method, path: request.path, session: name, opening: true)
            }
        } else {
            switch await sessions.existing(named: name) {
            case .open(let open): handle = open
            case .ended(let end): return Self.sessionEnded(name, end, method: method)
            case .none: return await notOpen(name, method: method)
            }
        }
        let params = SessionFilesParams(method: method, session: handle.id, path: request.path, content: request.content)
        let answer: JSONValue
        do throws(RunnerError) {
            answer = try await runner.sessionFiles(params, in: handle)
        } catch {
            logger.debug("\(tool) was refused", metadata: ["error": "\(error)"])
            if let end = RunPythonTool.sessionEnd(error) ?? runner.endOfSession(handle) {
                await sessions.ended(name, handle: handle, because: end)
                return Self.sessionEnded(name, end, method: method)
            }
            return SessionFileErrors.result(error, method: method, path: request.path, session: name, opening: false)
        }
        do {
            switch method {
            case .list:
                let list = try answer.decoded(as: SessionFilesListResult.self)
                return FileListReport.result(list, path: request.path, session: name, budget: budget)
            case .read:
                let read = try answer.decoded(as: SessionFilesReadResult.self)
                return FileReadReport.result(read, path: request.path, session: name, budget: budget)
            case .write, .remove:
                let written = try answer.decoded(as: SessionFilesWriteResult.self)
                return Self.written(written, path: request.path, session: name, note: note)
            }
        } catch {
            return RunReport.error("The sandbox service answered something unexpected: \(answer)")
        }
    }

    private static func written(_ written: SessionFilesWriteResult, path: String, session: String, note: String?) -> CallTool.Result {
        let how = written.created ? "a new file" : "replacing the file that was there"
        let sessionWords = session == RunPythonArguments.defaultSessionName ? "session: true (or \"default\")" : "session: \"\(session)\""
        var lines = [
            "Wrote \(shownPath(path)) in session '\(session)': \(RunReport.grouped(written.size)) bytes, \(how). "
                + "run_python with \(sessionWords) finds it in its working directory (open(\(pythonLiteral(path)))).",
        ]
        if let note { lines.append(note) }
        return CallTool.Result(content: [RunReport.plain(lines.joined(separator: "\n"))], isError: false)
    }

    /// What a refused call did not do.
    static func notDone(_ method: SessionFilesParams.Method) -> String {
        switch method {
        case .list: "Nothing was listed."
        case .read: "The file was not read."
        case .write: "The file was not written."
        case .remove: "Nothing was removed."
        }
    }

    private func notOpen(_ name: String, method: SessionFilesParams.Method) async -> CallTool.Result {
        let open = await sessions.openNames
        let others = open.isEmpty ? "This client has no open session."
            : "Open sessions: " + open.map { "'\($0)'" }.joined(separator: ", ") + "."
        return RunReport.error("""
            There is no open session '\(name)', so there are no files to \(method == .list ? "list" : "read"). \(others) \
            A session opens with run_python's session (true is "default", or a name) or with write_file, and its files \
            live in its /tmp until it ends or is reset; a run_python call without session keeps no files. \
            \(Self.notDone(method))
            """)
    }

    static func sessionEnded(_ name: String, _ end: SessionEnd, method: SessionFilesParams.Method) -> CallTool.Result {
        let next = method == .write ? "Call again to write it into a fresh session '\(name)'."
            : "The next run_python or write_file that names '\(name)' opens a fresh one."
        return RunReport.error("""
            Session '\(name)' has ended (\(end.reason)): its variables, imports and files are gone. \
            \(Self.notDone(method)) \(next)
            """)
    }
}
