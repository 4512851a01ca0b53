import SandboxProtocol
import Testing

@testable import SandboxRuntime

@Suite("Launcher reports and cgroup tables")
struct ParsingTests {
    private func report(_ text: String) -> LauncherReport {
        var report = LauncherReport()
        for line in text.split(separator: "\n") { report.consume(line: line) }
        return report
    }

    @Test func aNormalExit() {
        let parsed = report("command exit_code=3\nexit init_status=0 killed=0 cpu_us=15000 maxrss_kb=9000 cgroup=1 peak_memory_kb=12000 oom_kills=0\n")
        #expect(parsed.commandExitCode == 3)
        #expect(parsed.commandSignal == nil)
        #expect(parsed.finished)
        #expect(parsed.cpuMicroseconds == 15000)
        #expect(parsed.peakMemoryKb == 12000)
        #expect(!parsed.setupFailed)
        #expect(OneOffRun.classify(report: parsed, killReason: nil, limits: RunLimits()).0 == .error)
    }

    @Test func aSetupFailureIsAnInternalErrorNamingTheStep() {
        let parsed = report("error step=mount_proc errno=1 reason=Operation not permitted: a fresh procfs for the PID namespace\nexit init_status=28416 killed=0 cpu_us=0 maxrss_kb=0 cgroup=0 peak_memory_kb=0 oom_kills=0\n")
        #expect(parsed.setupFailed)
        let (status, _, message) = OneOffRun.classify(report: parsed, killReason: nil, limits: RunLimits())
        #expect(status == .internalError)
        #expect(message == "sandbox step 'mount_proc' failed: Operation not permitted: a fresh procfs for the PID namespace")
    }

    @Test func aCleanupFailureAfterTheCommandIsNotTheProgramsFault() {
        let parsed = report("command exit_code=0\nerror step=cgroup_rmdir errno=16 reason=Device or resource busy: /x\nexit init_status=0 killed=0 cpu_us=1 maxrss_kb=1 cgroup=1 peak_memory_kb=1 oom_kills=0\n")
        #expect(!parsed.setupFailed)
        #expect(OneOffRun.classify(report: parsed, killReason: nil, limits: RunLimits()).0 == .ok)
    }

    @Test func verdictPrecedence() {
        let oom = report("command signal=9\nexit init_status=0 killed=0 cpu_us=100 maxrss_kb=1 cgroup=1 peak_memory_kb=1 oom_kills=1\n")
        #expect(OneOffRun.classify(report: oom, killReason: nil, limits: RunLimits()).0 == .memoryLimit)
        #expect(OneOffRun.classify(report: oom, killReason: .cancelled, limits: RunLimits()).0 == .cancelled)
        let xcpu = report("command signal=24\nexit init_status=0 killed=0 cpu_us=100 maxrss_kb=1 cgroup=0 peak_memory_kb=0 oom_kills=0\n")
        #expect(OneOffRun.classify(report: xcpu, killReason: nil, limits: RunLimits()).0 == .timeout)
        let segv = report("command signal=11\nexit init_status=0 killed=0 cpu_us=100 maxrss_kb=1 cgroup=0 peak_memory_kb=0 oom_kills=0\n")
        #expect(OneOffRun.classify(report: segv, killReason: nil, limits: RunLimits()).0 == .killed)
        let silent = report("")
        #expect(OneOffRun.classify(report: silent, killReason: nil, limits: RunLimits()).0 == .internalError)
    }

    @Test func cgroupV2Membership() {
        let mountinfo = """
            22 1 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
            """
        let table = CgroupMounts(mountinfo: mountinfo, membership: "0::/system.slice/sandboxd.service\n")
        #expect(table.v2Root == "/sys/fs/cgroup")
        #expect(table.v2Path == "/system.slice/sandboxd.service")
        #expect(table.v1Directory(controller: "memory") == nil)
    }

    @Test func cgroupV1Hierarchies() {
        let mountinfo = """
            30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            31 25 0:27 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
            32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
            33 25 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """
        let membership = "4:memory:/process_api/abc\n8:pids:/\n2:cpu,cpuacct:/jobs\n0::/\n"
        let table = CgroupMounts(mountinfo: mountinfo, membership: membership)
        #expect(table.v1Directory(controller: "memory") == "/sys/fs/cgroup/memory/process_api/abc")
        #expect(table.v1Directory(controller: "pids") == "/sys/fs/cgroup/pids")
        #expect(table.v1Directory(controller: "cpu") == "/sys/fs/cgroup/cpu,cpuacct/jobs")
        #expect(table.v2Root == "/sys/fs/cgroup/unified")
    }
}
