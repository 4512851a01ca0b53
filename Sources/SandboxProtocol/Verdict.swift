/// How a run ended: exactly one per run. The runtime makes it; the
/// protocol sends it as `run`'s result (`RunResult`, with `queuedMs`).
public struct Verdict: Sendable, Equatable, Codable {
    public var status: RunStatus
    /// For `timeout`: the limit that was reached; nil otherwise.
    public var limit: TimeLimit?
    public var exitCode: Int?
    public var signal: Int?
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
        status: RunStatus, limit: TimeLimit? = nil, exitCode: Int? = nil, signal: Int? = nil, wallMs: Int = 0, cpuMs: Int = 0,
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

    private enum CodingKeys: String, CodingKey {
        case status, limit, exitCode, signal, wallMs, cpuMs, maxRssKb, peakMemoryKb, stdoutBytes, stderrBytes, truncated, message
    }

    /// Absent values are written as null (the schema lists them all), except
    /// `message`, which only `internalError` has.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(limit, forKey: .limit)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(signal, forKey: .signal)
        try container.encode(wallMs, forKey: .wallMs)
        try container.encode(cpuMs, forKey: .cpuMs)
        try container.encode(maxRssKb, forKey: .maxRssKb)
        try container.encode(peakMemoryKb, forKey: .peakMemoryKb)
        try container.encode(stdoutBytes, forKey: .stdoutBytes)
        try container.encode(stderrBytes, forKey: .stderrBytes)
        try container.encode(truncated, forKey: .truncated)
        try container.encodeIfPresent(message, forKey: .message)
    }
}
