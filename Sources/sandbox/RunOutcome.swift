import Foundation
import SandboxProtocol

/// How one run ended, for the exit status and what is printed about it.
enum RunOutcome: Sendable {
    case verdict(RunResult)
    case rejected(RPCError)

    var exitStatus: Int32 {
        switch self {
        case .verdict(let verdict): ExitStatus.of(verdict)
        case .rejected: ExitStatus.rejected
        }
    }

    /// One line about a verdict that is not `ok`; nil for `ok` and for a
    /// rejected run (its error was already printed).
    var summary: String? {
        guard case .verdict(let verdict) = self, verdict.status != "ok" else { return nil }
        var what = verdict.status
        switch verdict.limit {
        case "cpu": what += " (CPU time limit)"
        case "wall": what += " (wall-clock limit)"
        default: break
        }
        if let signal = verdict.signal {
            what += ", killed by signal \(signal)"
        } else if let exitCode = verdict.exitCode, verdict.status == "error" || exitCode != 0 {
            what += ", exit code \(exitCode)"
        }
        if verdict.truncated { what += ", output truncated" }
        if let message = verdict.message { what += ": \(message)" }
        return "\(what) (wall \(verdict.wallMs) ms, cpu \(verdict.cpuMs) ms, memory \(Self.memory(verdict)))"
    }

    static func memory(_ verdict: RunResult) -> String {
        let kilobytes = verdict.peakMemoryKb ?? verdict.maxRssKb
        return kilobytes >= 1024 ? "\(Double(kilobytes * 10 / 1024) / 10) MiB" : "\(kilobytes) KiB"
    }

    /// The table printed after several files.
    static func table(_ rows: some Sequence<(String, RunOutcome)>) -> String {
        var lines = [["FILE", "STATUS", "EXIT", "WALL", "CPU", "MEMORY"]]
        for (name, outcome) in rows {
            switch outcome {
            case .verdict(let verdict):
                let exit = verdict.signal.map { "signal \($0)" } ?? verdict.exitCode.map(String.init) ?? "-"
                lines.append([name, verdict.status, exit, "\(verdict.wallMs) ms", "\(verdict.cpuMs) ms", memory(verdict)])
            case .rejected(let error):
                lines.append([name, "rejected (\(error.code))", "-", "-", "-", "-"])
            }
        }
        let widths = (0..<6).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            line.enumerated().map { column, cell in
                column < line.count - 1
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) : cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
