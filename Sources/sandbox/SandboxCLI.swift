import ArgumentParser
import SandboxProtocol

@main
struct SandboxCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Runs Python code on a sandboxd service and prints what it prints.",
        discussion: ExitStatus.help,
        version: PySandbox.version,
        subcommands: [RunCommand.self, ReplCommand.self, InfoCommand.self, MCPCommand.self])
}

/// Where the service is; shared by every subcommand.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The service's WebSocket URL. (env: SANDBOX_URL)", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp(
        "The service's token, when it needs one; prefer the environment (the command line is visible to other users). (env: SANDBOX_TOKEN)",
        valueName: "token"))
    var token: String?

    static let defaultURL = "ws://127.0.0.1:8765/v1/ws"

    var resolvedToken: String? {
        token ?? EnvironmentVariable.value("SANDBOX_TOKEN")
    }

    var resolvedURL: String {
        url ?? EnvironmentVariable.value("SANDBOX_URL") ?? Self.defaultURL
    }
}
