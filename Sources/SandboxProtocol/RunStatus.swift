/// How a run ended: the verdict's `status` (PROTOCOL.md, "run"). The raw
/// values are the wire strings; the runtime's `Verdict` and the protocol's
/// `RunResult` both use this type.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    /// The program exited with status 0.
    case ok
    /// The program exited with a non-zero status.
    case error
    /// The wall-clock or CPU time limit was reached (`TimeLimit` says which).
    case timeout
    /// The memory limit was reached (the cgroup's OOM killer, or the launcher's check, ended the run).
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

/// Which time limit ended a `timeout` run: the verdict's `limit`.
public enum TimeLimit: String, Sendable, Codable, CaseIterable {
    /// The wall clock, from the program's start.
    case wall
    /// The CPU time of all the run's processes together.
    case cpu
}
