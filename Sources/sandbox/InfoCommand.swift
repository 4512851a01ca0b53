import ArgumentParser
import Foundation
import SandboxClient
import SandboxProtocol

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Prints the server's version, its Python version and its limits.")

    @Flag(help: "Print the initialize result as JSON.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let info: InitializeResult
        do {
            info = try await ProtocolConnection.connect(url: connection.resolvedURL, token: connection.resolvedToken) { connection in
                try await connection.initialize(clientName: "sandbox", version: PySandbox.version)
            }
        } catch let error as ClientError {
            Console.note(error.description)
            throw ExitCode(ExitStatus.of(error))
        }
        if json {
            let data = try JSONEncoder.protocolEncoder.encode(info)
            Console.write(String(decoding: data, as: UTF8.self) + "\n")
            return
        }
        let limits = info.limits
        Console.write("""
            server        \(info.serverInfo.name) \(info.serverInfo.version) (protocol \(info.protocolVersion))
            url           \(connection.resolvedURL)
            python        \(info.python.version)
            timeout       \(Self.range(limits.timeoutMs, .timeout))
            cpu time      \(limits.cpuTimeMs.map { Self.range($0, .cpuTime) } ?? "not limited per run by this server")
            memory        \(Self.range(limits.memoryMb, .memory))
            output        \(Self.range(limits.maxOutputBytes, .outputLimit))
            code          at most \(limits.maxCodeBytes) bytes
            message       at most \(limits.maxMessageBytes) bytes
            in flight     at most \(limits.maxInFlight) runs per connection
            cgroups       \(info.capabilities.cgroups.map { $0 ? "yes: each run has its own" : "no: memory and CPU time limits are weaker" } ?? "not said by this server")
            \(Self.packages(info))

            """)
    }

    /// Whether runs may name packages (--package, --requirements), from where, and within what.
    static func packages(_ info: InitializeResult) -> String {
        guard info.capabilities.packages == true else {
            return "packages      not offered: this service installs no packages (--package cannot be used)"
        }
        guard let limits = info.limits.packages else {
            return "packages      offered (--package, --requirements)"
        }
        let source = switch limits.source {
        case "index": "from PyPI or the operator's index"
        case "wheels": "from the operator's folder of wheels"
        default: "from \(limits.source)"
        }
        var lines = [
            "packages      offered (--package, --requirements), \(source)",
            "              at most \(limits.maxRequirements) requirements of \(limits.maxRequirementLength) characters a run;"
                + " a set installs at most \(limits.maxPackagesPerSet) packages, \(limits.maxSetMb) MiB,"
                + " within \(LimitOption.seconds(limits.installTimeoutMs))",
        ]
        if let allowed = limits.allowed {
            lines.append("              only: " + (allowed.isEmpty ? "none" : allowed.joined(separator: ", ")))
        }
        return lines.joined(separator: "\n")
    }

    /// A limit in the units of the option that sets it: "10 s by default, at most 60 s (--timeout)".
    private static func range(_ limit: LimitPair, _ option: LimitOption) -> String {
        "\(option.describe(limit.default)) by default, at most \(option.describe(limit.max)) (\(option.flag))"
    }
}
