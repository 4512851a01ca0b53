import Foundation
import Logging

/// Where runs get their cgroups. The service prepares one parent directory
/// per service instance (`pysandbox-<pid>`); the launcher creates a child per run.
/// As root the service uses its own cgroup; as an ordinary user, a cgroup
/// delegated to it (its own, with systemd's `Delegate=yes`, or on cgroup v1 a
/// `pysandbox` directory an administrator gave it in each hierarchy).
public enum CgroupPlan: Sendable, Equatable {
    case unavailable(reason: String)
    case v2(parent: String, cpu: Bool)
    /// The cpu controller is optional: without it runs get no CPU bandwidth
    /// cap. Without cpuacct, init's count of the CPU time it reaped stands in.
    case v1(memoryParent: String, pidsParent: String, cpuParent: String?, cpuacctParent: String?)

    /// The v1 controllers a run's cgroup has; memory and pids are required.
    static let v1Controllers = ["memory", "pids", "cpu", "cpuacct"]

    var launcherArguments: [String] {
        switch self {
        case .unavailable: []
        case .v2(let parent, _): ["--cgroup2", parent]
        case .v1(let memory, let pids, let cpu, let cpuacct):
            ["--cgroup1-memory", memory, "--cgroup1-pids", pids] + (cpu.map { ["--cgroup1-cpu", $0] } ?? [])
                + (cpuacct.map { ["--cgroup1-cpuacct", $0] } ?? [])
        }
    }

    /// What holds, and how, when runs get no cgroup: the service says so at start and in `initialize`.
    public static let limitsWithoutCgroups = [
        "memory: each process's address space, and the run's total (anonymous and shared memory plus its files) checked every 10 ms rather than enforced by the kernel; kernel buffers (pipes, sockets) are not counted",
        "CPU bandwidth: no per-run cap, a run may use every core (its CPU time limit still holds for all its processes together)",
        "processes: RLIMIT_NPROC per run instead of a pids cgroup",
        "peak memory: not reported",
        "SIGCHLD: a program may not change its disposition (the run's CPU time is counted by reaping)",
    ]

    public var isActive: Bool {
        if case .unavailable = self { return false }
        return true
    }

    /// Whether runs get a CPU bandwidth cap (`RunLimits.cpuCores`).
    public var limitsCPU: Bool {
        switch self {
        case .unavailable: false
        case .v2(_, let cpu): cpu
        case .v1(_, _, let cpu, _): cpu != nil
        }
    }

    /// The parent directories this service made.
    var parents: [String] {
        switch self {
        case .unavailable: []
        case .v2(let parent, _): [parent]
        case .v1(let memory, let pids, let cpu, let cpuacct):
            // cpu and cpuacct share a directory where they are mounted together.
            [memory, pids, cpu, cpuacct == cpu ? nil : cpuacct].compactMap { $0 }
        }
    }

    public var summary: String {
        switch self {
        case .unavailable(let reason): "no cgroup limits (\(reason)); rlimits still apply"
        case .v2(let parent, let cpu): "cgroup v2 under \(parent)" + (cpu ? "" : " (no cpu controller)")
        case .v1(let memory, let pids, let cpu, let cpuacct):
            "cgroup v1 under \([memory, pids, cpu, cpuacct].compactMap { $0 }.joined(separator: ", "))"
        }
    }
}

/// Finds a cgroup hierarchy this process may use and prepares its parent directories.
struct CgroupDetector {
    var fileSystem = FileManager.default
    var processID = getpid()

