/// A sandbox that stays alive between runs: each run (a cell) executes in
/// its interpreter's one `__main__`, so names, imports and `/tmp` files
/// persist from cell to cell. Same isolation as a run's sandbox. Between
/// cells its processes are stopped. Every cell ends with exactly one
/// verdict; the session ends once, with a `SandboxSessionEnd`.
public protocol SandboxSession: AnyObject, Sendable {
    var limits: SessionLimits { get }
    /// Waits until the interpreter is ready for its first cell; false if
    /// the session ended first.
    func ready() async -> Bool
    /// Starts `request` as the next cell. One at a time: throws while a
    /// cell runs, and once the session has ended. Its `limits` give the
    /// cell's wall clock, CPU time and output limit; memory is the session's.
    func start(_ request: RunRequest) throws(InvalidRunRequest) -> any SandboxRun
    /// How the session ended, once it has; a cell running then has its verdict first.
    func ended() async -> SandboxSessionEnd
    /// Ends the session; a running cell is killed (`cancelled`). Harmless after the end.
    func close()
}

/// How a session ended.
public enum SandboxSessionEnd: Sendable, Equatable {
    /// `close()`.
    case closed
    /// Its processes together reached its memory limit.
    case memoryLimit
    /// Its processes together used its lifetime CPU time.
    case cpuLimit
    /// Its interpreter ended by itself (`os._exit`, a signal); what happened.
    case crashed(String)
    /// A cell was interrupted (cancel, a limit) and did not stop within
    /// `SessionLimits.interruptGrace`, so the session was killed.
    case killed
    /// The sandbox failed, not the program.
    case failed(String)
}

/// What a session is launched with: limits over its whole life.
public struct SessionLimits: Sendable, Equatable {
    /// Memory of all its processes and `/tmp` files together.
    public var memoryBytes = 256 << 20
    /// CPU time of all its processes over its life.
    public var cpuTime: Duration = .seconds(600)
    /// How long an interrupted cell may take to stop before the session is killed.
    public var interruptGrace: Duration = .seconds(2)
    /// Forked from a fork server that has imported the `--preload` modules.
    public var usesPreload = true
    /// The package set every cell imports from; nil for none.
    public var packageLayer: PackageLayer?
    /// A cell that dies of a signal, reaches its wall-clock or CPU limit or
    /// the session's memory, or does not stop when interrupted, leaves the
    /// session as it was before it (a snapshot taken before each cell)
    /// instead of ending it.
    public var rollsBack = true

    public init() {}

    /// The launch limits of its sandbox: a run's defaults but for memory and CPU time.
    var runLimits: RunLimits {
        var limits = RunLimits()
        limits.memoryBytes = memoryBytes
        limits.cpuTime = cpuTime
        limits.usesPreload = usesPreload
        limits.packageLayer = packageLayer
        return limits
    }
}
