import SandboxProtocol

/// How a run ended. Exactly one per run.
public struct Verdict: Sendable, Equatable, Codable {
    public var status: RunStatus
    /// For `timeout`: the limit that was reached; nil otherwise.
    public var limit: TimeLimit?
    public var exitCode: Int32?
    public var signal: Int32?
    public var wallMs: Int
    public var cpuMs: Int
    /// The largest resident set of any one process of the run.
    public var maxRssKb: Int
    /// The run's peak memory as its cgroup counted it (all processes, tmpfs
    /// files included); nil without a cgroup.
    public var peakMemoryKb: Int?
    public var stdoutBytes: Int
    public var stderrBytes: Int
    /// Output was cut at the output limit.
    public var truncated: Bool
    /// For `internalError`: what failed, with the launcher's step and errno.
    public var message: String?

    public init(
        status: RunStatus, limit: TimeLimit? = nil, exitCode: Int32? = nil, signal: Int32? = nil, wallMs: Int = 0, cpuMs: Int = 0,
        maxRssKb: Int = 0, peakMemoryKb: Int? = nil, stdoutBytes: Int = 0, stderrBytes: Int = 0, truncated: Bool = false,
        message: String? = nil
    ) {
        self.status = status
        self.limit = limit
        self.exitCode = exitCode
        self.signal = signal
        self.wallMs = wallMs
        self.cpuMs = cpuMs
        self.maxRssKb = maxRssKb
        self.peakMemoryKb = peakMemoryKb
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
        self.truncated = truncated
        self.message = message
    }
}

/// A piece of the program's output, in the order it was read.
public struct OutputChunk: Sendable, Equatable {
    public enum Stream: String, Sendable, Codable {
        case stdout
        case stderr
    }

    public var stream: Stream
    public var bytes: [UInt8]

    public init(stream: Stream, bytes: [UInt8]) {
        self.stream = stream
        self.bytes = bytes
    }
}
