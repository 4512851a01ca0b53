import Foundation
import Logging
import SandboxProtocol

/// Settings of the sandbox as a whole; per-run limits live in `RunLimits`.
public struct SandboxOptions: Sendable {
    /// The C launcher; by default `pysandbox-launcher` beside the running
    /// executable, or `$PYSANDBOX_LAUNCHER`.
    public var launcherPath: String?
    /// An absolute interpreter path; by default the real binary behind `python3`.
    public var interpreterPath: String?
    /// Whether runs get their own cgroup when a usable hierarchy exists.
    public var cgroups: CgroupMode
    /// How each run gets its interpreter.
    public var isolation: Isolation
    /// Modules the fork servers import before forking runs (`.fork` only);
    /// nil: the installed ones among numpy, pandas and matplotlib.pyplot
    /// (`ScientificStack.defaultPreload`).
    public var preload: [String]?
    /// At most this many fork servers at once (`.fork`; nil: as many as
    /// sandboxes are alive at once). A run that finds none idle at the cap
    /// waits for one.
    public var maxForkServers: Int?
    /// At most this many sessions at once, each in a fork-server slot of
    /// its own (nil: no cap here; the service caps them).
    public var maxSessions: Int?

    public init(
        launcherPath: String? = nil, interpreterPath: String? = nil, cgroups: CgroupMode = .automatic,
        isolation: Isolation = .fork, preload: [String]? = nil
    ) {
        self.launcherPath = launcherPath
        self.interpreterPath = interpreterPath
        self.cgroups = cgroups
        self.isolation = isolation
        self.preload = preload
        maxForkServers = nil
        maxSessions = nil
    }
}

/// How each run gets its interpreter.
public enum Isolation: String, Sendable, CaseIterable {
    /// A fork of an interpreter that has already started (a fork server per
    /// worker slot), in namespaces of its own: a millisecond or two.
    case fork
    /// A new interpreter in a new sandbox, started by a launcher of its own.
    case exec
}

public enum CgroupMode: Sendable {
    /// Use cgroup v2 or the v1 memory and pids controllers: the service's own
    /// as root, a delegated one as an ordinary user.
    case automatic
    /// No cgroups: rlimits only.
    case rlimitsOnly
}

/// Why the sandbox cannot be used. The service refuses to start with this message.
public struct SandboxUnavailable: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// Runs Python code in fresh sandboxes: the `SandboxProvider` the service
/// uses. With `.fork` isolation each run is a fork of a fork server's
/// interpreter, inside a slot (`ForkServerSlots`); with `.exec`, each run
/// has a C launcher of its own. Create one with `prepare`, which checks
/// that this kernel can sandbox at all; there is no unsandboxed fallback.
/// Its slots and launchers run while `run()` does (a `Service`).
public struct Sandbox: SandboxProvider {
    public let interpreter: Interpreter
    public var cgroups: CgroupPlan { launchers.cgroups }
    public let isolation: Isolation
    /// What the fork servers import before forking runs.
    public let preload: [String]
    let launcherPath: String
    let command: LauncherCommand
    let logger: Logger
    let launchers: SandboxSupervisor
    /// The fork servers' slots, with `.fork`: those that preload nothing,
    /// and those that import `preload` (when there is any) for the runs
    /// that use it (`RunLimits.usesPreload`).
    let slots: ForkServerSlots?
    let preloadingSlots: ForkServerSlots?
    /// The sessions' slots, one per open session, kept apart so that idle
    /// sessions never take a slot a run could use: preloading, when there
    /// is anything to preload (a notebook's cells import the stack).
    let sessionSlots: ForkServerSlots?
    /// Slots of the same three kinds for runs and sessions that name a
    /// package set: their fork servers have its layer bound.
    let packageSlots: PackageSlotPools?
    /// The modules of the package sets the operator preloads, by layer key.
    private let preloadedSets = PreloadedSets()
    private let forkServerArguments: [String]
    private let preloadingForkServerArguments: [String]
    /// The top-level names of `preload`, each a whole word: a program that
    /// mentions one is forked from a fork server that has imported it.
    private let preloadNames: Set<String>

