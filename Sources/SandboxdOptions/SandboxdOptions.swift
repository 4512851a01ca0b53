import ArgumentParser
import Logging
import SandboxMCP
import SandboxProtocol
import SandboxRuntime
import SandboxServer

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The one source of sandboxd's defaults: `ServerConfiguration`'s and `PackageSettings`'s own.
let defaults = ServerConfiguration()

/// sandboxd's options, one declaration each: its name (the property's),
/// help, and default, read from `ServerConfiguration` (swift-argument-parser
/// shows it as "(default: …)"); an option whose default is not a value says
/// it in words and is nil when not given. Every option also comes from its
/// `SANDBOXD_*` variable (`OptionEnvironment`); `configuration()` checks the
/// values and maps them into `ServerConfiguration`.
public struct SandboxdOptions: ParsableArguments {
    @Option(help: "Address to listen on.")
    public var host = defaults.host
    @Option(help: "Port for HTTP and WebSocket; 0 picks a free one.")
    public var port = defaults.port
    @Option(help: "This node's name in initialize's serverInfo.node, /v1/info, logs and metrics. (default: host name and port)")
    public var nodeName: String?
    @Option(help: "A proxy (ADDRESS/PREFIX, e.g. 10.0.0.0/8) whose X-Forwarded-For names the client, for the per-address limits and logs; from other peers the header is ignored; repeatable.")
    public var trustedProxy: [String] = defaults.trustedProxies
    @Option(help: "Runs at once. (default: the number of cores)")
    public var workers: Int?
    @Option(help: "Sandboxes kept started and waiting for code. (default: as many as workers)")
    public var warm: Int?
    @Option(help: "Runs that may wait for a worker.")
    public var queue = defaults.queueCapacity
    @Option(help: "Runs one connection may have queued or running.")
    public var maxInFlight = defaults.maxInFlight
    @Option(help: "Most tests one run may have (run's tests: one program against many inputs).")
    public var maxTests = defaults.maxTests
    @Option(help: "Python interpreter. (default: the real binary behind python3)")
    public var python: String?
    @Option(help: "The sandbox launcher. (default: pysandbox-launcher beside sandboxd)")
    public var launcher: String?
    @Option(help: "Per-run cgroups: auto (when available) or off (rlimits only).")
    public var cgroups = defaults.sandbox.cgroups.optionName
    @Option(help: "How each run gets its interpreter: fork (a fork of a fork server's, a millisecond or two) or exec (a new one per run).")
    public var isolation = defaults.sandbox.isolation.rawValue
    @Option(help: "Modules the fork servers import before forking runs, comma-separated (with --isolation fork); one that fails to import stops sandboxd; none (or \"\") for none. (default: the installed ones among numpy, pandas, matplotlib.pyplot)")
    public var preload: String?
    @Option(help: "The largest display (a plot, a table: its MIME bundle as JSON) a run may send, in bytes; displays also count toward the output limit.")
    public var maxDisplayBytes = defaults.maxDisplayBytes
    @Option(help: "The most bytes of files a run's returnFiles brings back.")
    public var maxReturnBytes = defaults.maxReturnBytes
    @Option(help: "A run's wall-clock limit when it asks for none, in ms.")
    public var timeoutMs = defaults.timeoutMs.default
    @Option(help: "The largest wall-clock limit a run may ask for, in ms.")
    public var maxTimeoutMs = defaults.timeoutMs.max
    @Option(help: "A run's memory limit when it asks for none, in MiB.")
    public var memoryMb = defaults.memoryMb.default
    @Option(help: "The largest memory limit a run may ask for, in MiB.")
    public var maxMemoryMb = defaults.memoryMb.max
    @Option(help: "A run's CPU time limit (all its processes together) when it asks for none, in ms.")
    public var cpuTimeMs = defaults.cpuTimeMs.default
    @Option(help: "The largest CPU time limit a run may ask for, in ms.")
    public var maxCpuTimeMs = defaults.cpuTimeMs.max
    @Option(help: "A run's output limit (stdout and stderr) when it asks for none.")
    public var outputBytes = defaults.maxOutputBytes.default
    @Option(help: "The largest output limit a run may ask for.")
    public var maxOutputBytes = defaults.maxOutputBytes.max
    @Option(help: "The largest program, in bytes of UTF-8.")
    public var maxCodeBytes = defaults.maxCodeBytes
    @Option(help: "The largest WebSocket message or HTTP body.")
    public var maxMessageBytes = defaults.maxMessageBytes
    @Option(help: "Seconds running runs may go on after SIGTERM.")
    public var shutdownGrace = Seconds(defaults.shutdownGrace)
    @Option(help: "Folder of the web editor's files. (default: those built into sandboxd)")
    public var webRoot: String?
    @Option(help: "CodeMirror 5 for the web editor, where apt's libjs-codemirror puts it.")
    public var codemirror = defaults.codeMirrorPath
    @Option(help: "A token clients must present (Authorization: Bearer, ?token= or the editor's cookie) for /v1/*; prefer the environment or --token-file, since the command line is visible to other users.")
    public var token: String?
    @Option(help: "A file of accepted tokens, one per line (# starts a comment).")
    public var tokenFile: String?
    @Option(help: "A JSON file of tenants, each with its token (or tokenSha256) and its own maxima, rate, concurrency, sessions, packages and daily CPU quota; in place of --token and --token-file; SIGHUP reads it again (README, \"Tenants\").")
    public var tenants: String?
    @Option(help: "Where tenants' usage (their daily CPU quotas included) lasts across restarts: a SQLite file's path, a postgres:// URI of a database several nodes share, or none. (default: /var/lib/pysandbox/usage.sqlite as root, else ~/.local/state/pysandbox/usage.sqlite)")
    public var state: String?
    @Option(help: "Write one JSON line per run as it ends (and per run refused) to this file, or to standard output with -; SIGHUP reopens the file.")
    public var auditLog: String?
    @Option(help: "Who may read /metrics: token (a bearer token whenever the service has one: --metrics-token, else one of the service's), open (no token), or off (404).")
    public var metrics = defaults.access.metrics.rawValue
    @Option(help: "The bearer token /metrics needs instead of the service's (with --metrics token).")
    public var metricsToken: String?
    @Option(help: "An origin browsers may use the service from besides its own, e.g. https://editor.example.com, or * for any; repeatable.")
    public var allowOrigin: [String] = defaults.access.allowedOrigins
    @Option(help: "A host name that names this service, besides localhost and the listen address (addresses always do), e.g. the public name a proxy serves it under, or * for any; repeatable. Other names in Host are refused: DNS rebinding.")
    public var allowHost: [String] = defaults.access.allowedHosts
    @Option(help: "WebSocket connections open at once.")
    public var maxConnections = defaults.maxConnections
    @Option(help: "WebSocket connections open at once from one client address.")
    public var maxConnectionsPerAddress = defaults.maxConnectionsPerAddress
    @Option(help: "Runs a connection (or, over HTTP, a client address) may start per minute, in bursts of up to as many.")
    public var runsPerMinute = defaults.runsPerMinute
    @Option(help: "Seconds after which a connection that sends nothing and has no run in flight is closed.")
    public var idleTimeout = Seconds(defaults.idleTimeout)
    @Option(help: "Sessions (session/open) one connection may have open at once.")
    public var maxSessionsPerConnection = defaults.maxSessionsPerConnection
    @Option(help: "Sessions open at once over all connections; each holds a fork server and its memory while open.")
    public var maxSessions = defaults.maxSessions
    @Option(help: "Sessions one client address (behind --trusted-proxy, the address it forwards) may have open over all its connections and MCP sessions; keep it below --max-sessions so that no one client can take them all. (default: a quarter of --max-sessions, at least 1)")
    public var maxSessionsPerClient: Int?
    @Option(help: "When every session place is taken, a session with no run for this long may be ended (reclaimed) to give its place to a client holding fewer, in ms.")
    public var sessionReclaimAfterMs = defaults.sessionReclaimAfter.milliseconds
    @Option(help: "A session's idle timeout when it asks for none, in ms: with no run this long it ends.")
    public var sessionIdleTimeoutMs = defaults.sessionIdleTimeoutMs.default
    @Option(help: "The longest idle timeout a session may ask for, in ms.")
    public var maxSessionIdleTimeoutMs = defaults.sessionIdleTimeoutMs.max
    @Option(help: "CPU time a session's processes may use over its whole life, in ms.")
    public var sessionCpuTimeMs = defaults.sessionCpuTimeMs
    @Option(help: "How long an interrupted session run (cancelled, or at a limit) may take to stop before its session is killed, in ms.")
    public var sessionInterruptGraceMs = defaults.sessionInterruptGrace.milliseconds
    @Option(help: "Session sandboxes (0 or 1) kept started ahead for the next session/open or session/fork with the default limits, so that its first run waits for none to start; each holds a fork server and its memory.")
    public var spareSessions = defaults.spareSessions
    @Option(help: "The most bytes of output a run_python result over /mcp shows: the first and the last half, with a line saying what was left out.")
    public var mcpResultTextBytes = defaults.mcpResultBudget.textBytes
    @Option(help: "The most bytes of a whole run_python result over /mcp, images' base64 included; images get what the text leaves. The official MCP client takes at most 1 MiB per message.")
    public var mcpResultBytes = defaults.mcpResultBudget.totalBytes
    @OptionGroup(title: "Packages")
    public var packageOptions: PackageOptions
    @Flag(help: "Log each run's code at debug level (never logged otherwise).")
    public var logCode = defaults.logCode
    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel = Logger.Level.info.rawValue

