import ArgumentParser
import Foundation
import Logging
import SandboxProtocol
import SandboxRuntime
import SandboxServer
import SandboxdOptions

@main
struct Sandboxd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandboxd",
        abstract: "Runs untrusted Python code in sandboxes, for clients speaking protocol v1 over WebSocket and HTTP.",
        discussion: """
            Every option can also come from the environment variable named after it \
            (SANDBOXD_ and the option's name in capitals with underscores, e.g. SANDBOXD_PORT); \
            the command line wins. A repeatable option's variable holds its values separated by \
            commas (SANDBOXD_PRELOAD_PACKAGES: sets separated by ';'), SANDBOXD_LOG_CODE=1 turns \
            --log-code on, and an empty variable counts as unset. SIGTERM or SIGINT stops accepting runs, lets running ones \
            finish within the grace period, cancels the rest and exits 0.

            Other exit statuses: 64 for an option or SANDBOXD_ variable it cannot take; 75 \
            when another process listens on the port (often an earlier sandboxd, still \
            draining; choose another with --port); 78 when it cannot start (limits that do not \
            fit together, an address it cannot listen on, no working sandbox on this machine); \
            1 for any other failure. Each is said in one line on stderr.
            """,
        version: PySandbox.version)

    @OptionGroup
    var options: SandboxdOptions

    /// As swift-argument-parser's, with the `SANDBOXD_*` variables' arguments
    /// before the command line's (`OptionEnvironment`).
    static func main() async {
        let commandLine = Array(CommandLine.arguments.dropFirst())
        let fromEnvironment: [String]
        do {
            fromEnvironment = try SandboxdOptions.environmentArguments(commandLine, environment: OptionEnvironment())
        } catch {
            // The command line's --help, --version and mistakes come before a variable's.
            do {
                var command = try parseAsRoot(commandLine)
                if !(command is Self) {
                    try command.run()  // the help
                    exit()
                }
            } catch {
                exit(withError: error)
            }
            exit(withError: error)
        }
        await main(fromEnvironment + commandLine)
    }

    func run() async throws {
        var logger = Logger(label: "sandboxd")
        logger.logLevel = try options.level()
        let configuration = try options.configuration()
        let server: SandboxServer
        do {
            server = try await SandboxServer.prepare(configuration, logger: logger)
        } catch let error as ListenError {
            throw Self.cannotListen(error, logger: logger)
        } catch {
            // The service never runs code unsandboxed: say what is missing and stop.
            logger.critical("sandboxd cannot start", metadata: ["reason": "\(error)"])
            throw ExitCode(ExitStatus.cannotStart)
        }
        do {
            try await server.run(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch let error as ListenError {
            throw Self.cannotListen(error, logger: logger)
        }
        logger.info("sandboxd stopped")
    }

    /// One line that says what to do, and nothing else at error level before it.
    private static func cannotListen(_ error: ListenError, logger: Logger) -> ExitCode {
        logger.critical("\(error)")
        return ExitCode(error.isAddressInUse ? ExitStatus.addressInUse : ExitStatus.cannotStart)
    }

    /// How sandboxd exits besides 0 (stopped by SIGTERM or SIGINT), in sysexits.h's terms.
    enum ExitStatus {
        /// EX_CONFIG: the options do not fit together, the address cannot be
        /// listened on (not this host's, a privileged port), or this machine cannot sandbox.
        static let cannotStart: Int32 = 78
        /// EX_TEMPFAIL: another process listens on the port (often an earlier sandboxd, still draining).
        static let addressInUse: Int32 = 75
    }
}
