/// How a run ended. Exactly one per run.
public struct Verdict: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// The program exited with status 0.
        case ok
        /// The program exited with a non-zero status.
        case error
        /// The wall-clock or CPU time limit was reached.
        case timeout
        /// The memory limit was reached (the cgroup's OOM killer ended the run).
        case memoryLimit
        /// The program wrote more than the output limit.
        case outputLimit
        /// The program was killed by a signal (see `signal`).
        case killed
        /// The caller cancelled the run.
        case cancelled
        /// The sandbox itself failed; `message` says where.
        case internalError
    }

    /// Which time limit ended a `timeout` run.
    public enum Limit: String, Sendable, Codable, CaseIterable {
        /// The wall clock, from the program's start.
        case wall
        /// The CPU time of all the run's processes together.
        case cpu
    }

    public var status: Status
    /// For `timeout`: the limit that was reached; nil otherwise.
    public var limit: Limit?
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
        status: Status, limit: Limit? = nil, exitCode: Int32? = nil, signal: Int32? = nil, wallMs: Int = 0, cpuMs: Int = 0,
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
