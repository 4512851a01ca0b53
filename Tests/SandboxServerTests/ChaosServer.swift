import Foundation
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// sandboxd's open descriptors, threads and resident memory.
struct ServerResources: CustomStringConvertible {
    var openFiles: Int
    var threads: Int
    var residentKb: Int

    var description: String { "\(openFiles) fds, \(threads) threads, \(residentKb / 1024) MiB resident" }
}

/// The sandboxd executable, started for the soak, its log in a file.
final class ChaosServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let logPath: String
    var pid: pid_t { process.processIdentifier }

    private init(process: Process, port: Int, logPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
    }

    static func start(warm: Int) async throws -> ChaosServer {
        let logPath = NSTemporaryDirectory() + "pysandbox-chaos-\(getpid()).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ChildProcess.executable("sandboxd"))
        process.arguments = [
            "--port", "0", "--workers", "2", "--warm", "\(warm)", "--preload", "none",
            "--runs-per-minute", "100000", "--shutdown-grace", "5",
            // The soak counts the sandboxed interpreters left once runs end: a spare session would be one more.
            "--spare-sessions", "0",
        ]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try log.close()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"websocket=ws://127\.0\.0\.1:(\d+)/v1/ws"#, options: .regularExpression),
               let port = Int(text[range].split(separator: ":").last?.split(separator: "/").first ?? "") {
                return ChaosServer(process: process, port: port, logPath: logPath)
            }
            guard process.isRunning else { throw TestFailure("sandboxd exited: \(text)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TestFailure("sandboxd did not say where it listens")
    }

    func resources() -> ServerResources {
        let openFiles = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? -1
        }
        return ServerResources(openFiles: openFiles, threads: field("Threads"), residentKb: field("VmRSS"))
    }

    /// Where sandboxd keeps its runs' cgroups.
    func cgroupParents() -> [String] {
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        return ["/sys/fs/cgroup/pysandbox-\(pid)"] + hierarchies.flatMap {
            ["/sys/fs/cgroup/\($0)/pysandbox-\(pid)", "/sys/fs/cgroup/\($0)/pysandbox/pysandbox-\(pid)"]
        }
    }

    /// SIGTERM, then its exit status.
    func stop() async throws -> Int32 {
        Glibc.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        guard !process.isRunning else {
            kill()
            throw TestFailure("sandboxd did not exit within 60 s of SIGTERM")
        }
        return process.terminationStatus
    }

    func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    func logTail() -> String {
        String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(4000))
    }
}

/// The host's processes, by parent.
struct ProcessTree {
    let processes: [pid_t: HostProcess]
    let children: [pid_t: [pid_t]]

    init() {
        var processes: [pid_t: HostProcess] = [:]
        var children: [pid_t: [pid_t]] = [:]
        for process in HostProcess.all() {
            processes[process.pid] = process
            children[process.parent, default: []].append(process.pid)
        }
        self.processes = processes
        self.children = children
    }

    /// `root`'s descendants, not `root`.
    func descendants(of root: pid_t) -> [HostProcess] {
        var found: [HostProcess] = []
        var pending = children[root] ?? []
        while let pid = pending.popLast() {
            if let process = processes[pid] { found.append(process) }
            pending += children[pid] ?? []
        }
        return found
    }

    /// The run tags (`r3x17`) that `pid` and its descendants carry as their names.
    func tags(under pid: pid_t) -> [String] {
        ([processes[pid]].compactMap { $0 } + descendants(of: pid)).map(\.name).filter(ChaosTag.isTag)
    }
}
