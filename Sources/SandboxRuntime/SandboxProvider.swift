import SandboxProtocol
import ServiceLifecycle

/// Where the service gets its sandboxes: the seam between the server (its
/// warm pool and executor) and a sandbox implementation. `Sandbox`, which
/// starts the C launcher for a fresh sandbox per run, is one; a fork server
/// can be another; unit tests of the server use a fake.
///
/// A provider is a `Service`: its sandboxes live in tasks that `run()` owns.
/// It runs for the service's life and is shut down last; after graceful
/// shutdown it launches nothing new, and it returns once every sandbox it
/// launched has ended and been cleaned up. Cancelling it kills them.
public protocol SandboxProvider: Service {
    /// The interpreter's version, as `initialize` reports it.
    var pythonVersion: String { get }
    /// Whether each run gets a cgroup of its own (`capabilities.cgroups`).
    var cgroupsActive: Bool { get }
    /// The modules some runs' interpreters have imported before the run
    /// (`RunLimits.usesPreload`); empty when none are.
    var preload: [String] { get }
    /// Whether `request` should run with `RunLimits.usesPreload`.
    func wantsPreload(_ request: RunRequest) -> Bool
    /// Launches a sandbox that loads its interpreter and then waits for its
    /// program (`SandboxRun.start`). `limits` fixes what the sandbox
    /// enforces; the wall timeout and output limit come with the program.
    func launch(limits: RunLimits) throws -> any SandboxRun
    /// Whether `openSession` can work (`Isolation.fork`).
    var offersSessions: Bool { get }
    /// Opens a session (`SandboxSession`) with these limits over its life.
    func openSession(limits: SessionLimits) throws -> any SandboxSession
    /// Makes the sandboxes of runs naming `layer`'s set start with its
    /// modules imported, where the provider can (`--preload-packages`).
    func preloadPackages(_ layer: PackageLayer)
}

extension SandboxProvider {
    /// A provider that preloads nothing.
    public func preloadPackages(_ layer: PackageLayer) {}
}

/// One sandbox and the one program it runs. It loads its interpreter ahead
/// of demand; `start` hands it the program, and the wall clock starts there.
/// `output` carries stdout, stderr and displays as they are produced and finishes
/// before `verdict()` returns. Every sandbox ends with exactly one verdict,
/// also when nobody reads its output or it never gets a program.
public protocol SandboxRun: AnyObject, Sendable {
    var output: AsyncStream<RunOutput> { get }
    /// The limits the sandbox was launched with; see `RunLimits.fits(launchedWith:)`.
    var limits: RunLimits { get }
    /// Waits until the interpreter is loaded and waiting for its program;
    /// false if the sandbox ended before that.
    func ready() async -> Bool
    /// Hands the sandbox its program. A sandbox runs one program only.
    func start(_ request: RunRequest) throws(InvalidRunRequest)
    /// The verdict, once the run has ended and its output has been delivered.
    func verdict() async -> Verdict
    /// Ends the run with `cancelled`; harmless after the end. Also discards
    /// a sandbox that never got a program.
    func cancel()
    /// Sends bytes to the program's stdin (interactive runs).
    func writeStdin(_ bytes: [UInt8])
    /// Closes the program's stdin: `input()` then raises EOFError.
    func closeStdin()
    /// The program's `pip install`s, in order, until the run ends; each
    /// waits for its answer (`PackagesWanted.answer`).
    var packageRequests: AsyncStream<PackagesWanted> { get }
}

extension SandboxRun {
    /// A sandbox that serves no `pip install` (the program is told so by its pip).
    public var packageRequests: AsyncStream<PackagesWanted> { AsyncStream { $0.finish() } }
}

extension SandboxProvider {
    /// Launches a sandbox and starts `request` in it at once (forked from a
    /// preloading fork server if it wants one). Its output streams from
    /// `SandboxRun.output`; its verdict comes from `SandboxRun.verdict()`.
    public func start(_ request: RunRequest) throws -> any SandboxRun {
        try request.validate()
        var request = request
        if wantsPreload(request) { request.limits.usesPreload = true }
        let run = try launch(limits: request.limits)
        try run.start(request)
        return run
    }
}

extension SandboxProvider {
    /// Runs `body` while this provider runs outside a `ServiceGroup` (tools
    /// and tests), then stops it: sandboxes still running are killed, and
    /// this returns once every one has been reaped.
    public func whileRunning<T: Sendable>(_ body: @Sendable (Self) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.run()
                return nil
            }
            let value = try await body(self)
            group.cancelAll()
            try await group.waitForAll()
            return value
        }
    }
}