    public init() {}

    /// How a list option's variable separates its values, where not by commas.
    public static let separators: [String: Character] = ["preload-packages": ";"]

    /// The options from `commandLine`, and from `environment` for those it leaves out.
    public static func parse(_ commandLine: [String], environment: OptionEnvironment) throws -> SandboxdOptions {
        try parse(environmentArguments(commandLine, environment: environment) + commandLine)
    }

    /// The arguments `environment` gives, to be placed before `commandLine`.
    public static func environmentArguments(_ commandLine: [String], environment: OptionEnvironment) throws -> [String] {
        try environment.arguments(for: Self.self, commandLine: commandLine, separators: separators)
    }

    /// The level of sandboxd's log.
    public func level() throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        return level
    }

    /// The options as the server takes them; a value that cannot be is a
    /// `ValidationError` naming its option (the server's `validate()` checks
    /// the settings against each other).
    public func configuration() throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.nodeName = nodeName
        configuration.trustedProxies = trustedProxy
        if let workers { configuration.workers = workers }
        configuration.warm = warm
        configuration.queueCapacity = queue
        configuration.maxInFlight = maxInFlight
        configuration.maxTests = maxTests
        configuration.maxDisplayBytes = maxDisplayBytes
        configuration.maxReturnBytes = maxReturnBytes
        configuration.timeoutMs.default = timeoutMs
        configuration.timeoutMs.max = maxTimeoutMs
        configuration.memoryMb.default = memoryMb
        configuration.memoryMb.max = maxMemoryMb
        configuration.cpuTimeMs.default = cpuTimeMs
        configuration.cpuTimeMs.max = maxCpuTimeMs
        configuration.maxOutputBytes.default = outputBytes
        configuration.maxOutputBytes.max = maxOutputBytes
        configuration.maxCodeBytes = maxCodeBytes
        configuration.maxMessageBytes = maxMessageBytes
        configuration.shutdownGrace = shutdownGrace.duration
        configuration.webRoot = webRoot
        configuration.codeMirrorPath = codemirror
        configuration.access.tokens = try tokens()
        if let tenants {
            guard token == nil, tokenFile == nil else {
                throw ValidationError("--tenants: each tenant's token goes in its file; leave out --token and --token-file")
            }
            do {
                configuration.access.tenants = TenantDirectory(try TenantsFile.load(path: tenants, serverMaxima: configuration.tenantMaxima))
                configuration.tenantsFile = tenants
            } catch {
                throw ValidationError("--tenants: \(error)")
            }
        }
        if let state { configuration.state = UsageStateLocation(parsing: state) }
        configuration.auditLog = auditLog.map(AuditDestination.init(parsing:))
        guard let metricsAccess = AccessPolicy.MetricsAccess(rawValue: metrics) else {
            throw ValidationError("--metrics: '\(metrics)' is none of token, open, off")
        }
        configuration.access.metrics = metricsAccess
        configuration.access.metricsToken = metricsToken
        configuration.access.allowedOrigins = allowOrigin
        configuration.access.allowedHosts = allowHost
        configuration.maxConnections = maxConnections
        configuration.maxConnectionsPerAddress = maxConnectionsPerAddress
        configuration.runsPerMinute = runsPerMinute
        configuration.idleTimeout = idleTimeout.duration
        configuration.maxSessionsPerConnection = maxSessionsPerConnection
        configuration.maxSessions = maxSessions
        configuration.maxSessionsPerClient = maxSessionsPerClient
        configuration.sessionReclaimAfter = .milliseconds(sessionReclaimAfterMs)
        configuration.sessionIdleTimeoutMs.default = sessionIdleTimeoutMs
        configuration.sessionIdleTimeoutMs.max = maxSessionIdleTimeoutMs
        configuration.sessionCpuTimeMs = sessionCpuTimeMs
        configuration.sessionInterruptGrace = .milliseconds(sessionInterruptGraceMs)
        configuration.spareSessions = spareSessions
        configuration.mcpResultBudget.textBytes = mcpResultTextBytes
        configuration.mcpResultBudget.totalBytes = mcpResultBytes
        configuration.sandbox.interpreterPath = python
        configuration.sandbox.launcherPath = launcher
        guard let cgroupMode = CgroupMode(optionName: cgroups) else {
            throw ValidationError("--cgroups: '\(cgroups)' is neither auto nor off")
        }
        configuration.sandbox.cgroups = cgroupMode
        guard let chosen = Isolation(rawValue: isolation) else {
            throw ValidationError("--isolation: '\(isolation)' is neither fork nor exec")
        }
        configuration.sandbox.isolation = chosen
        // Not given: the scientific stack's installed modules (with fork); "" or "none" preloads nothing.
        if let preload {
            let modules = (preload == "none" ? "" : preload).split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for module in modules
            where !module.split(separator: ".").allSatisfy({ $0.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber } && !$0.isEmpty }) {
                throw ValidationError("--preload: '\(module)' is not a module name")
            }
            if !modules.isEmpty && chosen != .fork {
                throw ValidationError("--preload needs --isolation fork")
            }
            configuration.sandbox.preload = modules
        }
        configuration.packages = try packageOptions.settings()
        configuration.logCode = logCode
        return configuration
    }

    /// `--token` and the tokens of `--token-file`.
    private func tokens() throws -> [String] {
        var tokens = token.map { [$0] } ?? []
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw ValidationError("--token-file: cannot read \(tokenFile)")
            }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            tokens += lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
            if tokens.isEmpty { throw ValidationError("--token-file: \(tokenFile) holds no token") }
        }
        return tokens
    }
}

/// A number of seconds, as `--shutdown-grace` and `--idle-timeout` take it
/// (fractions too); shown whole when it is.
public struct Seconds: ExpressibleByArgument, Sendable, Equatable {
    public var duration: Duration

    public init(_ duration: Duration) {
        self.duration = duration
    }

    public init?(argument: String) {
        guard let seconds = Double(argument), seconds.isFinite, abs(seconds) < Double(Int.max / 1000) else { return nil }
        duration = .milliseconds(Int(seconds * 1000))
    }

    public var defaultValueDescription: String {
        let seconds = duration / .seconds(1)
        return seconds == seconds.rounded() ? "\(Int(seconds))" : "\(seconds)"
    }
}

extension Duration {
    /// Whole milliseconds, as the `…-ms` options give a duration.
    var milliseconds: Int { Int(self / .milliseconds(1)) }
}

extension CgroupMode {
    /// `--cgroups`' word for the mode.
    var optionName: String {
        switch self {
        case .automatic: "auto"
        case .rlimitsOnly: "off"
        }
    }

    init?(optionName: String) {
        switch optionName {
        case "auto": self = .automatic
        case "off": self = .rlimitsOnly
        default: return nil
        }
    }
}
