import Logging
import MCP
import SandboxProtocol

/// The MCP server of one MCP client: `run_python` on `runner`. One per
/// client, so that session names are that client's own.
public enum SandboxMCPServer {
    public static let name = "pysandbox"

    public static func make(runner: any CodeRunner, budget: ResultBudget = .default, logger: Logger) async -> Server {
        let server = Server(
            name: name, version: PySandbox.version, title: "PySandbox",
            instructions: "run_python runs Python code in an isolated sandbox; see its description.",
            capabilities: .init(tools: .init(listChanged: false)))
        let tool = RunPythonTool(runner: runner, budget: budget, logger: logger)
        let definition = RunPythonTool.definition(budget: budget)
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: [definition])
        }
        await server.withMethodHandler(CallTool.self) { params in
            guard params.name == RunPythonTool.name else {
                throw MCPError.invalidParams("Unknown tool: '\(params.name)'; this server has \(RunPythonTool.name)")
            }
            return await tool.call(params.arguments.map(VerbatimArguments.restore))
        }
        return server
    }
}
