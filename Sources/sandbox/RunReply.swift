import Foundation
import SandboxProtocol

/// The service's answer to one `run` request: the run's verdict, or the
/// error that refused it; for the exit status and what is printed about it.
enum RunReply: Sendable {
    case verdict(RunResult)
    case rejected(RPCError)

    var exitStatus: Int32 {
        switch self {
        case .verdict(let verdict) where verdict.tests != nil: TestLines.exitStatus(verdict)
        case .verdict(let verdict): ExitStatus.of(verdict)
        case .rejected(let error): ExitStatus.of(error)
        }
    }

    /// One line about a verdict that is not `ok`; nil for `ok` and for a
    /// rejected run (its error was already printed).
    var summary: String? {
        if case .verdict(let verdict) = self, let summary = verdict.summary, verdict.status == .ok { return TestLines.summary(summary) }
        guard case .verdict(let verdict) = self, verdict.status != .ok else { return nil }
        var what = verdict.statusInWords
        if let signal = verdict.signal {
            what += ", killed by signal \(signal)"
        } else if let exitCode = verdict.exitCode, verdict.status == .error || exitCode != 0 {
            what += ", exit code \(exitCode)"
        }
        if verdict.truncated { what += ", output truncated" }
        if let message = verdict.message { what += ": \(message)" }
        return "\(what) (wall \(verdict.wallMs) ms, cpu \(verdict.cpuMs) ms, \(verdict.memoryInWords))"
    }

    /// The table printed after several files.
    static func table(_ rows: some Sequence<(String, RunReply)>) -> String {
        var lines = [["FILE", "STATUS", "EXIT", "WALL", "CPU", "PEAK MEMORY", "MAX RSS"]]
        for (name, reply) in rows {
            switch reply {
            case .verdict(let verdict):
                let exit = verdict.signal.map { "signal \($0)" } ?? verdict.exitCode.map(String.init) ?? "-"
                lines.append([
                    name, verdict.statusInWords, exit, "\(verdict.wallMs) ms", "\(verdict.cpuMs) ms",
                    verdict.peakMemoryKb.map(RunResult.kibibytes) ?? "-", RunResult.kibibytes(verdict.maxRssKb),
                ])
            case .rejected(let error):
                lines.append([name, "rejected (\(error.code))", "-", "-", "-", "-", "-"])
            }
        }
        let widths = (0..<lines[0].count).map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            line.enumerated().map { column, cell in
                column < line.count - 1
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) : cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
