import Foundation
import ArgumentParser
import SandboxRuntime
import SandboxServer
import Testing

@testable import SandboxdOptions

/// sandboxd's options from its command line and its `SANDBOXD_*` variables:
/// no server, no sandbox.
@Suite("sandboxd's options")
struct SandboxdOptionsTests {
    /// The options and their configuration, from `arguments` and only the variables of `environment`.
    func parse(_ arguments: [String] = [], _ environment: [String: String] = [:]) throws -> (SandboxdOptions, ServerConfiguration) {
        let options = try SandboxdOptions.parse(arguments, environment: OptionEnvironment(environment))
        return (options, try options.configuration())
    }

    /// What the error thrown says, as sandboxd prints it after "Error: ".
    func message(_ arguments: [String] = [], _ environment: [String: String] = [:]) -> String? {
        do {
            _ = try parse(arguments, environment)
            return nil
        } catch {
            return SandboxdOptions.message(for: error)
        }
    }

    @Test func aVariableGivesTheOptionTheCommandLineLeavesOut() throws {
        let (_, configuration) = try parse([], [
            "SANDBOXD_HOST": "0.0.0.0", "SANDBOXD_PORT": "9000", "SANDBOXD_MAX_IN_FLIGHT": "3",
            "SANDBOXD_METRICS": "open", "SANDBOXD_ISOLATION": "exec", "SANDBOXD_CGROUPS": "off",
            "SANDBOXD_MAX_PACKAGES_PER_SET": "9", "SANDBOXD_PACKAGE_INSTALL_TIMEOUT_MS": "1500",
        ])
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 9000)
        #expect(configuration.maxInFlight == 3)
        #expect(configuration.access.metrics == .open)
        #expect(configuration.sandbox.isolation == .exec)
        #expect(configuration.sandbox.cgroups == .rlimitsOnly)
        #expect(configuration.packages.limits.maxPackagesPerSet == 9)
        #expect(configuration.packages.limits.installTimeout == .milliseconds(1500))
    }

    @Test func theCommandLineWinsOverTheVariable() throws {
        let environment = ["SANDBOXD_PORT": "9000", "SANDBOXD_TOKEN": "from-env", "SANDBOXD_WORKERS": "3"]
        let (_, spaced) = try parse(["--port", "9001", "--token", "from-flag"], environment)
        #expect(spaced.port == 9001)
        #expect(spaced.access.tokens == ["from-flag"])
        #expect(spaced.workers == 3)
        let (_, joined) = try parse(["--port=9002"], environment)
        #expect(joined.port == 9002)
        // A variable that would not parse does not matter when the command line gives the option.
        let (_, overridden) = try parse(["--port", "9003"], ["SANDBOXD_PORT": "many"])
        #expect(overridden.port == 9003)
    }

    @Test func aTenantsFileIsReadAtStartAndABadOneStopsItWithItsLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tenants-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.json").path
        try Data(#"{"tenants": [{"name": "school", "token": "t-1", "limits": {"memoryMb": 128}}]}"#.utf8).write(to: URL(fileURLWithPath: good))
        let (_, configuration) = try parse(["--tenants", good])
        #expect(configuration.access.tenants?.tenant(presenting: "t-1")?.limits.memoryMb == 128)
        #expect(configuration.access.tokens.isEmpty)
        // Against the server's maxima as the command line sets them.
        #expect(message(["--tenants", good, "--max-memory-mb", "100", "--memory-mb", "64"])
            == "--tenants: \(good):1: tenant \"school\": memoryMb 128 is above the server's maximum 100 (--max-memory-mb)")
        let bad = folder.appendingPathComponent("bad.json").path
        try Data("{\"tenants\": [\n  {\"name\": \"a\", \"token\": \"t\",\n   \"maxSessions\": -1}]}".utf8).write(to: URL(fileURLWithPath: bad))
        #expect(message(["--tenants", bad]) == "--tenants: \(bad):3: tenant \"a\": maxSessions must be a whole number from 1 to 1000000000, not -1")
        #expect(message(["--tenants", good, "--token", "x"]) == "--tenants: each tenant's token goes in its file; leave out --token and --token-file")
        #expect(message([], ["SANDBOXD_TENANTS": folder.appendingPathComponent("none.json").path])?.hasSuffix("none.json: cannot be read (No such file or directory)") == true)
    }

    @Test func aVariableThatDoesNotParseIsNamedInOneLine() {
        #expect(message([], ["SANDBOXD_PORT": "abc"]) == "SANDBOXD_PORT: 'abc' is not an integer")
        #expect(message([], ["SANDBOXD_WORKERS": "2.5"]) == "SANDBOXD_WORKERS: '2.5' is not an integer")
        #expect(message([], ["SANDBOXD_SHUTDOWN_GRACE": "soon"]) == "SANDBOXD_SHUTDOWN_GRACE: 'soon' is not a number")
        #expect(message([], ["SANDBOXD_IDLE_TIMEOUT": "inf"]) == "SANDBOXD_IDLE_TIMEOUT: 'inf' is not a number")
        #expect(message([], ["SANDBOXD_MAX_PACKAGE_INSTALLS": "x"]) == "SANDBOXD_MAX_PACKAGE_INSTALLS: 'x' is not an integer")
        // Words are checked as the command line's are, and said with the option's name.
        #expect(message([], ["SANDBOXD_ISOLATION": "thread"]) == "--isolation: 'thread' is neither fork nor exec")
        #expect(message([], ["SANDBOXD_METRICS": "all"]) == "--metrics: 'all' is none of token, open, off")
        // An empty item of a list is given as one, as on the command line (`--preload-packages ""`).
        #expect(message([], ["SANDBOXD_PRELOAD_PACKAGES": "numpy; "]) == "--preload-packages: a set names no package")
        // Checked in the order sandboxd always checked them: access before the sandbox.
        #expect(message(["--metrics", "all", "--isolation", "thread"]) == "--metrics: 'all' is none of token, open, off")
        do {
            _ = try SandboxdOptions.parse([], environment: OptionEnvironment(["SANDBOXD_LOG_LEVEL": "loud"])).level()
            Issue.record("a log level that is none")
        } catch {
            #expect(SandboxdOptions.message(for: error) == "--log-level: unknown level 'loud'")
        }
    }

    @Test func anEmptyVariableIsUnsetAndNamesAreLookedUpInAnyCase() throws {
        let (_, empty) = try parse([], ["SANDBOXD_PORT": "", "SANDBOXD_HOST": ""])
        #expect(empty.port == defaults.port && empty.host == defaults.host)
        // As Hummingbird's Environment, which sandboxd read before.
        let (_, lower) = try parse([], ["sandboxd_port": "9004"])
        #expect(lower.port == 9004)
    }

    @Test func aValueThatStartsWithADashIsStillAValue() throws {
        let (_, configuration) = try parse([], ["SANDBOXD_TOKEN": "-secret=1", "SANDBOXD_PORT": "-1"])
        #expect(configuration.access.tokens == ["-secret=1"])
        #expect(configuration.port == -1)
    }

    @Test func listsAreCommaSeparatedAndTheCommandLineReplacesThem() throws {
        let environment = [
            "SANDBOXD_ALLOW_ORIGIN": "https://a.example, https://b.example", "SANDBOXD_ALLOW_HOST": "a.example,,b.example",
            "SANDBOXD_TRUSTED_PROXY": "10.0.0.0/8", "SANDBOXD_PRELOAD_PACKAGES": "numpy, pandas;requests",
        ]
        let (_, fromEnvironment) = try parse([], environment)
        #expect(fromEnvironment.access.allowedOrigins == ["https://a.example", "https://b.example"])
        #expect(fromEnvironment.access.allowedHosts == ["a.example", "b.example"])
        #expect(fromEnvironment.trustedProxies == ["10.0.0.0/8"])
        #expect(fromEnvironment.packages.preloadSets == [["numpy", "pandas"], ["requests"]])
        let (_, fromCommandLine) = try parse(
            ["--allow-origin", "https://c.example", "--preload-packages", "scipy", "--preload-packages", "six,attrs"], environment)
        #expect(fromCommandLine.access.allowedOrigins == ["https://c.example"])
        #expect(fromCommandLine.access.allowedHosts == ["a.example", "b.example"])
        #expect(fromCommandLine.packages.preloadSets == [["scipy"], ["six", "attrs"]])
    }

    @Test func aFlagsVariableIsOneForOn() throws {
        #expect(try parse([], ["SANDBOXD_LOG_CODE": "1"]).1.logCode)
        #expect(try !parse([], ["SANDBOXD_LOG_CODE": "0"]).1.logCode)
        #expect(try !parse([], ["SANDBOXD_LOG_CODE": "yes"]).1.logCode)
        #expect(try !parse().1.logCode)
        #expect(try parse(["--log-code"]).1.logCode)
    }

    @Test func durationsKeepTheirUnits() throws {
        let (_, configuration) = try parse(["--shutdown-grace", "2.5"], [
            "SANDBOXD_IDLE_TIMEOUT": "1.5", "SANDBOXD_SESSION_RECLAIM_AFTER_MS": "1200", "SANDBOXD_SESSION_INTERRUPT_GRACE_MS": "300",
        ])
        #expect(configuration.shutdownGrace == .milliseconds(2500))
        #expect(configuration.idleTimeout == .milliseconds(1500))
        #expect(configuration.sessionReclaimAfter == .milliseconds(1200))
        #expect(configuration.sessionInterruptGrace == .milliseconds(300))
    }

    @Test func noOptionsGiveServerConfigurationsDefaults() throws {
        let (options, configuration) = try parse()
        let expected = ServerConfiguration()
        #expect(configuration.host == expected.host && configuration.port == expected.port)
        #expect(configuration.nodeName == nil && configuration.trustedProxies.isEmpty)
        #expect(configuration.workers == expected.workers && configuration.warm == nil)
        #expect(configuration.queueCapacity == expected.queueCapacity && configuration.maxInFlight == expected.maxInFlight)
        #expect(configuration.timeoutMs == expected.timeoutMs && configuration.memoryMb == expected.memoryMb)
        #expect(configuration.cpuTimeMs == expected.cpuTimeMs && configuration.maxOutputBytes == expected.maxOutputBytes)
        #expect(configuration.maxCodeBytes == expected.maxCodeBytes && configuration.maxMessageBytes == expected.maxMessageBytes)
        #expect(configuration.maxDisplayBytes == expected.maxDisplayBytes && configuration.maxReturnBytes == expected.maxReturnBytes)
        #expect(configuration.shutdownGrace == expected.shutdownGrace && configuration.idleTimeout == expected.idleTimeout)
        #expect(configuration.sandbox.interpreterPath == nil && configuration.sandbox.launcherPath == nil)
        #expect(configuration.sandbox.cgroups == expected.sandbox.cgroups && configuration.sandbox.isolation == expected.sandbox.isolation)
        #expect(configuration.sandbox.preload == nil)
        #expect(configuration.webRoot == nil && configuration.codeMirrorPath == expected.codeMirrorPath)
        #expect(configuration.access.tokens.isEmpty && configuration.access.metricsToken == nil)
        #expect(configuration.access.metrics == expected.access.metrics)
        #expect(configuration.access.allowedOrigins.isEmpty && configuration.access.allowedHosts.isEmpty)
        #expect(configuration.maxConnections == expected.maxConnections)
        #expect(configuration.maxConnectionsPerAddress == expected.maxConnectionsPerAddress)
        #expect(configuration.runsPerMinute == expected.runsPerMinute && configuration.logCode == expected.logCode)
        #expect(configuration.maxSessionsPerConnection == expected.maxSessionsPerConnection)
        #expect(configuration.maxSessions == expected.maxSessions && configuration.maxSessionsPerClient == nil)
        #expect(configuration.sessionReclaimAfter == expected.sessionReclaimAfter)
        #expect(configuration.sessionIdleTimeoutMs == expected.sessionIdleTimeoutMs)
        #expect(configuration.sessionCpuTimeMs == expected.sessionCpuTimeMs)
        #expect(configuration.sessionInterruptGrace == expected.sessionInterruptGrace)
        #expect(configuration.mcpResultBudget == expected.mcpResultBudget)
        let packages = PackageSettings()
        #expect(configuration.packages.enabled == packages.enabled && !configuration.packages.explicitlyConfigured)
        #expect(configuration.packages.source == packages.source && configuration.packages.allowed == packages.allowed)
        #expect(configuration.packages.limits == packages.limits)
        #expect(configuration.packages.directory == nil && configuration.packages.installer == nil)
        #expect(try options.level() == .info)
        #expect(try SandboxdOptions.environmentArguments([], environment: OptionEnvironment([:])).isEmpty)
    }

    /// Every option `--help` lists, with its entry's text (a long name's help is on the next line).
    func helpLines() -> [(name: String, text: String)] {
        var lines: [(name: String, text: String)] = []
        for line in SandboxdOptions.helpMessage(columns: 10_000).split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("-") {
                lines.append((String(text.drop { $0 == "-" }.prefix { $0.isLetter || $0.isNumber || $0 == "-" }), text))
            } else if line.hasPrefix("  "), !lines.isEmpty {
                lines[lines.count - 1].text += " " + text
            }
        }
        return lines.filter { $0.name != "h" }
    }

    @Test func everyOptionHasAVariableNamedByTheRule() throws {
        let options = EnvironmentOption.all(in: SandboxdOptions.self)
        #expect(options.map(\.name).sorted() == helpLines().map(\.name).sorted())
        #expect(options.count == 67)
        var environment: [String: String] = [:]
        for option in options {
            let expected = "SANDBOXD_" + option.name.uppercased().replacingOccurrences(of: "-", with: "_")
            #expect(option.variable == expected)
            #expect(option.variable.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" }, "\(option.variable)")
            environment[option.variable] = option.form == .flag ? "1" : "7"
        }
        // Every variable reaches its option, and the parser takes what it gives.
        let arguments = try SandboxdOptions.environmentArguments([], environment: OptionEnvironment(environment))
        #expect(arguments == options.map { $0.form == .flag ? "--\($0.name)" : "--\($0.name)=7" })
        let parsed = try SandboxdOptions.parse(arguments)
        #expect(parsed.port == 7 && parsed.packageOptions.maxPackageInstalls == 7 && parsed.logCode && parsed.allowHost == ["7"])
        #expect(options.filter { $0.form == .list }.map(\.name) == ["trusted-proxy", "allow-origin", "allow-host", "preload-packages"])
        #expect(options.filter { $0.form == .flag }.map(\.name) == ["log-code"])
    }

    @Test func helpShowsEachDefaultOnceFromServerConfiguration() {
        let lines = Dictionary(uniqueKeysWithValues: helpLines())
        for (name, text) in lines {
            let defaultsShown = text.components(separatedBy: "(default:").count - 1
            #expect(defaultsShown <= 1, "--\(name): \(text)")
            #expect(!text.contains("SANDBOXD_"), "--\(name) names its variable: the rule is said once, in the discussion")
        }
        let expected = ServerConfiguration()
        let shown: [String: String] = [
            "host": expected.host, "port": "\(expected.port)", "queue": "\(expected.queueCapacity)", "max-tests": "\(expected.maxTests)",
            "max-in-flight": "\(expected.maxInFlight)", "cgroups": "auto", "isolation": expected.sandbox.isolation.rawValue,
            "timeout-ms": "\(expected.timeoutMs.default)", "max-timeout-ms": "\(expected.timeoutMs.max)",
            "memory-mb": "\(expected.memoryMb.default)", "max-memory-mb": "\(expected.memoryMb.max)",
            "cpu-time-ms": "\(expected.cpuTimeMs.default)", "max-cpu-time-ms": "\(expected.cpuTimeMs.max)",
            "output-bytes": "\(expected.maxOutputBytes.default)", "max-output-bytes": "\(expected.maxOutputBytes.max)",
            "max-code-bytes": "\(expected.maxCodeBytes)", "max-message-bytes": "\(expected.maxMessageBytes)",
            "max-display-bytes": "\(expected.maxDisplayBytes)", "max-return-bytes": "\(expected.maxReturnBytes)",
            "shutdown-grace": "10", "idle-timeout": "300", "codemirror": expected.codeMirrorPath,
            "metrics": expected.access.metrics.rawValue, "max-connections": "\(expected.maxConnections)",
            "max-connections-per-address": "\(expected.maxConnectionsPerAddress)", "runs-per-minute": "\(expected.runsPerMinute)",
            "max-sessions-per-connection": "\(expected.maxSessionsPerConnection)", "max-sessions": "\(expected.maxSessions)",
            "session-reclaim-after-ms": "30000", "session-idle-timeout-ms": "\(expected.sessionIdleTimeoutMs.default)",
            "max-session-idle-timeout-ms": "\(expected.sessionIdleTimeoutMs.max)", "session-cpu-time-ms": "\(expected.sessionCpuTimeMs)",
            "session-interrupt-grace-ms": "2000", "spare-sessions": "1", "mcp-result-text-bytes": "\(expected.mcpResultBudget.textBytes)",
            "mcp-result-bytes": "\(expected.mcpResultBudget.totalBytes)", "log-level": "info",
            "packages": "on", "max-packages-per-set": "64", "max-package-set-mb": "2048", "package-cache-mb": "10240",
            "package-install-timeout-ms": "300000", "max-package-installs": "2",
            // Defaults that are not a value, said in words once.
            "node-name": "host name and port", "workers": "the number of cores", "warm": "as many as workers",
            "python": "the real binary behind python3", "launcher": "pysandbox-launcher beside sandboxd",
            "preload": "the installed ones among numpy, pandas, matplotlib.pyplot", "web-root": "those built into sandboxd",
            "max-sessions-per-client": "a quarter of --max-sessions, at least 1", "allow-packages": "*",
            "package-store": "/var/cache/pysandbox/package-store as root, else ~/.cache/pysandbox/package-store",
            "state": "/var/lib/pysandbox/usage.sqlite as root, else ~/.local/state/pysandbox/usage.sqlite",
            "package-installer": "uv beside sandboxd, else /usr/local/bin/uv or /usr/bin/uv",
        ]
        for (name, value) in shown {
            #expect(lines[name]?.hasSuffix("(default: \(value))") == true, "--\(name): \(lines[name] ?? "not in --help")")
        }
        // The rest have no default: nothing unless given.
        let without = Set(lines.keys).subtracting(shown.keys)
        #expect(without == [
            "trusted-proxy", "token", "token-file", "tenants", "audit-log", "metrics-token", "allow-origin", "allow-host", "package-index",
            "package-wheels", "preload-packages", "log-code",
        ])
    }
}
