import ArgumentParser
import SandboxProtocol

/// How `sandbox run --test` prints a run's tests: a line per test as it
/// ends (PASS, FAIL, or its status when it had no expectation), then their
/// summary; the exit status is 0 only when every test ended ok and every
/// expectation held.
enum TestLines {
    static func line(_ test: TestResult) -> String {
        let label = test.name ?? "test \(test.index + 1)"
        let mark = switch test.passed {
        case true?: "PASS"
        case false?: "FAIL"
        case nil: test.status == .ok ? "RAN " : "ERR "
        }
        var what = test.status.rawValue
        if let signal = test.signal {
            what += ", signal \(signal)"
        } else if let exitCode = test.exitCode, exitCode != 0 {
            what += ", exit code \(exitCode)"
        }
        if test.passed == false && test.status == .ok { what += ", stdout differs" }
        var line = "\(mark) \(label): \(what) (\(test.wallMs) ms)\n"
        // What went wrong, briefly: the last line of stderr (a traceback's error).
        if test.status != .ok, let last = test.stderr.split(separator: "\n").last {
            line += "     \(last.prefix(200))\n"
        }
        return line
    }

    static func summary(_ summary: TestSummary) -> String {
        let statuses = summary.statuses.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return "\(summary.total) tests: \(summary.passed) passed, \(summary.failed) failed (\(statuses))"
    }

    static func exitStatus(_ verdict: RunResult) -> Int32 {
        guard verdict.status == .ok else { return ExitStatus.of(verdict) }
        let clean = (verdict.tests ?? []).allSatisfy { $0.status == .ok && $0.passed != false }
        return clean ? 0 : 1
    }
}

extension TestComparison: ExpressibleByArgument {}