    init(
        interpreter: Interpreter, cgroups: CgroupPlan, scientific: ScientificStack, launcherPath: String,
        forkRunLibrary: String, options: SandboxOptions, logger: Logger
    ) {
        self.interpreter = interpreter
        self.launcherPath = launcherPath
        self.isolation = options.isolation
        preload = options.isolation == .fork ? options.preload ?? ScientificStack.defaultPreload(for: interpreter) : []
        preloadNames = Set(preload.map { String($0.prefix { $0 != "." }) })
        self.command = LauncherCommand(
            interpreter: interpreter, cgroups: cgroups, scientific: scientific,
            packagesNotice: PackagesNotice.prepare(interpreter: interpreter, logger: logger),
            pipShim: PipShim.prepare(logger: logger), preload: preload)
        self.logger = logger
        self.launchers = SandboxSupervisor(cgroups: cgroups, logger: logger)
        forkServerArguments = command.forkServerArguments(library: forkRunLibrary, limits: RunLimits(), preloading: false)
        preloadingForkServerArguments = command.forkServerArguments(library: forkRunLibrary, limits: RunLimits(), preloading: true)
        let makeSlots = { @Sendable (arguments: [String], maxSlots: Int?) in
            ForkServerSlots(launcher: launcherPath, arguments: arguments, cgroups: cgroups, maxSlots: maxSlots, logger: logger)
        }
        let fork = options.isolation == .fork
        slots = fork ? makeSlots(forkServerArguments, options.maxForkServers) : nil
        preloadingSlots = fork && !preload.isEmpty ? makeSlots(preloadingForkServerArguments, options.maxForkServers) : nil
        sessionSlots = fork
            ? makeSlots(preload.isEmpty ? forkServerArguments : preloadingForkServerArguments, options.maxSessions) : nil
        let command = self.command
        let preloadedSets = self.preloadedSets
        packageSlots = fork
            ? PackageSlotPools { layer, kind in
                var limits = RunLimits()
                limits.packageLayer = layer
                let arguments = command.forkServerArguments(
                    library: forkRunLibrary, limits: limits, preloading: kind != .plain, setModules: preloadedSets.modules(of: layer))
                return makeSlots(arguments, kind == .session ? options.maxSessions : options.maxForkServers)
            }
            : nil
    }

    public static func prepare(_ options: SandboxOptions = SandboxOptions(), logger: Logger = Logger(label: "pysandbox.sandbox")) async throws -> Sandbox {
        let launcher = try locateLauncher(options.launcherPath)
        let interpreter: Interpreter
        do {
            interpreter = try Interpreter.resolve(path: options.interpreterPath)
        } catch {
            throw SandboxUnavailable(description: "\(error)")
        }
        let cgroups = switch options.cgroups {
        case .automatic: CgroupDetector().detect()
        case .rlimitsOnly: CgroupPlan.unavailable(reason: "disabled by configuration")
        }
        let library = options.isolation == .fork ? try locateForkRunLibrary(beside: launcher) : ""
        let scientific = ScientificStack.prepare(interpreter: interpreter, logger: logger)
        let sandbox = Sandbox(
            interpreter: interpreter, cgroups: cgroups, scientific: scientific, launcherPath: launcher, forkRunLibrary: library,
            options: options, logger: logger)
        try await sandbox.selfTest()
        if !cgroups.isActive {
            logger.warning("runs get no cgroup, so some limits are weaker", metadata: [
                "reason": "\(cgroups.summary)",
                "weaker": "\(CgroupPlan.limitsWithoutCgroups.joined(separator: "; "))",
            ])
        }
        logger.info("sandbox ready", metadata: [
            "python": "\(interpreter.executable) \(interpreter.version)",
            "isolation": "\(options.isolation.rawValue)",
            "preload": "\(sandbox.preload.joined(separator: ","))",
            "cgroups": "\(sandbox.cgroups.summary)",
        ])
        return sandbox
    }

    /// Launches a sandbox that loads its interpreter and then waits for its
    /// program (`SandboxRun.start`): a warm sandbox. `limits` fixes what the
    /// launcher enforces; the wall timeout and output limit come with the
    /// program. The launcher starts once `run()` is running.
    public func launch(limits: RunLimits) throws -> any SandboxRun {
        let run = makeRun(limits: limits)
        guard launchers.submit(run) else {
            run.abandon("the sandbox has shut down")
            throw SandboxUnavailable(description: "the sandbox has shut down; it launches no more runs")
        }
        return run
    }

