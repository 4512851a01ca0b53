import Logging
import MCP
import SandboxProtocol

/// The MCP server of one MCP client: `run_python`, the file tools
/// (`list_files`, `read_file`, `write_file`) and `reset_session` on
/// `runner`. One per client, so that session names are that client's own;
/// its tools share them.
public enum SandboxMCPServer {
    public static let name = "pysandbox"

    public static func make(runner: any CodeRunner, budget: ResultBudget = .default, logger: Logger) async -> Server {
        let server = Server(
            name: name, version: PySandbox.version, title: "PySandbox",
            instructions: """
                run_python runs Python code in an isolated sandbox, in a fresh one or in a named session that keeps \
                its state; list_files, read_file and write_file act on a session's files, and reset_session starts it \
                over. See each tool's description.
                """,
            capabilities: .init(tools: .init(listChanged: false)))
        let sessions = ClientSessions(runner: runner)
        let runPython = RunPythonTool(runner: runner, sessions: sessions, budget: budget, logger: logger)
        let files = SessionFileTools(runner: runner, sessions: sessions, budget: budget, logger: logger)
        let reset = ResetSessionTool(sessions: sessions, logger: logger)
        let definitions = [RunPythonTool.definition(budget: budget)] + SessionFileTools.definitions(budget: budget)
            + [ResetSessionTool.definition()]
        let names = definitions.map(\.name)
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: definitions)
        }
        await server.withMethodHandler(CallTool.self) { params in
            let arguments = params.arguments.map(VerbatimArguments.restore)
            switch params.name {
            case RunPythonTool.name: return await runPython.call(arguments)
            case ResetSessionTool.name: return await reset.call(arguments)
            case let name where SessionFileTools.names.contains(name): return await files.call(name, arguments)
            default:
                throw MCPError.invalidParams("Unknown tool: '\(params.name)'; this server has \(names.joined(separator: ", "))")
            }
        }
        return server
    }
}
