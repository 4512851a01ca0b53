import ArgumentParser
import Logging
import MCP
import SandboxMCP

/// `sandbox mcp`: an MCP server on stdin and stdout whose tools (run_python,
/// and list_files, read_file, write_file and reset_session on its sessions)
/// act on sandboxd; what an AI agent's MCP client starts.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serves run_python and its session tools to an MCP client (an AI agent) over stdin and stdout.",
        discussion: """
            An MCP client starts this command and speaks MCP (JSON-RPC, one message per line) on its \
            stdin and stdout. Each run_python call runs on the sandboxd at --url, over one WebSocket \
            connection made at the first call (and again if it closes). Sessions (session: true or a \
            name) live on that connection: if it closes, or a session ends on the service, the next \
            call that names the session says so, and the call after starts a fresh one. list_files, \
            read_file and write_file act on a session's files, and reset_session closes it. \
            Diagnostics go to stderr; nothing but MCP is written to stdout.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp(
        "The most bytes of output a run_python result shows: the first and the last half, with a line saying what was left out.",
        valueName: "bytes"))
    var resultTextBytes = ResultBudget.default.textBytes

    @Option(help: ArgumentHelp(
        "The most bytes of a whole run_python result, images' base64 included; images get what the text leaves.",
        valueName: "bytes"))
    var resultBytes = ResultBudget.default.totalBytes

    @Option(help: ArgumentHelp("Diagnostics on stderr at this level and above: trace, debug, info, notice, warning, error.",
                               valueName: "level"))
    var logLevel: Logger.Level = .warning

    var budget: ResultBudget { ResultBudget(textBytes: resultTextBytes, totalBytes: resultBytes) }

    func validate() throws {
        if let problem = budget.problem(textOption: "--result-text-bytes", totalOption: "--result-bytes") {
            throw ValidationError(problem)
        }
    }

    func run() async throws {
        // stdout carries MCP: every log line goes to stderr.
        var logger = Logger(label: "sandbox.mcp") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = logLevel
        let runner = WebSocketRunner(url: connection.resolvedURL, token: connection.resolvedToken)
        let server = await SandboxMCPServer.make(runner: runner, budget: budget, logger: logger)
        let transport = VerbatimArguments(StdioTransport(logger: logger), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await runner.maintain() }
            try await server.start(transport: transport)
            logger.info("serving MCP on stdio", metadata: ["url": "\(connection.resolvedURL)"])
            // Until the client closes stdin.
            await server.waitUntilCompleted()
            await server.stop()
            group.cancelAll()
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