    /// Supervises the launchers until graceful shutdown or cancellation
    /// (cancelled runs are killed), waits until the last has been reaped,
    /// and removes the cgroup parents of this process.
    public func run() async {
        let pools = [slots, preloadingSlots, sessionSlots].compactMap { $0 }
        // No preloading fork server is started ahead here: the service's warm
        // pool of preloaded sandboxes starts one at once (a second started
        // here as well would cost 70 MB and a second of CPU at every start).
        await withDiscardingTaskGroup { [packageSlots] group in
            for pool in pools { group.addTask { await pool.run() } }
            if let packageSlots { group.addTask { await packageSlots.run() } }
            await launchers.run()
            pools.forEach { $0.close() }
            packageSlots?.close()
        }
        cgroups.releaseParents(logger: logger)
    }

    public var offersSessions: Bool { sessionSlots != nil }

    /// Makes the fork servers of `layer` import its modules before they
    /// fork runs (`--preload-packages`), from their next start on: a run
    /// naming the set then imports it at no cost. Only with `.fork`.
    public func preloadPackages(_ layer: PackageLayer) {
        preloadedSets.add(layer)
    }

    /// Opens a session: a sandbox forked for it that runs its cells until it
    /// ends. It starts once `run()` is running; `ready()` says when it can
    /// take its first cell (cells started before then wait).
    public func openSession(limits: SessionLimits) throws -> any SandboxSession {
        guard let sessionSlots else {
            throw SandboxUnavailable(description: "sessions need fork isolation (--isolation fork)")
        }
        var launchLimits = limits.runLimits
        launchLimits.usesPreload = !preload.isEmpty
        var slots = sessionSlots
        if let layer = limits.packageLayer {
            // Without the preload when the set has its own version of a preloaded module.
            let kind: PackageSlotPools.Kind = layer.shadows(anyOf: preloadNames) ? .plain : .session
            guard let layerSlots = packageSlots?.slots(for: layer, kind: kind) else {
                throw SandboxUnavailable(description: "the sandbox has shut down; it opens no more sessions")
            }
            slots = layerSlots
        }
        let session = ForkServerSession(
            slots: slots, limitArguments: command.limitArguments(for: launchLimits), limits: limits, logger: logger)
        guard launchers.submit(session) else {
            session.abandon("the sandbox has shut down")
            throw SandboxUnavailable(description: "the sandbox has shut down; it opens no more sessions")
        }
        return session
    }

    /// Whether the program or one of its text files names a preloaded
    /// module (`import numpy`, `from pandas import …`, even in a comment):
    /// a cheap, generous test. A program that imports one in a way it
    /// misses (`__import__("num" + "py")`) imports it itself, correctly.
    public func wantsPreload(_ request: RunRequest) -> Bool {
        guard preloadingSlots != nil else { return false }
        let sources = [Array(request.code.utf8)] + request.files.filter { $0.key.hasSuffix(".py") }.map(\.value)
        return sources.contains { Self.mentions(preloadNames, in: $0) }
    }

