import Logging
import MCP
import SandboxProtocol

/// `reset_session` of one MCP client: closes one of its sessions
/// (`session/close`), so that the next `run_python` or `write_file` that
/// names it starts a fresh one; says whether there was one to close.
public struct ResetSessionTool: Sendable {
    public static let name = "reset_session"

    let sessions: ClientSessions
    let logger: Logger

    public init(sessions: ClientSessions, logger: Logger) {
        self.sessions = sessions
        self.logger = logger
    }

    public func call(_ arguments: [String: Value]?) async -> CallTool.Result {
        let name: String
        do throws(ArgumentError) {
            name = try SessionFileArguments(arguments, for: Self.name).session
        } catch {
            return RunReport.error("Invalid arguments: \(error.description). No session was reset.")
        }
        let fresh = "The next run_python or write_file that names '\(name)' starts a fresh session."
        let closed: ClientSessions.Closed
        do throws(RunnerError) {
            closed = try await sessions.close(named: name)
        } catch {
            logger.debug("reset_session did not close", metadata: ["error": "\(error)"])
            return RunReport.error(SessionFileErrors.message(error, method: .list, path: "", session: name, opening: false)
                + " Session '\(name)' was not reset.")
        }
        let text = switch closed {
        case .closed:
            "Session '\(name)' was closed: its variables, imports and files are gone (a run of it still going, if any, was stopped). \(fresh)"
        case .hadEnded(let end):
            "Session '\(name)' had already ended (\(end.reason)): its variables, imports and files were gone. \(fresh)"
        case .none:
            "There was no open session '\(name)': nothing to reset. \(fresh)"
        }
        return CallTool.Result(content: [RunReport.plain(text)], isError: false)
    }

    /// The tool as `tools/list` shows it.
    public static func definition() -> Tool {
        Tool(
            name: name,
            title: "Reset a session",
            description: """
                Ends one of this client's run_python sessions: its variables, imports and /tmp files are discarded, \
                and a run of it still going is stopped. The next run_python (or write_file) that names the session \
                starts a fresh one, which may then be opened with other packages or another memoryMb. Says whether \
                there was a session to end; resetting a session that is not open does nothing.
                """,
            inputSchema: [
                "type": "object",
                "properties": ["session": SessionFileTools.sessionProperty],
                "additionalProperties": false,
            ],
            annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false))
    }
}
