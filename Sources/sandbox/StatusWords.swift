import Foundation
import SandboxProtocol

// How the CLI names the protocol's statuses and reasons in what it prints
// for people; `--json` keeps the wire's names.

extension RunResult {
    /// The verdict's status in words; a timeout says which time limit.
    var statusInWords: String {
        switch (self.status, self.limit) {
        case (.timeout, .cpu): "CPU time limit"
        case (.timeout, _): "time limit"
        default: self.status.inWords
        }
    }

    /// The verdict's memory figures, named as the web page names them:
    /// `peak memory` is the run's peak as its memory cgroup counted it
    /// (what the memory limit applies to; absent without a cgroup), `max
    /// RSS` the largest resident set of one process (which includes the
    /// preloaded interpreter's shared pages).
    var memoryInWords: String {
        let peak = self.peakMemoryKb.map { "peak memory \(Self.kibibytes($0)), " } ?? ""
        return peak + "max RSS \(Self.kibibytes(self.maxRssKb))"
    }

    /// KiB as the CLI shows memory: "812 KiB", "1.3 MiB".
    static func kibibytes(_ kilobytes: Int) -> String {
        kilobytes >= 1024 ? "\(Double(kilobytes * 10 / 1024) / 10) MiB" : "\(kilobytes) KiB"
    }
}

extension RunStatus {
    var inWords: String {
        switch self {
        case .ok: "ok"
        case .error: "error"
        case .timeout: "time limit"
        case .memoryLimit: "memory limit"
        case .outputLimit: "output limit"
        case .killed: "killed"
        case .cancelled: "cancelled"
        case .internalError: "internal error"
        }
    }
}

extension SessionEndReason {
    var inWords: String {
        switch self {
        case .idleTimeout: "idle timeout"
        case .memoryLimit: "memory limit"
        case .cpuLimit: "CPU time limit"
        case .crashed: "crashed"
        case .killed: "killed"
        case .shutdown: "the service is shutting down"
        case .reclaimed: "reclaimed for another client while idle"
        }
    }
}

extension RPCError {
    /// What the CLI prints of a refused request (`what`: "run", "session"):
    /// the service's message; for packages also the reason and the
    /// requirement concerned (PROTOCOL.md, "Packages").
    func refusalInWords(of what: String) -> String {
        let reason = data?["reason"]?.stringValue
        let requirement = data?["requirement"]?.stringValue
        var detail: [String] = []
        if let reason { detail.append("reason: \(reason)") }
        if let requirement { detail.append("requirement: \(requirement)") }
        let said = detail.isEmpty ? "" : " [\(detail.joined(separator: ", "))]"
        if code == RPCErrorCode.packagesUnavailable.rawValue {
            return "the service cannot provide the \(what)'s packages: \(message)\(said)"
        }
        if code == RPCErrorCode.invalidParams.rawValue && reason == "badRequirement" {
            return "the service refused a requirement of the \(what): \(message)\(said)"
        }
        if code == RPCErrorCode.quotaExceeded.rawValue, let resets = data?["resetsAt"]?.stringValue,
           let resetsAt = try? Date(resets, strategy: .iso8601) {
            let quota = data?["limit"]?.intValue.map { " of \($0) CPU seconds a day" } ?? ""
            return "the service refused the \(what): the daily CPU quota\(quota) is used up; it resets at "
                + "\(resetsAt.formatted(date: .omitted, time: .shortened)) (midnight UTC), in \(Self.words(for: resetsAt.timeIntervalSinceNow))"
        }
        if code == RPCErrorCode.rateLimited.rawValue || code == RPCErrorCode.queueFull.rawValue,
           let retryAfterMs = data?["retryAfterMs"]?.intValue {
            let why = code == RPCErrorCode.queueFull.rawValue
                ? data?["scope"]?.stringValue.map { "\($0) has \(data?["limit"]?.intValue ?? 0) runs waiting, its share of the queue" }
                    ?? "the service is busy (its queue is full)"
                : "too many \(what)s: at most \(data?["runsPerMinute"]?.intValue ?? 0) a minute"
                    + (data?["scope"]?.stringValue.map { " for \($0)" } ?? "")
            return "the service refused the \(what): \(why); try again in \(Self.words(for: Double(retryAfterMs) / 1000))"
        }
        return "the service rejected the \(what): \(message) (JSON-RPC error \(code))"
    }

    /// A wait in words: `40 s`, `12 min`, `5 h 12 min`.
    static func words(for seconds: Double) -> String {
        let whole = max(1, Int(seconds.rounded(.up)))
        if whole < 60 { return "\(whole) s" }
        let minutes = (whole + 59) / 60
        if minutes < 60 { return "\(minutes) min" }
        return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min"
    }
}
