/// Limits of one run. Defaults suit a classroom exercise; the service caps them.
public struct RunLimits: Sendable, Equatable {
    /// Wall-clock time from start to verdict.
    public var timeout: Duration = .seconds(10)
    /// CPU time of all the run's processes together; defaults to the wall timeout.
    public var cpuTime: Duration?
    /// Memory of the whole run (cgroup, swap off); also bounds the address space.
    public var memoryBytes: Int = 256 << 20
    /// stdout, stderr and displays together; the run ends with `outputLimit` past it.
    public var maxOutputBytes: Int = 1 << 20
    /// One display's MIME bundle, as JSON; the run ends with `outputLimit` past it.
    public var maxDisplayBytes: Int = 4 << 20
    /// The files `returnFiles` brings back, together.
    public var maxReturnBytes: Int = 8 << 20
    /// Size of the private tmpfs that is the working directory and /tmp; the
    /// run's /dev/shm (semaphores and shared memory) is another as large.
    public var workdirBytes: Int = 64 << 20
    /// Files and directories the working directory (and /dev/shm) can hold.
    public var workdirInodes: Int = 4096
    /// CPU bandwidth of the whole run, in cores, where a cgroup cpu controller
    /// exists: a run with many threads cannot take every core from the others.
    public var cpuCores: Double = 1
    /// Processes and threads of the run.
    public var maxProcesses: Int = 64
    /// Open file descriptors per process.
    public var maxOpenFiles: Int = 256
    /// Largest file a process may write.
    public var maxFileBytes: Int = 16 << 20
    /// Whether the run is forked from a fork server that has imported the
    /// `--preload` modules (`Sandbox.wantsPreload`). Not a limit but fixed
    /// at launch like one: such a fork costs several milliseconds more (the
    /// fork server's image is ten times larger), so only runs that import
    /// those modules take one.
    public var usesPreload = false
    /// The package set the run imports from (`PackageStore.lease`), bound
    /// read-only at `PackageLayer.inside`; nil for none. Fixed at launch:
    /// a fork server has it bound, or not.
    public var packageLayer: PackageLayer?

    public init() {}

    /// Whether a run with these limits may use a sandbox launched with
    /// `launched`: everything the launcher fixes must agree, the CPU limit
    /// included (equal, or both unset). The wall timeout and the output limit
    /// are the run's own.
    public func fits(launchedWith launched: RunLimits) -> Bool {
        memoryBytes == launched.memoryBytes && workdirBytes == launched.workdirBytes
            && workdirInodes == launched.workdirInodes && cpuCores == launched.cpuCores
            && maxProcesses == launched.maxProcesses && maxOpenFiles == launched.maxOpenFiles
            && maxFileBytes == launched.maxFileBytes && cpuTime == launched.cpuTime
            && usesPreload == launched.usesPreload && packageLayer?.key == launched.packageLayer?.key
    }

    /// The run-wide CPU limit the launcher enforces.
    var cpuTimeMilliseconds: Int {
        max(1, Int((cpuTime ?? timeout) / .milliseconds(1)))
    }
}

/// One program to run.
public struct RunRequest: Sendable, Equatable {
    /// How the program's stdin is fed.
    public enum Stdin: Sendable, Equatable {
        /// Closed at once: `input()` raises EOFError.
        case none
        /// These bytes, then end of file.
        case bytes([UInt8])
        /// Open until `SandboxRun.closeStdin()` or the end of the run.
        case interactive
    }

    /// Python source, run as `__main__` from `main.py` in the working directory.
    public var code: String
    public var stdin: Stdin
    /// Extra files for the working directory: relative path to content.
    public var files: [String: [UInt8]]
    /// Glob patterns (`*`, `?`, `[…]`, `**`) relative to the working
    /// directory: the regular files they match when the program ends come
    /// back in the verdict.
    public var returnFiles: [String]
    public var limits: RunLimits
    /// Whoever runs it answers the program's `pip install`
    /// (`SandboxRun.packageRequests`); else the sandbox's pip says that
    /// packages are named with the run instead.
    public var answersPip = false
    /// What `code` is: a program, or one of the service's helpers, which a
    /// session runs with its names and working folder and without using up
    /// a cell number.
    public var kind = Kind.program

    public enum Kind: String, Sendable, Equatable {
        case program
        /// The editor's helper (`AssistProgram`).
        case assist
        /// The files API's helper (`SessionFilesProgram`).
        case files
        /// `SessionStateProgram` copying the session's state out (`session/fork`).
        case capture
        /// `SessionStateProgram` taking a copied state in: the session changed, and a new snapshot is taken.
        case restore
    }

    public init(
        code: String, stdin: Stdin = .none, files: [String: [UInt8]] = [:], returnFiles: [String] = [],
        limits: RunLimits = RunLimits()
    ) {
        self.code = code
        self.stdin = stdin
        self.files = files
        self.returnFiles = returnFiles
        self.limits = limits
    }

    /// At most this many `returnFiles` patterns, and files brought back.
    public static let maxReturnPatterns = 64
    public static let maxReturnedFiles = 1000
}

/// Why a request cannot run; the message says what was wrong.
public struct InvalidRunRequest: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

extension RunRequest {
    /// Rejects file names that would leave the working directory or confuse the kernel.
    public func validate() throws(InvalidRunRequest) {
        for path in files.keys.sorted() {
            if path.isEmpty || path.hasPrefix("/") {
                throw InvalidRunRequest(message: "files: '\(path)' must be a relative path")
            }
            if path.utf8.contains(0) {
                throw InvalidRunRequest(message: "files: a path contains a NUL byte")
            }
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) {
                throw InvalidRunRequest(message: "files: '\(path)' must not contain '..', '.' or empty segments")
            }
            if path == "main.py" || path.hasPrefix("main.py/") {
                throw InvalidRunRequest(message: "files: 'main.py' is reserved for the code")
            }
        }
        if returnFiles.count > Self.maxReturnPatterns {
            throw InvalidRunRequest(message: "returnFiles: \(returnFiles.count) patterns, the limit is \(Self.maxReturnPatterns)")
        }
        for pattern in returnFiles {
            if pattern.isEmpty || pattern.hasPrefix("/") {
                throw InvalidRunRequest(message: "returnFiles: '\(pattern)' must be a relative pattern")
            }
            if pattern.utf8.contains(0) {
                throw InvalidRunRequest(message: "returnFiles: a pattern contains a NUL byte")
            }
            if pattern.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
                throw InvalidRunRequest(message: "returnFiles: '\(pattern)' must not contain '..'")
            }
        }
    }
}
