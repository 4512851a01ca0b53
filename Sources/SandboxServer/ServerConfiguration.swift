import SandboxMCP
import SandboxProtocol
import SandboxRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Everything sandboxd can be told; `sandboxd --help` documents each option.
/// Its initial values are sandboxd's defaults: `SandboxdOptions` reads them,
/// and `--help` shows them, from here alone.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8765
    /// This node's name in `initialize`, logs and metrics; nil means host name and port.
    public var nodeName: String?
    /// Proxies (`ADDRESS/PREFIX`) whose `X-Forwarded-For` names the client;
    /// from any other peer the header is ignored.
    public var trustedProxies: [String] = []
    /// Runs at once.
    public var workers = System.coreCount
    /// Sandboxes kept started and waiting; nil means as many as workers.
    public var warm: Int?
    /// Runs that may wait for a worker, over all connections.
    public var queueCapacity = 256
    /// Runs one connection may have queued or running.
    public var maxInFlight = 16
    /// Each limit is one pair of options, such as `--timeout-ms` and
    /// `--max-timeout-ms`; its `min` is the protocol's (`RunParams`), set by `advertisedLimits`.
    public var timeoutMs = LimitPair(default: 10_000, max: 60_000)
    public var memoryMb = LimitPair(default: 256, max: 1024)
    public var maxOutputBytes = LimitPair(default: 1 << 20, max: 16 << 20)
    /// CPU time of all of a run's processes together.
    public var cpuTimeMs = LimitPair(default: 10_000, max: 60_000)
    public var maxCodeBytes = 1 << 20
    /// Most `tests` one run may have (each a sandbox of its own, in turn).
    public var maxTests = 1000
    /// Largest display (its MIME bundle as JSON); displays also count toward `maxOutputBytes`.
    public var maxDisplayBytes = 4 << 20
    /// Most bytes of files one run's `returnFiles` brings back.
    public var maxReturnBytes = 8 << 20
    /// Largest WebSocket message or HTTP body; must hold the code, its files and stdin.
    public var maxMessageBytes = 4 << 20
    /// How long running and queued runs may go on after SIGTERM before they are cancelled.
    public var shutdownGrace: Duration = .seconds(10)
    public var sandbox = SandboxOptions()
    /// The web editor's files; nil serves those built into sandboxd.
    public var webRoot: String?
    /// CodeMirror 5 as Debian's `libjs-codemirror` installs it; the editor uses a plain textarea without it.
    public var codeMirrorPath = "/usr/share/javascript/codemirror"
    /// Tokens and allowed origins.
    public var access = AccessPolicy()
    /// WebSocket connections open at once, over all and from one address.
    public var maxConnections = 1024
    public var maxConnectionsPerAddress = 64
    /// Runs one WebSocket connection (or one address over HTTP) may start per minute; bursts up to this many.
    public var runsPerMinute = 600
    /// A connection that sends nothing and has no run in flight this long is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// Log each run's code at debug level (off: code is never logged).
    public var logCode = false
    /// Sessions one connection may have open at once, and the server over all connections.
    public var maxSessionsPerConnection = 4
    public var maxSessions = 32
    /// Sessions one client (its address; behind a trusted proxy, the one it
    /// forwards) may have open over all its connections and MCP sessions;
    /// nil means `sessionsPerClient`'s default.
    public var maxSessionsPerClient: Int?
    /// A session with no run queued or running this long may give its place
    /// to a client holding fewer when every place is taken.
    public var sessionReclaimAfter: Duration = .seconds(30)
    /// A session with no run queued or running this long ends (`session/open`'s `idleTimeoutMs`).
    public var sessionIdleTimeoutMs = LimitPair(default: 600_000, max: 3_600_000)
    /// CPU time of a session's processes over its whole life.
    public var sessionCpuTimeMs = 600_000
    /// How long an interrupted session run may take to stop before its session is killed.
    public var sessionInterruptGrace: Duration = .seconds(2)
    /// Session sandboxes (0 or 1) kept started ahead, for the next
    /// `session/open` (or `session/fork`) with the default limits: its first
    /// run then waits for no sandbox to start (`SessionService`).
    public var spareSessions = 1
    /// How much of a run a `run_python` result over `/mcp` shows (`--mcp-result-text-bytes`, `--mcp-result-bytes`).
    public var mcpResultBudget = ResultBudget.default
    /// Package sets runs and sessions may name (`--packages`, `--package-index`, ...).
    public var packages = PackageSettings()
    /// Where tenants' usage (and so their daily quotas) lasts (`--state`).
    public var state = UsageStateLocation.sqlite(UsageStateLocation.defaultSQLitePath)
    /// The file `access.tenants` came from (`--tenants`): SIGHUP reads it again.
    public var tenantsFile: String?
    /// One JSON line per run as it ends, and per run refused (`--audit-log`); nil: none.
    public var auditLog: AuditDestination?
    /// How often usage is written to `state` and every node's read back:
    /// how far nodes sharing a quota may be behind each other.
    public var usageWriteInterval: Duration = .seconds(1)

    public init() {}

    public var warmSandboxes: Int { warm ?? workers }

    /// `maxSessionsPerClient`, by default a quarter of `maxSessions` (8 of
    /// 32): at least four clients can each hold their cap at once, and a
    /// notebook user's few sessions fit well within it.
    public var sessionsPerClient: Int { maxSessionsPerClient ?? max(1, maxSessions / 4) }

    /// `nodeName`, or this machine's host name and the port.
    public var resolvedNodeName: String {
        if let nodeName { return nodeName }
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(cString: name) : "localhost"
        return "\(host):\(port)"
    }

    /// The run limits with the protocol's minimum of each, as `initialize` lists them.
    var advertisedLimits: (timeoutMs: LimitPair, memoryMb: LimitPair, maxOutputBytes: LimitPair, cpuTimeMs: LimitPair) {
        func pair(_ setting: LimitPair, min: Int) -> LimitPair { LimitPair(default: setting.default, max: setting.max, min: min) }
        return (
            pair(timeoutMs, min: RunParams.minimumTimeoutMs), pair(memoryMb, min: RunParams.minimumMemoryMb),
            pair(maxOutputBytes, min: RunParams.minimumMaxOutputBytes), pair(cpuTimeMs, min: RunParams.minimumCpuTimeMs)
        )
    }

    /// Checks the settings against each other; the message names the option.
    public func validate() throws(ConfigurationError) {
        _ = try TrustedProxies(trustedProxies)
        let limits = advertisedLimits
        for (name, limit) in [
            ("timeout-ms", limits.timeoutMs), ("memory-mb", limits.memoryMb), ("max-output-bytes", limits.maxOutputBytes),
            ("cpu-time-ms", limits.cpuTimeMs),
        ] {
            if limit.default > limit.max {
                throw ConfigurationError(message: "--\(name): the default \(limit.default) is above the maximum \(limit.max)")
            }
            if let least = limit.min, limit.default < least {
                throw ConfigurationError(message: "--\(name): must be at least \(least)")
            }
        }
        if workers < 1 { throw ConfigurationError(message: "--workers: must be at least 1") }
        if maxDisplayBytes < 1 { throw ConfigurationError(message: "--max-display-bytes: must be at least 1") }
        if maxReturnBytes < 0 { throw ConfigurationError(message: "--max-return-bytes: must not be negative") }
        if warmSandboxes < 0 { throw ConfigurationError(message: "--warm: must not be negative") }
        if queueCapacity < 0 { throw ConfigurationError(message: "--queue: must not be negative") }
        if maxTests < 1 { throw ConfigurationError(message: "--max-tests: must be at least 1") }
        if maxInFlight < 1 { throw ConfigurationError(message: "--max-in-flight: must be at least 1") }
        if maxConnections < 1 { throw ConfigurationError(message: "--max-connections: must be at least 1") }
        if maxConnectionsPerAddress < 1 { throw ConfigurationError(message: "--max-connections-per-address: must be at least 1") }
        if runsPerMinute < 1 { throw ConfigurationError(message: "--runs-per-minute: must be at least 1") }
        if idleTimeout <= .zero { throw ConfigurationError(message: "--idle-timeout: must be positive") }
        if access.tokens.contains(where: \.isEmpty) { throw ConfigurationError(message: "--token: a token must not be empty") }
        if access.metricsToken?.isEmpty == true { throw ConfigurationError(message: "--metrics-token: must not be empty") }
        if access.metricsToken != nil && access.metrics != .token {
            throw ConfigurationError(message: "--metrics-token needs --metrics token, not \(access.metrics.rawValue)")
        }
        if maxSessionsPerConnection < 0 { throw ConfigurationError(message: "--max-sessions-per-connection: must not be negative") }
        if maxSessions < 0 { throw ConfigurationError(message: "--max-sessions: must not be negative") }
        if let perClient = maxSessionsPerClient {
            if perClient < 1 { throw ConfigurationError(message: "--max-sessions-per-client: must be at least 1") }
            if perClient > maxSessions {
                throw ConfigurationError(message: "--max-sessions-per-client (\(perClient)) must not be above --max-sessions (\(maxSessions))")
            }
        }
        if sessionReclaimAfter < .zero { throw ConfigurationError(message: "--session-reclaim-after-ms: must not be negative") }
        if sessionIdleTimeoutMs.default > sessionIdleTimeoutMs.max {
            throw ConfigurationError(message: "--session-idle-timeout-ms: the default \(sessionIdleTimeoutMs.default) is above the maximum \(sessionIdleTimeoutMs.max)")
        }
        if sessionIdleTimeoutMs.default < SessionOpenParams.minimumIdleTimeoutMs {
            throw ConfigurationError(message: "--session-idle-timeout-ms: must be at least \(SessionOpenParams.minimumIdleTimeoutMs)")
        }
        if spareSessions < 0 || spareSessions > 1 {
            throw ConfigurationError(message: "--spare-sessions: \(spareSessions) must be 0 or 1")
        }
        if sessionCpuTimeMs < 1 { throw ConfigurationError(message: "--session-cpu-time-ms: must be at least 1") }
        if let problem = mcpResultBudget.problem(textOption: "--mcp-result-text-bytes", totalOption: "--mcp-result-bytes") {
            throw ConfigurationError(message: problem)
        }
        if maxMessageBytes < maxCodeBytes {
            throw ConfigurationError(message: "--max-message-bytes (\(maxMessageBytes)) must be at least --max-code-bytes (\(maxCodeBytes))")
        }
    }
}

enum System {
    static var coreCount: Int {
        #if canImport(Glibc)
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        1
        #endif
    }
}