    func detect() -> CgroupPlan {
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8),
              let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        else { return .unavailable(reason: "cannot read /proc/self/mountinfo or /proc/self/cgroup") }
        let table = CgroupMounts(mountinfo: mounts, membership: membership)
        if let root = table.v2Root, let plan = prepareV2(root: root, ownPath: table.v2Path ?? "/") {
            return plan
        }
        if let plan = prepareV1(table) {
            return plan
        }
        if geteuid() != 0 {
            return .unavailable(reason: "not running as root and no cgroup is delegated to this user (README: delegated cgroups)")
        }
        return .unavailable(reason: "no writable cgroup v2 with memory and pids, nor v1 memory and pids controllers")
    }

    /// The directory of each v1 controller where this service may make its
    /// parent: its own cgroup when it may write there (root, or a delegated
    /// one), else the `pysandbox` directory an administrator made for it.
    private func prepareV1(_ table: CgroupMounts) -> CgroupPlan? {
        var bases: [String: String] = [:]
        for controller in CgroupPlan.v1Controllers {
            guard let own = table.v1Directory(controller: controller) else { continue }
            let given = (table.v1Mounts[controller] ?? "") + "/pysandbox"
            bases[controller] = [own, given].first { access($0, W_OK) == 0 }
        }
        guard bases["memory"] != nil, bases["pids"] != nil else { return nil }
        let name = "pysandbox-\(processID)"
        for base in bases.values { sweepStaleParents(in: base) }
        func parent(_ controller: String) -> String? {
            bases[controller].map { $0 + "/" + name }.flatMap { makeDirectory($0) ? $0 : nil }
        }
        guard let memoryParent = parent("memory"), let pidsParent = parent("pids") else { return nil }
        return .v1(memoryParent: memoryParent, pidsParent: pidsParent, cpuParent: parent("cpu"), cpuacctParent: parent("cpuacct"))
    }

    /// cgroup v2 forbids processes in a cgroup that delegates controllers, so a
    /// service that is not in the root cgroup first moves itself into a leaf.
    private func prepareV2(root: String, ownPath: String) -> CgroupPlan? {
        let own = ownPath == "/" ? root : root + ownPath
        guard access(own + "/cgroup.subtree_control", W_OK) == 0,
              let text = try? String(contentsOfFile: own + "/cgroup.controllers", encoding: .utf8) else { return nil }
        let available = Set(text.split(whereSeparator: \.isWhitespace))
        guard available.contains("memory"), available.contains("pids") else { return nil }
        if ownPath != "/" {
            let leaf = own + "/service"
            guard makeDirectory(leaf), write("\(processID)", to: leaf + "/cgroup.procs") else { return nil }
        }
        // cpu is optional: with it each run gets a CPU bandwidth cap (cpu.max).
        let cpu = available.contains("cpu")
        let controllers = cpu ? "+memory +pids +cpu" : "+memory +pids"
        guard write(controllers, to: own + "/cgroup.subtree_control") else { return nil }
        sweepStaleParents(in: own)
        let parent = own + "/pysandbox-\(processID)"
        guard makeDirectory(parent), write(controllers, to: parent + "/cgroup.subtree_control") else { return nil }
        return .v2(parent: parent, cpu: cpu)
    }

    /// Removes parents left by services that died; their runs died with them.
    private func sweepStaleParents(in directory: String) {
        guard let names = try? fileSystem.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix("pysandbox-") {
            guard let owner = Int32(name.dropFirst("pysandbox-".count)), owner != processID,
                  kill(owner, 0) != 0, errno == ESRCH
            else { continue }
            let parent = directory + "/" + name
            for run in (try? fileSystem.contentsOfDirectory(atPath: parent)) ?? [] where run.hasPrefix("run-") {
                rmdir(parent + "/" + run)
            }
            rmdir(parent)
        }
    }

    private func makeDirectory(_ path: String) -> Bool {
        mkdir(path, 0o755) == 0 || errno == EEXIST
    }

    private func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Glibc.write(fd, $0, strlen($0)) } == text.utf8.count
    }
}

/// The cgroup mounts of /proc/self/mountinfo and this process's place in them.
struct CgroupMounts {
    var v2Root: String?
    var v2Path: String?
    var v1Mounts: [String: String] = [:]  // controller -> mount point
    var v1Paths: [String: String] = [:]   // controller -> this process's cgroup

    init(mountinfo: String, membership: String) {
        for line in mountinfo.split(separator: "\n") {
            // "... mountpoint options - fstype source superoptions"
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, let type = right.first else { continue }
            let mountPoint = String(left[4])
            if type == "cgroup2" {
                v2Root = v2Root ?? mountPoint
            } else if type == "cgroup", right.count >= 3 {
                for option in right[2].split(separator: ",") where CgroupPlan.v1Controllers.contains(String(option)) {
                    v1Mounts[String(option)] = mountPoint
                }
            }
        }
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                v2Path = String(fields[2])
            }
            for controller in fields[1].split(separator: ",") {
                v1Paths[String(controller)] = String(fields[2])
            }
        }
    }

    func v1Directory(controller: String) -> String? {
        guard let mount = v1Mounts[controller] else { return nil }
        let path = v1Paths[controller] ?? "/"
        return path == "/" ? mount : mount + path
    }
}
