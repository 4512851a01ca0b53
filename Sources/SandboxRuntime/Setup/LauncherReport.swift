/// What the launcher said on its status channel, parsed from lines such as
/// `command exit_code=1`, `exit init_status=0 killed=0 cpu_us=...` and
/// `error step=mount_proc errno=1 reason=...`.
struct LauncherReport: Sendable, Equatable {
    enum LimitReached: String, Sendable, Equatable {
        case cpu
        case memory
    }

    struct Failure: Sendable, Equatable {
        var step: String
        var errno: Int32
        var line: String
    }

    var commandExitCode: Int32?
    var commandSignal: Int32?
    var finished = false
    var cpuMicroseconds = 0
    var maxRssKb = 0
    var cgroupActive = false
    var peakMemoryKb = 0
    var oomKills = 0
    /// The limit the launcher itself ended the run at: the run-wide CPU
    /// time, or (without a cgroup) its memory.
    var limitReached: LimitReached?
    var failures: [Failure] = []
    /// A step failed before the command started: the sandbox, not the program, failed.
    var setupFailed = false

    mutating func consume(line: Substring) {
        let status = StatusLine(line)
        let (fields, int) = (status.fields, status.int)
        switch status.kind {
        case "command":
            commandExitCode = int("exit_code").map(Int32.init)
            commandSignal = int("signal").map(Int32.init)
        case "exit":
            finished = true
            cpuMicroseconds = int("cpu_us") ?? 0
            maxRssKb = int("maxrss_kb") ?? 0
            cgroupActive = int("cgroup") == 1
            peakMemoryKb = int("peak_memory_kb") ?? 0
            oomKills = int("oom_kills") ?? 0
            limitReached = fields["limit"].flatMap { LimitReached(rawValue: String($0)) }
        case "error":
            failures.append(Failure(step: String(fields["step"] ?? "unknown"),
                                    errno: Int32(int("errno") ?? 0), line: String(line)))
            if commandExitCode == nil && commandSignal == nil { setupFailed = true }
        default:
            break
        }
    }

    /// The first failure, phrased for a person.
    var failureMessage: String? {
        guard let failure = failures.first else { return nil }
        let reason = failure.line.range(of: "reason=").map { String(failure.line[$0.upperBound...]) } ?? failure.line
        return "sandbox step '\(failure.step)' failed: \(reason)"
    }

    /// The first failure among status lines, phrased for a person.
    static func failureMessage(lines: [String]) -> String? {
        var report = LauncherReport()
        for line in lines { report.consume(line: Substring(line)) }
        return report.failureMessage
    }
}

/// A line of a launcher's status channel: a kind, then key=value words.
struct StatusLine {
    let kind: Substring
    let fields: [Substring: Substring]

    init(_ line: Substring) {
        let words = line.split(separator: " ")
        kind = words.first ?? ""
        var fields: [Substring: Substring] = [:]
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[word[..<equals]] = word[word.index(after: equals)...]
        }
        self.fields = fields
    }

    func int(_ key: Substring) -> Int? { fields[key].flatMap { Int($0) } }
}
