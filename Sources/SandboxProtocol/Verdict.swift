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
    /// Bytes of the run's displays (their MIME bundles as JSON), which count
    /// toward the output limit with stdout and stderr.
    public var displayBytes: Int
    /// Output was cut at the output limit.
    public var truncated: Bool
    /// With `returnFiles`: the files that came back, and those that did not, with why.
    public var files: [ReturnedFile]?
    public var omittedFiles: [OmittedFile]?
    /// For `internalError`: what failed, with the launcher's step and errno.
    public var message: String?
    /// A session's run that was rolled back: the session is as it was before
    /// it (`session/open`'s `onFailure`); sent only when true.
    public var rolledBack = false

    public init(
        status: RunStatus, limit: TimeLimit? = nil, exitCode: Int? = nil, signal: Int? = nil, wallMs: Int = 0, cpuMs: Int = 0,
        maxRssKb: Int = 0, peakMemoryKb: Int? = nil, stdoutBytes: Int = 0, stderrBytes: Int = 0, displayBytes: Int = 0,
        truncated: Bool = false, files: [ReturnedFile]? = nil, omittedFiles: [OmittedFile]? = nil, message: String? = nil
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
        self.displayBytes = displayBytes
        self.truncated = truncated
        self.files = files
        self.omittedFiles = omittedFiles
        self.message = message
    }

    private enum CodingKeys: String, CodingKey {
        case status, limit, exitCode, signal, wallMs, cpuMs, maxRssKb, peakMemoryKb, stdoutBytes, stderrBytes, displayBytes, truncated, files, omittedFiles
        case message, rolledBack
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(RunStatus.self, forKey: .status)
        limit = try container.decodeIfPresent(TimeLimit.self, forKey: .limit)
        exitCode = try container.decodeIfPresent(Int.self, forKey: .exitCode)
        signal = try container.decodeIfPresent(Int.self, forKey: .signal)
        wallMs = try container.decode(Int.self, forKey: .wallMs)
        cpuMs = try container.decode(Int.self, forKey: .cpuMs)
        maxRssKb = try container.decode(Int.self, forKey: .maxRssKb)
        peakMemoryKb = try container.decodeIfPresent(Int.self, forKey: .peakMemoryKb)
        stdoutBytes = try container.decode(Int.self, forKey: .stdoutBytes)
        stderrBytes = try container.decode(Int.self, forKey: .stderrBytes)
        // Absent from servers before 0.7.0.
        displayBytes = try container.decodeIfPresent(Int.self, forKey: .displayBytes) ?? 0
        truncated = try container.decode(Bool.self, forKey: .truncated)
        files = try container.decodeIfPresent([ReturnedFile].self, forKey: .files)
        omittedFiles = try container.decodeIfPresent([OmittedFile].self, forKey: .omittedFiles)
        message = try container.decodeIfPresent(String.self, forKey: .message)
        rolledBack = try container.decodeIfPresent(Bool.self, forKey: .rolledBack) ?? false
    }

    /// Absent values are written as null (the schema lists them all), except
    /// `message`, which only `internalError` has, and the files, which only
    /// a run that asked for some has.
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
        try container.encode(displayBytes, forKey: .displayBytes)
        try container.encode(truncated, forKey: .truncated)
        try container.encodeIfPresent(files, forKey: .files)
        try container.encodeIfPresent(omittedFiles, forKey: .omittedFiles)
        try container.encodeIfPresent(message, forKey: .message)
        if rolledBack { try container.encode(true, forKey: .rolledBack) }
    }
}

/// A file of the working directory sent back after the run (`returnFiles`).
public struct ReturnedFile: Sendable, Equatable, Codable {
    /// Relative to the working directory.
    public var path: String
    public var content: [UInt8]

    public init(path: String, content: [UInt8]) {
        self.path = path
        self.content = content
    }

    private enum CodingKeys: String, CodingKey { case path, size, base64 }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        let encoded = try container.decode(String.self, forKey: .base64)
        guard let content = Base64.decode(encoded) else {
            throw DecodingError.dataCorruptedError(forKey: .base64, in: container, debugDescription: "not valid base64")
        }
        self.content = content
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(content.count, forKey: .size)
        try container.encode(Base64.encode(content), forKey: .base64)
    }
}

/// A match of `returnFiles` that did not come back, or a pattern that matched nothing.
public struct OmittedFile: Sendable, Hashable, Codable {
    public enum Reason: String, Sendable, Codable {
        /// The pattern matched no file (`path` is the pattern).
        case noMatch
        /// A symbolic link: never followed.
        case symlink
        /// A directory, FIFO, socket or device.
        case notRegularFile
        /// Returning it would pass `limits.maxReturnBytes` (or the count limit).
        case overLimit
        /// The program did not end by itself (a limit, a signal, `os._exit`),
        /// so the files were never collected (`path` is the pattern).
        case notCollected
        /// It could not be read.
        case unreadable
        /// Its name is not UTF-8 (0.10.0): `path` shows each byte that is
        /// not as `\\xNN`; the other files still come back.
        case nameNotUTF8
    }

    public var path: String
    public var reason: Reason

    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }
}
