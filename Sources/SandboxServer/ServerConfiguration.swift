import SandboxProtocol
import SandboxRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Everything sandboxd can be told; `sandboxd --help` documents each option.
public struct ServerConfiguration: Sendable {
    /// A limit a run may choose, with the value it gets when it does not:
    /// one pair of options such as `--timeout-ms` and `--max-timeout-ms`.
    public struct LimitSetting: Sendable, Equatable {
        public var `default`: Int
        public var max: Int
        public init(default: Int, max: Int) {
            self.default = `default`
            self.max = max
        }
    }

    public var host = "127.0.0.1"
    public var port = 8765
    /// Runs at once.
    public var workers = System.coreCount
    /// Sandboxes kept started and waiting; nil means as many as workers.
    public var warm: Int?
    /// Runs that may wait for a worker, over all connections.
    public var queueCapacity = 256
    /// Runs one connection may have queued or running.
    public var maxInFlight = 16
    public var timeoutMs = LimitSetting(default: 10_000, max: 60_000)
    public var memoryMb = LimitSetting(default: 256, max: 1024)
    public var maxOutputBytes = LimitSetting(default: 1 << 20, max: 16 << 20)
    /// CPU time of all of a run's processes together.
    public var cpuTimeMs = LimitSetting(default: 10_000, max: 60_000)
    public var maxCodeBytes = 1 << 20
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

    public init() {}

    public var warmSandboxes: Int { warm ?? workers }

    /// Checks the settings against each other; the message names the option.
    public func validate() throws(ConfigurationError) {
        for (name, limit) in [("timeout-ms", timeoutMs), ("memory-mb", memoryMb), ("max-output-bytes", maxOutputBytes), ("cpu-time-ms", cpuTimeMs)] {
            if limit.default > limit.max {
                throw ConfigurationError(message: "--\(name): the default \(limit.default) is above the maximum \(limit.max)")
            }
        }
        if timeoutMs.default < 1 { throw ConfigurationError(message: "--timeout-ms: must be at least 1") }
        if cpuTimeMs.default < 1 { throw ConfigurationError(message: "--cpu-time-ms: must be at least 1") }
        if memoryMb.default < RunParams.minimumMemoryMb {
            throw ConfigurationError(message: "--memory-mb: must be at least \(RunParams.minimumMemoryMb)")
        }
        if workers < 1 { throw ConfigurationError(message: "--workers: must be at least 1") }
        if warmSandboxes < 0 { throw ConfigurationError(message: "--warm: must not be negative") }
        if queueCapacity < 0 { throw ConfigurationError(message: "--queue: must not be negative") }
        if maxInFlight < 1 { throw ConfigurationError(message: "--max-in-flight: must be at least 1") }
        if maxConnections < 1 { throw ConfigurationError(message: "--max-connections: must be at least 1") }
        if maxConnectionsPerAddress < 1 { throw ConfigurationError(message: "--max-connections-per-address: must be at least 1") }
        if runsPerMinute < 1 { throw ConfigurationError(message: "--runs-per-minute: must be at least 1") }
        if idleTimeout <= .zero { throw ConfigurationError(message: "--idle-timeout: must be positive") }
        if access.tokens.contains(where: \.isEmpty) { throw ConfigurationError(message: "--token: a token must not be empty") }
        if maxMessageBytes < maxCodeBytes {
            throw ConfigurationError(message: "--max-message-bytes (\(maxMessageBytes)) must be at least --max-code-bytes (\(maxCodeBytes))")
        }
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
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
