import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SandboxMCP
import SandboxProtocol
import SandboxRuntime
import SandboxServer

@main
struct Sandboxd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandboxd",
        abstract: "Runs untrusted Python code in sandboxes, for clients speaking protocol v1 over WebSocket and HTTP.",
        discussion: """
            Every option can also come from the environment variable named after it \
            (SANDBOXD_ and the option's name in capitals with underscores, e.g. SANDBOXD_PORT); \
            the command line wins. SIGTERM or SIGINT stops accepting runs, lets running ones \
            finish within the grace period, cancels the rest and exits 0.

            Other exit statuses: 64 for an option or SANDBOXD_ variable it cannot take; 75 \
            when another process listens on the port (often an earlier sandboxd, still \
            draining; choose another with --port); 78 when it cannot start (limits that do not \
            fit together, an address it cannot listen on, no working sandbox on this machine); \
            1 for any other failure. Each is said in one line on stderr.
            """,
        version: PySandbox.version)

    @Option(help: "Address to listen on. (default: 127.0.0.1; env: SANDBOXD_HOST)")
    var host: String?
    @Option(help: "Port for HTTP and WebSocket; 0 picks a free one. (default: 8765; env: SANDBOXD_PORT)")
    var port: Int?
    @Option(help: "This node's name in initialize's serverInfo.node, /v1/info, logs and metrics. (default: host name and port; env: SANDBOXD_NODE_NAME)")
    var nodeName: String?
    @Option(help: "A proxy (ADDRESS/PREFIX, e.g. 10.0.0.0/8) whose X-Forwarded-For names the client, for the per-address limits and logs; from other peers the header is ignored; repeatable. (env: SANDBOXD_TRUSTED_PROXY, comma-separated)")
    var trustedProxy: [String] = []
    @Option(help: "Runs at once. (default: the number of cores; env: SANDBOXD_WORKERS)")
    var workers: Int?
    @Option(help: "Sandboxes kept started and waiting for code. (default: as many as workers; env: SANDBOXD_WARM)")
    var warm: Int?
    @Option(help: "Runs that may wait for a worker. (default: 256; env: SANDBOXD_QUEUE)")
    var queue: Int?
    @Option(help: "Runs one connection may have queued or running. (default: 16; env: SANDBOXD_MAX_IN_FLIGHT)")
    var maxInFlight: Int?
    @Option(help: "Python interpreter. (default: the real binary behind python3; env: SANDBOXD_PYTHON)")
    var python: String?
    @Option(help: "The sandbox launcher. (default: pysandbox-launcher beside sandboxd; env: SANDBOXD_LAUNCHER)")
    var launcher: String?
    @Option(help: "Per-run cgroups: auto (when available) or off (rlimits only). (default: auto; env: SANDBOXD_CGROUPS)")
    var cgroups: String?
    @Option(help: "How each run gets its interpreter: fork (a fork of a fork server's, a millisecond or two) or exec (a new one per run). (default: fork; env: SANDBOXD_ISOLATION)")
    var isolation: String?
    @Option(help: "Modules the fork servers import before forking runs, comma-separated (with --isolation fork); one that fails to import stops sandboxd; none (or \"\") for none. (default: the installed ones among numpy, pandas, matplotlib.pyplot; env: SANDBOXD_PRELOAD)")
    var preload: String?
    @Option(help: "The largest display (a plot, a table: its MIME bundle as JSON) a run may send, in bytes; displays also count toward the output limit. (default: 4194304; env: SANDBOXD_MAX_DISPLAY_BYTES)")
    var maxDisplayBytes: Int?
    @Option(help: "The most bytes of files a run's returnFiles brings back. (default: 8388608; env: SANDBOXD_MAX_RETURN_BYTES)")
    var maxReturnBytes: Int?
    @Option(help: "A run's wall-clock limit when it asks for none, in ms. (default: 10000; env: SANDBOXD_TIMEOUT_MS)")
    var timeoutMs: Int?
    @Option(help: "The largest wall-clock limit a run may ask for, in ms. (default: 60000; env: SANDBOXD_MAX_TIMEOUT_MS)")
    var maxTimeoutMs: Int?
    @Option(help: "A run's memory limit when it asks for none, in MiB. (default: 256; env: SANDBOXD_MEMORY_MB)")
    var memoryMb: Int?
    @Option(help: "The largest memory limit a run may ask for, in MiB. (default: 1024; env: SANDBOXD_MAX_MEMORY_MB)")
    var maxMemoryMb: Int?
    @Option(help: "A run's CPU time limit (all its processes together) when it asks for none, in ms. (default: 10000; env: SANDBOXD_CPU_TIME_MS)")
    var cpuTimeMs: Int?
    @Option(help: "The largest CPU time limit a run may ask for, in ms. (default: 60000; env: SANDBOXD_MAX_CPU_TIME_MS)")
    var maxCpuTimeMs: Int?
    @Option(help: "A run's output limit (stdout and stderr) when it asks for none. (default: 1048576; env: SANDBOXD_OUTPUT_BYTES)")
    var outputBytes: Int?
    @Option(help: "The largest output limit a run may ask for. (default: 16777216; env: SANDBOXD_MAX_OUTPUT_BYTES)")
    var maxOutputBytes: Int?
    @Option(help: "The largest program, in bytes of UTF-8. (default: 1048576; env: SANDBOXD_MAX_CODE_BYTES)")
    var maxCodeBytes: Int?
    @Option(help: "The largest WebSocket message or HTTP body. (default: 4194304; env: SANDBOXD_MAX_MESSAGE_BYTES)")
    var maxMessageBytes: Int?
    @Option(help: "Seconds running runs may go on after SIGTERM. (default: 10; env: SANDBOXD_SHUTDOWN_GRACE)")
    var shutdownGrace: Double?
    @Option(help: "Folder of the web editor's files. (default: those built into sandboxd; env: SANDBOXD_WEB_ROOT)")
    var webRoot: String?
    @Option(help: "CodeMirror 5 for the web editor. (default: /usr/share/javascript/codemirror, from apt's libjs-codemirror; env: SANDBOXD_CODEMIRROR)")
    var codemirror: String?
    @Option(help: "A token clients must present (Authorization: Bearer, ?token= or the editor's cookie) for /v1/*; prefer the environment or --token-file, since the command line is visible to other users. (env: SANDBOXD_TOKEN)")
    var token: String?
    @Option(help: "A file of accepted tokens, one per line (# starts a comment). (env: SANDBOXD_TOKEN_FILE)")
    var tokenFile: String?
    @Option(help: "Who may read /metrics: token (a bearer token whenever the service has one: --metrics-token, else one of the service's), open (no token), or off (404). (default: token; env: SANDBOXD_METRICS)")
    var metrics: String?
    @Option(help: "The bearer token /metrics needs instead of the service's (with --metrics token). (env: SANDBOXD_METRICS_TOKEN)")
    var metricsToken: String?
    @Option(help: "An origin browsers may use the service from besides its own, e.g. https://editor.example.com, or * for any; repeatable. (env: SANDBOXD_ALLOW_ORIGIN, comma-separated)")
    var allowOrigin: [String] = []
    @Option(help: "A host name that names this service, besides localhost and the listen address (addresses always do), e.g. the public name a proxy serves it under, or * for any; repeatable. Other names in Host are refused: DNS rebinding. (env: SANDBOXD_ALLOW_HOST, comma-separated)")
    var allowHost: [String] = []
    @Option(help: "WebSocket connections open at once. (default: 1024; env: SANDBOXD_MAX_CONNECTIONS)")
    var maxConnections: Int?
    @Option(help: "WebSocket connections open at once from one client address. (default: 64; env: SANDBOXD_MAX_CONNECTIONS_PER_ADDRESS)")
    var maxConnectionsPerAddress: Int?
    @Option(help: "Runs a connection (or, over HTTP, a client address) may start per minute, in bursts of up to as many. (default: 600; env: SANDBOXD_RUNS_PER_MINUTE)")
    var runsPerMinute: Int?
    @Option(help: "Seconds after which a connection that sends nothing and has no run in flight is closed. (default: 300; env: SANDBOXD_IDLE_TIMEOUT)")
    var idleTimeout: Double?
    @Option(help: "Sessions (session/open) one connection may have open at once. (default: 4; env: SANDBOXD_MAX_SESSIONS_PER_CONNECTION)")
    var maxSessionsPerConnection: Int?
    @Option(help: "Sessions open at once over all connections; each holds a fork server and its memory while open. (default: 32; env: SANDBOXD_MAX_SESSIONS)")
    var maxSessions: Int?
    @Option(help: "Sessions one client address (behind --trusted-proxy, the address it forwards) may have open over all its connections and MCP sessions; keep it below --max-sessions so that no one client can take them all. (default: a quarter of --max-sessions, at least 1; env: SANDBOXD_MAX_SESSIONS_PER_CLIENT)")
    var maxSessionsPerClient: Int?
    @Option(help: "When every session place is taken, a session with no run for this long may be ended (reclaimed) to give its place to a client holding fewer, in ms. (default: 30000; env: SANDBOXD_SESSION_RECLAIM_AFTER_MS)")
    var sessionReclaimAfterMs: Int?
    @Option(help: "A session's idle timeout when it asks for none, in ms: with no run this long it ends. (default: 600000; env: SANDBOXD_SESSION_IDLE_TIMEOUT_MS)")
    var sessionIdleTimeoutMs: Int?
    @Option(help: "The longest idle timeout a session may ask for, in ms. (default: 3600000; env: SANDBOXD_MAX_SESSION_IDLE_TIMEOUT_MS)")
    var maxSessionIdleTimeoutMs: Int?
    @Option(help: "CPU time a session's processes may use over its whole life, in ms. (default: 600000; env: SANDBOXD_SESSION_CPU_TIME_MS)")
    var sessionCpuTimeMs: Int?
    @Option(help: "How long an interrupted session run (cancelled, or at a limit) may take to stop before its session is killed, in ms. (default: 2000; env: SANDBOXD_SESSION_INTERRUPT_GRACE_MS)")
    var sessionInterruptGraceMs: Int?
    @Option(help: "The most bytes of output a run_python result over /mcp shows: the first and the last half, with a line saying what was left out. (default: \(ResultBudget.default.textBytes); env: SANDBOXD_MCP_RESULT_TEXT_BYTES)")
    var mcpResultTextBytes: Int?
    @Option(help: "The most bytes of a whole run_python result over /mcp, images' base64 included; images get what the text leaves. The official MCP client takes at most 1 MiB per message. (default: \(ResultBudget.default.totalBytes); env: SANDBOXD_MCP_RESULT_BYTES)")
    var mcpResultBytes: Int?
    @OptionGroup(title: "Packages")
    var packageOptions: PackageOptions
    @Flag(help: "Log each run's code at debug level (never logged otherwise). (env: SANDBOXD_LOG_CODE=1)")
    var logCode = false
    @Option(help: "trace, debug, info, notice, warning, error or critical. (default: info; env: SANDBOXD_LOG_LEVEL)")
    var logLevel: String?

    func run() async throws {
        let environment = OptionEnvironment()
        var logger = Logger(label: "sandboxd")
        let level = try logLevel ?? environment.string("SANDBOXD_LOG_LEVEL") ?? "info"
        guard let parsedLevel = Logger.Level(rawValue: level) else { throw ValidationError("--log-level: unknown level '\(level)'") }
        logger.logLevel = parsedLevel

        var configuration = ServerConfiguration()
        configuration.host = try host ?? environment.string("SANDBOXD_HOST") ?? configuration.host
        configuration.port = try port ?? environment.int("SANDBOXD_PORT") ?? configuration.port
        configuration.workers = try workers ?? environment.int("SANDBOXD_WORKERS") ?? configuration.workers
        configuration.nodeName = try nodeName ?? environment.string("SANDBOXD_NODE_NAME")
        configuration.trustedProxies = try trustedProxy.isEmpty
            ? (environment.string("SANDBOXD_TRUSTED_PROXY")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? [])
            : trustedProxy
        configuration.warm = try warm ?? environment.int("SANDBOXD_WARM")
        configuration.queueCapacity = try queue ?? environment.int("SANDBOXD_QUEUE") ?? configuration.queueCapacity
        configuration.maxInFlight = try maxInFlight ?? environment.int("SANDBOXD_MAX_IN_FLIGHT") ?? configuration.maxInFlight
        configuration.timeoutMs.default = try timeoutMs ?? environment.int("SANDBOXD_TIMEOUT_MS") ?? configuration.timeoutMs.default
        configuration.timeoutMs.max = try maxTimeoutMs ?? environment.int("SANDBOXD_MAX_TIMEOUT_MS") ?? configuration.timeoutMs.max
        configuration.memoryMb.default = try memoryMb ?? environment.int("SANDBOXD_MEMORY_MB") ?? configuration.memoryMb.default
        configuration.memoryMb.max = try maxMemoryMb ?? environment.int("SANDBOXD_MAX_MEMORY_MB") ?? configuration.memoryMb.max
        configuration.cpuTimeMs.default = try cpuTimeMs ?? environment.int("SANDBOXD_CPU_TIME_MS") ?? configuration.cpuTimeMs.default
        configuration.cpuTimeMs.max = try maxCpuTimeMs ?? environment.int("SANDBOXD_MAX_CPU_TIME_MS") ?? configuration.cpuTimeMs.max
        configuration.maxOutputBytes.default = try outputBytes ?? environment.int("SANDBOXD_OUTPUT_BYTES") ?? configuration.maxOutputBytes.default
        configuration.maxOutputBytes.max = try maxOutputBytes ?? environment.int("SANDBOXD_MAX_OUTPUT_BYTES") ?? configuration.maxOutputBytes.max
        configuration.maxCodeBytes = try maxCodeBytes ?? environment.int("SANDBOXD_MAX_CODE_BYTES") ?? configuration.maxCodeBytes
        configuration.maxMessageBytes = try maxMessageBytes ?? environment.int("SANDBOXD_MAX_MESSAGE_BYTES") ?? configuration.maxMessageBytes
        configuration.maxDisplayBytes = try maxDisplayBytes ?? environment.int("SANDBOXD_MAX_DISPLAY_BYTES") ?? configuration.maxDisplayBytes
        configuration.maxReturnBytes = try maxReturnBytes ?? environment.int("SANDBOXD_MAX_RETURN_BYTES") ?? configuration.maxReturnBytes
        let grace = try shutdownGrace ?? environment.double("SANDBOXD_SHUTDOWN_GRACE") ?? 10
        configuration.shutdownGrace = .milliseconds(Int(grace * 1000))
        configuration.sandbox.interpreterPath = try python ?? environment.string("SANDBOXD_PYTHON")
        configuration.sandbox.launcherPath = try launcher ?? environment.string("SANDBOXD_LAUNCHER")
        configuration.webRoot = try webRoot ?? environment.string("SANDBOXD_WEB_ROOT")
        configuration.codeMirrorPath = try codemirror ?? environment.string("SANDBOXD_CODEMIRROR") ?? configuration.codeMirrorPath
        var tokens = try (token ?? environment.string("SANDBOXD_TOKEN")).map { [$0] } ?? []
        if let file = try tokenFile ?? environment.string("SANDBOXD_TOKEN_FILE") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("--token-file: cannot read \(file)") }
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            tokens += lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
            if tokens.isEmpty { throw ValidationError("--token-file: \(file) holds no token") }
        }
        configuration.access.tokens = tokens
        configuration.access.metricsToken = try metricsToken ?? environment.string("SANDBOXD_METRICS_TOKEN")
        let metricsName = try metrics ?? environment.string("SANDBOXD_METRICS") ?? configuration.access.metrics.rawValue
        guard let metricsAccess = AccessPolicy.MetricsAccess(rawValue: metricsName) else {
            throw ValidationError("--metrics: '\(metricsName)' is none of token, open, off")
        }
        configuration.access.metrics = metricsAccess
        configuration.access.allowedOrigins = try allowOrigin.isEmpty
            ? (environment.string("SANDBOXD_ALLOW_ORIGIN")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? [])
            : allowOrigin
        configuration.access.allowedHosts = try allowHost.isEmpty
            ? (environment.string("SANDBOXD_ALLOW_HOST")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? [])
            : allowHost
        configuration.maxConnections = try maxConnections ?? environment.int("SANDBOXD_MAX_CONNECTIONS") ?? configuration.maxConnections
        configuration.maxConnectionsPerAddress = try maxConnectionsPerAddress ?? environment.int("SANDBOXD_MAX_CONNECTIONS_PER_ADDRESS")
            ?? configuration.maxConnectionsPerAddress
        configuration.runsPerMinute = try runsPerMinute ?? environment.int("SANDBOXD_RUNS_PER_MINUTE") ?? configuration.runsPerMinute
        if let idle = try idleTimeout ?? environment.double("SANDBOXD_IDLE_TIMEOUT") {
            configuration.idleTimeout = .milliseconds(Int(idle * 1000))
        }
        configuration.logCode = try logCode || environment.string("SANDBOXD_LOG_CODE") == "1"
        configuration.maxSessionsPerConnection = try maxSessionsPerConnection
            ?? environment.int("SANDBOXD_MAX_SESSIONS_PER_CONNECTION") ?? configuration.maxSessionsPerConnection
        configuration.maxSessions = try maxSessions ?? environment.int("SANDBOXD_MAX_SESSIONS") ?? configuration.maxSessions
        configuration.maxSessionsPerClient = try maxSessionsPerClient ?? environment.int("SANDBOXD_MAX_SESSIONS_PER_CLIENT")
        if let reclaimAfter = try sessionReclaimAfterMs ?? environment.int("SANDBOXD_SESSION_RECLAIM_AFTER_MS") {
            configuration.sessionReclaimAfter = .milliseconds(reclaimAfter)
        }
        configuration.sessionIdleTimeoutMs.default = try sessionIdleTimeoutMs ?? environment.int("SANDBOXD_SESSION_IDLE_TIMEOUT_MS")
            ?? configuration.sessionIdleTimeoutMs.default
        configuration.sessionIdleTimeoutMs.max = try maxSessionIdleTimeoutMs ?? environment.int("SANDBOXD_MAX_SESSION_IDLE_TIMEOUT_MS")
            ?? configuration.sessionIdleTimeoutMs.max
        configuration.sessionCpuTimeMs = try sessionCpuTimeMs ?? environment.int("SANDBOXD_SESSION_CPU_TIME_MS") ?? configuration.sessionCpuTimeMs
        if let grace = try sessionInterruptGraceMs ?? environment.int("SANDBOXD_SESSION_INTERRUPT_GRACE_MS") {
            configuration.sessionInterruptGrace = .milliseconds(grace)
        }
        configuration.mcpResultBudget.textBytes = try mcpResultTextBytes ?? environment.int("SANDBOXD_MCP_RESULT_TEXT_BYTES")
            ?? configuration.mcpResultBudget.textBytes
        configuration.mcpResultBudget.totalBytes = try mcpResultBytes ?? environment.int("SANDBOXD_MCP_RESULT_BYTES")
            ?? configuration.mcpResultBudget.totalBytes
        switch try cgroups ?? environment.string("SANDBOXD_CGROUPS") ?? "auto" {
        case "auto": configuration.sandbox.cgroups = .automatic
        case "off": configuration.sandbox.cgroups = .rlimitsOnly
        case let other: throw ValidationError("--cgroups: '\(other)' is neither auto nor off")
        }
        let isolationName = try isolation ?? environment.string("SANDBOXD_ISOLATION") ?? configuration.sandbox.isolation.rawValue
        guard let chosen = Isolation(rawValue: isolationName) else {
            throw ValidationError("--isolation: '\(isolationName)' is neither fork nor exec")
        }
        configuration.sandbox.isolation = chosen
        // Not given: the scientific stack's installed modules (with fork); "" or "none" preloads nothing.
        if let given = try preload ?? environment.string("SANDBOXD_PRELOAD") {
            let modules = (given == "none" ? "" : given).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for module in modules
            where !module.split(separator: ".").allSatisfy({ $0.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber } && !$0.isEmpty }) {
                throw ValidationError("--preload: '\(module)' is not a module name")
            }
            if !modules.isEmpty && chosen != .fork {
                throw ValidationError("--preload needs --isolation fork")
            }
            configuration.sandbox.preload = modules
        }
        configuration.packages = try packageOptions.settings(environment)
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

/// sandboxd's options from `SANDBOXD_*` variables, read through
/// Hummingbird's `Environment`; a value that does not parse is an error,
/// not a silent default (where `Environment.get(_:as:)` would give nil).
struct OptionEnvironment {
    let variables: Environment

    init(_ variables: Environment = Environment()) {
        self.variables = variables
    }

    func string(_ name: String) throws -> String? {
        variables.get(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    func int(_ name: String) throws -> Int? {
        try parsed(name, as: Int.self, "an integer")
    }

    func double(_ name: String) throws -> Double? {
        try parsed(name, as: Double.self, "a number")
    }

    private func parsed<Value: LosslessStringConvertible>(_ name: String, as type: Value.Type, _ kind: String) throws -> Value? {
        guard let text = try string(name) else { return nil }
        guard let value = Value(text) else { throw ValidationError("\(name): '\(text)' is not \(kind)") }
        return value
    }
}
