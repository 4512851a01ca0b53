/// The launcher's command line. Everything but the limits is the same for
/// every run, so it is worked out once, not on each run's path.
struct LauncherCommand: Sendable {
    private let fixedArguments: [String]
    private let interpreterArguments: [String]
    private let forkServerInterpreterArguments: [String]
    private let preloadingForkServerInterpreterArguments: [String]
    private let cgroupsActive: Bool
    private let python: [String]
    private let sitePackages: [String]
    private let fontCacheInside: String?
    private let preload: [String]

    static let workdir = "/tmp"

    /// The whole environment of a run: nothing from the service's.
    static let environment = [
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "HOME=\(workdir)",
        "TMPDIR=\(workdir)",
        "LANG=C.UTF-8",
        "USER=sandbox",
        "LOGNAME=sandbox",
        // pip's stand-in and the run's packages for any Python the program
        // starts (the run's own interpreter is isolated, -I, and sets its path itself).
        "PYTHONPATH=\(PipShim.inside):\(PackageLayer.inside)",
        // glibc gives each thread a 64 MiB malloc arena, which would exhaust RLIMIT_AS.
        "MALLOC_ARENA_MAX=2",
        // One BLAS/OpenMP thread: a run's CPU share is one core, and a fork
        // server must stay single-threaded to fork safely.
        "OPENBLAS_NUM_THREADS=1",
        "OMP_NUM_THREADS=1",
        "MKL_NUM_THREADS=1",
        // Figures go to the client as displays (Bootstrap); matplotlib's
        // config directory must be writable, so it is in the run's /tmp.
        "MPLBACKEND=module://pysandbox_inline",
        "MPLCONFIGDIR=\(workdir)/.config/matplotlib",
    ]

    init(
        interpreter: Interpreter, cgroups: CgroupPlan, scientific: ScientificStack = ScientificStack(),
        packagesNotice: PackagesNotice? = nil, pipShim: PipShim? = nil, preload: [String] = []
    ) {
        var arguments: [String] = []
        for path in interpreter.readOnlyBinds { arguments += ["--ro-bind", path] }
        // The service's own files are copied in, not bound: a bind's root in
        // /proc/self/mountinfo would name the service's cache folder.
        if let fontCache = scientific.fontCache {
            arguments += ["--ro-copy-to", "\(fontCache):\(ScientificStack.fontCacheInside)"]
        }
        // After the interpreter's own binds, which hold the file it covers.
        if let packagesNotice {
            arguments += ["--ro-copy-to", "\(packagesNotice.marker):\(packagesNotice.inside)"]
        }
        for file in pipShim?.files ?? [] { arguments += ["--ro-copy-to", "\(file.host):\(file.inside)"] }
        for link in interpreter.symlinks { arguments += ["--symlink", "\(link.target):\(link.link)"] }
        for variable in Self.environment { arguments += ["--env", variable] }
        arguments += ["--workdir", Self.workdir]
        arguments += cgroups.launcherArguments
        fixedArguments = arguments
        // -S: no `site`; the bootstrap does what programs notice of it, in a tenth of the time.
        let python = ["--", interpreter.executable, "-I", "-S", "-u", "-B", "-X", "utf8", "-c"]
        let fontCache = scientific.fontCache.map { _ in ScientificStack.fontCacheInside }
        interpreterArguments = python + Bootstrap.arguments(sitePackages: interpreter.sitePackages, fontCache: fontCache)
        forkServerInterpreterArguments = python
            + Bootstrap.forkServerArguments(sitePackages: interpreter.sitePackages, fontCache: fontCache, preload: [])
        preloadingForkServerInterpreterArguments = python
            + Bootstrap.forkServerArguments(sitePackages: interpreter.sitePackages, fontCache: fontCache, preload: preload)
        cgroupsActive = cgroups.isActive
        self.python = python
        sitePackages = interpreter.sitePackages
        fontCacheInside = fontCache
        self.preload = preload
    }

    /// A fork-server slot: the limits of its cgroup while the fork server
    /// starts (generous: each run sets its own), the library, the bootstrap,
    /// which imports the `--preload` modules when `preloading`.
    /// `setModules`: a preloaded package set's modules, imported too.
    func forkServerArguments(library: String, limits: RunLimits, preloading: Bool, setModules: [String] = []) -> [String] {
        var slotLimits = limits
        slotLimits.memoryBytes += 1 << 30
        let interpreter = setModules.isEmpty
            ? (preloading ? preloadingForkServerInterpreterArguments : forkServerInterpreterArguments)
            : python + Bootstrap.forkServerArguments(
                sitePackages: sitePackages, fontCache: fontCacheInside, preload: preloading ? preload : [], setModules: setModules)
        return fixedArguments + Self.packageArguments(limits.packageLayer) + ["--fork-server", "--fork-run-library", library]
            + limitArguments(for: slotLimits) + interpreter
    }

    func arguments(for limits: RunLimits) -> [String] {
        fixedArguments + Self.packageArguments(limits.packageLayer) + limitArguments(for: limits) + interpreterArguments
    }

    /// A package set, bound read-only (nosuid, nodev) where the bootstrap
    /// looks for one. A bind, not a copy: a layer may be gigabytes, and its
    /// path names only the store's own content-addressed folder.
    private static func packageArguments(_ layer: PackageLayer?) -> [String] {
        guard let layer else { return [] }
        return ["--ro-bind-to", "\(layer.sitePackages):\(PackageLayer.inside)"]
    }

    /// The options that may change from run to run: all a fork-server run sends.
    func limitArguments(for limits: RunLimits) -> [String] {
        // The address-space limit only catches single huge allocations and
        // leaves room for thread stacks (8 MiB of address space each): the
        // run's memory is bounded by its cgroup or, without one, by the
        // launcher's watch, which this limit keeps a process from outrunning
        // by more than 256 MiB between two checks.
        let addressSpace = limits.memoryBytes + (cgroupsActive ? 1 << 30 : 256 << 20)
        let limitArguments = [
            "--workdir-bytes", "\(limits.workdirBytes)",
            "--workdir-inodes", "\(limits.workdirInodes)",
            "--cpu-time-ms", "\(limits.cpuTimeMilliseconds)",
            "--address-space", "\(addressSpace)",
            "--file-size", "\(limits.maxFileBytes)",
            "--open-files", "\(limits.maxOpenFiles)",
            "--processes", "\(limits.maxProcesses)",
            "--memory-bytes", "\(limits.memoryBytes)",
            "--pids", "\(limits.maxProcesses)",
            "--cpu-millicores", "\(max(1, Int(limits.cpuCores * 1000)))",
        ]
        return limitArguments
    }
}
