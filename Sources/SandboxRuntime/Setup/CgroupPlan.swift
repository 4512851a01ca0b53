import Foundation
import Logging

/// Where runs get their cgroups. The service prepares one parent directory
/// per service instance (`pysandbox-<pid>`); the launcher creates a child per run.
public enum CgroupPlan: Sendable, Equatable {
    case unavailable(reason: String)
    case v2(parent: String, cpu: Bool)
    /// The cpu controller is optional: without it runs get no CPU bandwidth cap.
    case v1(memoryParent: String, pidsParent: String, cpuParent: String?)

    var launcherArguments: [String] {
        switch self {
        case .unavailable: []
        case .v2(let parent, _): ["--cgroup2", parent]
        case .v1(let memory, let pids, let cpu):
            ["--cgroup1-memory", memory, "--cgroup1-pids", pids] + (cpu.map { ["--cgroup1-cpu", $0] } ?? [])
        }
    }

    public var isActive: Bool {
        if case .unavailable = self { return false }
        return true
    }

    /// Whether runs get a CPU bandwidth cap (`RunLimits.cpuCores`).
    public var limitsCPU: Bool {
        switch self {
        case .unavailable: false
        case .v2(_, let cpu): cpu
        case .v1(_, _, let cpu): cpu != nil
        }
    }

    /// The parent directories this service made.
    var parents: [String] {
        switch self {
        case .unavailable: []
        case .v2(let parent, _): [parent]
        case .v1(let memory, let pids, let cpu): [memory, pids] + (cpu.map { [$0] } ?? [])
        }
    }

    public var summary: String {
        switch self {
        case .unavailable(let reason): "no cgroup limits (\(reason)); rlimits still apply"
        case .v2(let parent, let cpu): "cgroup v2 under \(parent)" + (cpu ? "" : " (no cpu controller)")
        case .v1(let memory, let pids, let cpu): "cgroup v1 under \([memory, pids, cpu].compactMap { $0 }.joined(separator: ", "))"
        }
    }
}

/// Finds a cgroup hierarchy this process may use and prepares its parent directories.
struct CgroupDetector {
    var fileSystem = FileManager.default
    var processID = getpid()

    func detect() -> CgroupPlan {
        guard geteuid() == 0 else {
            return .unavailable(reason: "not running as root; give the service a delegated cgroup")
        }
        guard let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8),
              let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        else { return .unavailable(reason: "cannot read /proc/self/mountinfo or /proc/self/cgroup") }
        let table = CgroupMounts(mountinfo: mounts, membership: membership)
        if let root = table.v2Root, let plan = prepareV2(root: root, ownPath: table.v2Path ?? "/") {
            return plan
        }
        if let memory = table.v1Directory(controller: "memory"), let pids = table.v1Directory(controller: "pids") {
            let name = "pysandbox-\(processID)"
            let cpu = table.v1Directory(controller: "cpu")
            for hierarchy in [memory, pids, cpu].compactMap({ $0 }) { sweepStaleParents(in: hierarchy) }
            let memoryParent = memory + "/" + name
            let pidsParent = pids + "/" + name
            let cpuParent = cpu.map { $0 + "/" + name }.flatMap { makeDirectory($0) ? $0 : nil }
            if makeDirectory(memoryParent), makeDirectory(pidsParent) {
                return .v1(memoryParent: memoryParent, pidsParent: pidsParent, cpuParent: cpuParent)
            }
        }
        return .unavailable(reason: "no writable cgroup v2 with memory and pids, nor v1 memory and pids controllers")
    }

    /// cgroup v2 forbids processes in a cgroup that delegates controllers, so a
    /// service that is not in the root cgroup first moves itself into a leaf.
    private func prepareV2(root: String, ownPath: String) -> CgroupPlan? {
        let own = ownPath == "/" ? root : root + ownPath
        guard let text = try? String(contentsOfFile: own + "/cgroup.controllers", encoding: .utf8) else { return nil }
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
                for option in right[2].split(separator: ",") where ["memory", "pids", "cpu"].contains(option) {
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
