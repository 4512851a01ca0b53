import MCP
import SandboxProtocol

/// A file tool's request that the service refused or never answered, as a
/// tool error whose words say why and what to do (-32009's reasons, PROTOCOL.md §4.16).
enum SessionFileErrors {
    static func result(
        _ error: RunnerError, method: SessionFilesParams.Method, path: String, session: String, opening: Bool
    ) -> CallTool.Result {
        RunReport.error(message(error, method: method, path: path, session: session, opening: opening)
            + " " + SessionFileTools.notDone(method))
    }

    static func message(_ error: RunnerError, method: SessionFilesParams.Method, path: String, session: String, opening: Bool) -> String {
        switch error {
        case .unreachable(let reason):
            return "The sandbox service cannot be reached: \(reason)."
        case .refused(let refusal):
            switch RPCErrorCode(rawValue: refusal.code) {
            case .fileError:
                return fileError(refusal, method: method, path: path, session: session)
            case .methodNotFound:
                return opening
                    ? "This sandbox service has no sessions (it runs with --isolation exec, or predates them)."
                    : "This sandbox service has no file API for sessions (session/files, from protocol 0.13.0). Use run_python "
                        + "in session '\(session)' instead (open(), os.listdir())."
            case .queueFull, .tooManyInFlight, .rateLimited:
                return "The sandbox service is busy: \(refusal.message). Try again in a moment."
            case .tooManySessions:
                return "The sandbox service refused to open session '\(session)': \(refusal.message). Use a session already "
                    + "open, or reset_session one that is no longer needed."
            case .shuttingDown:
                return "The sandbox service is shutting down: \(refusal.message). Try again once it is back."
            default:
                return "The sandbox service refused the request: \(refusal.message)."
            }
        case .protocolViolation(let reason):
            return "The sandbox service answered something unexpected: \(reason)."
        case .cancelled:
            return "The request was cancelled."
        case .tooLarge(let bytes, let limit):
            return """
                The content takes \(RunReport.grouped(bytes)) bytes as one message to the sandbox service, over its \
                limit of \(RunReport.grouped(limit)) bytes. Write a smaller file, or it compressed (gzip, as base64) \
                and unpack it with run_python, or in parts that run_python joins.
                """
        }
    }

    /// -32009 in words, by its `reason`.
    private static func fileError(_ refusal: RPCError, method: SessionFilesParams.Method, path: String, session: String) -> String {
        let shown = SessionFileTools.shownPath(refusal.data?["path"]?.stringValue ?? path)
        let inSession = "in session '\(session)'"
        switch SessionFileErrorReason(rawValue: refusal.data?["reason"]?.stringValue ?? "") {
        case .notFound:
            return "Nothing is at \(shown) \(inSession). list_files shows what its folders hold."
        case .notADirectory:
            return method == .list
                ? "\(shown) \(inSession) is not a folder (or a part of its path is not): read_file reads a file."
                : "A part of the path \(shown) \(inSession) is a file, not a folder."
        case .isADirectory:
            return method == .read
                ? "\(shown) \(inSession) is a folder: list_files shows what it holds."
                : "\(shown) \(inSession) is a folder, which a file cannot replace: write to another path, or remove the "
                    + "folder with run_python (shutil.rmtree) first."
        case .symlink:
            return "\(shown) \(inSession) is, or goes through, a symbolic link. These tools never follow links, so that "
                + "nothing outside the session's folder is named: use the path the link points to, or run_python."
        case .notRegularFile:
            return "\(shown) \(inSession) is not a regular file (a FIFO, a socket or a device), so it cannot be read."
        case .tooLarge:
            let size = refusal.data?["size"]?.intValue.map { "\(RunReport.grouped($0)) bytes" } ?? "too large"
            let limit = refusal.data?["limit"]?.intValue.map { " of \(RunReport.grouped($0)) bytes" } ?? ""
            return "\(shown) \(inSession) is \(size), over the service's limit\(limit) for one read. Read parts of it with "
                + "run_python in that session, e.g. print(open(\(SessionFileTools.pythonLiteral(path))).read()[:20000])."
        case .noSpace:
            return "Session '\(session)''s working folder is full: the write would pass its size limit. Remove files it no "
                + "longer needs with run_python (os.remove), or write less."
        case .failed:
            return "Session '\(session)' could not do it: \(refusal.message)."
        case nil:
            return "The sandbox service refused the request: \(refusal.message)."
        }
    }
}