    /// Whether any of `names` occurs in `source` as a whole identifier.
    static func mentions(_ names: Set<String>, in source: [UInt8]) -> Bool {
        func isIdentifier(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "_") || (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A) || byte >= 0x80
        }
        let lengths = Set(names.map(\.utf8.count))  // a word of another length is no name: no String for it
        var start = 0
        while start < source.count {
            while start < source.count && !isIdentifier(source[start]) { start += 1 }
            var end = start
            while end < source.count && isIdentifier(source[end]) { end += 1 }
            if lengths.contains(end - start), names.contains(String(decoding: source[start..<end], as: UTF8.self)) { return true }
            start = end
        }
        return false
    }

    public var pythonVersion: String { interpreter.version }

    public var cgroupsActive: Bool { cgroups.isActive }

    private func makeRun(limits: RunLimits, slots: ForkServerSlots? = nil) -> OneOffRun {
        let start: RunStart
        if let slots = slots ?? self.slots(for: limits) {
            start = .forkServer(slots, limitArguments: command.limitArguments(for: limits))
        } else {
            start = .launcher(path: launcherPath, arguments: command.arguments(for: limits))
        }
        return OneOffRun(start: start, limits: limits, logger: logger)
    }

    /// The fork servers a run with these limits forks from; nil with `.exec`
    /// (or once shut down, for a package set: the launcher then starts it).
    private func slots(for limits: RunLimits) -> ForkServerSlots? {
        guard let layer = limits.packageLayer else {
            return limits.usesPreload ? preloadingSlots ?? slots : slots
        }
        // A set that holds its own version of a preloaded module runs without that preload.
        let preloading = limits.usesPreload && preloadingSlots != nil && !layer.shadows(anyOf: preloadNames)
        return packageSlots?.slots(for: layer, kind: preloading ? .preloading : .plain)
    }

    /// `libpysandbox-fork-run.so` beside the launcher, or beside the running
    /// executable (a launcher wrapped in a script), or `$PYSANDBOX_FORK_RUN_LIBRARY`.
    private static func locateForkRunLibrary(beside launcher: String) throws -> String {
        let name = "libpysandbox-fork-run.so"
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let candidates = ProcessInfo.processInfo.environment["PYSANDBOX_FORK_RUN_LIBRARY"].map { [$0] }
            ?? [launcher, executable].map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent(name).path }
        guard let found = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }) else {
            throw SandboxUnavailable(description: "\(name) not found at \(candidates.joined(separator: ", ")): build every product in this configuration (`swift build -c release` beside a release sandboxd, as scripts/setup does; it is the pysandbox-fork-run product), set PYSANDBOX_FORK_RUN_LIBRARY, or use --isolation exec")
        }
        return found
    }

    /// Runs `print` of the interpreter's version in a real sandbox: every
    /// setup step must work. Supervised here, before `run()` is running.
    /// With fork servers, once in each kind: a preloaded module that fails
    /// to import stops the start here.
    private func selfTest() async throws {
        switch isolation {
        case .exec: try await selfTest(forkServerArguments: nil)
        case .fork:
            try await selfTest(forkServerArguments: forkServerArguments)
            if preloadingSlots != nil { try await selfTest(forkServerArguments: preloadingForkServerArguments) }
        }
    }

    private func selfTest(forkServerArguments arguments: [String]?) async throws {
        let request = RunRequest(code: "import sys; print(sys.version_info[0])")
        try request.validate()
        // A fork server of its own, ended after the test: the service's start with run().
        let testSlots = arguments.map {
            ForkServerSlots(launcher: launcherPath, arguments: $0, cgroups: cgroups, maxSlots: 1, logger: logger)
        }
        async let slotsWatched: Void = testSlots?.run() ?? ()
        let run = makeRun(limits: request.limits, slots: testSlots)
        var output: [UInt8] = []
        var verdict = Verdict(status: .internalError, message: "the self-test's program was refused")
        do {
            try run.start(request)
            async let supervised: Void = launchers.supervise(run)
            for await item in run.output { output += item.text?.bytes ?? [] }
            verdict = await run.verdict()
            await supervised
        } catch {
            verdict.message = "the self-test's program was refused: \(error)"
        }
        testSlots?.close()  // on every path: its watch ends only when the slot does
        await slotsWatched
        guard verdict.status == .ok, String(decoding: output, as: UTF8.self) == "3\n" else {
            throw SandboxUnavailable(description: "the sandbox does not work on this machine: "
                + (verdict.message ?? "status \(verdict.status.rawValue), output \(String(decoding: output, as: UTF8.self).debugDescription)"))
        }
    }

    private static func locateLauncher(_ configured: String?) throws -> String {
        let candidates: [String]
        if let configured {
            candidates = [configured]
        } else if let fromEnvironment = ProcessInfo.processInfo.environment["PYSANDBOX_LAUNCHER"] {
            candidates = [fromEnvironment]
        } else {
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            candidates = [URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("pysandbox-launcher").path]
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SandboxUnavailable(description: "pysandbox-launcher not found at \(candidates.joined(separator: ", ")); build every product in this configuration (`swift build -c release` beside a release sandboxd, as scripts/setup does) or set PYSANDBOX_LAUNCHER")
        }
        return found
    }
}
