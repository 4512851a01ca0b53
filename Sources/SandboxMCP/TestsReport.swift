import SandboxProtocol

/// A run's tests as `run_python`'s result: a line per test (PASS, FAIL, or
/// how it ended) with the start of its output, within the text budget
/// (tests past it are counted, not shown), then the summary.
enum TestsReport {
    /// Of each test's stdout and stderr, at most this much is shown.
    static let excerptBytes = 300

    static func text(_ tests: [TestResult], budget: Int) -> String {
        var text = ""
        for (shown, test) in tests.enumerated() {
            let entry = line(test)
            guard text.utf8.count + entry.utf8.count <= budget else {
                text += "[… \(tests.count - shown) more tests left out here, over the result's text budget; the summary counts them all. "
                    + "Call again with fewer tests, or with resultTextBytes, to see them …]\n"
                break
            }
            text += entry
        }
        return text
    }

    static func line(_ test: TestResult) -> String {
        let label = "test \(test.index + 1)" + (test.name.map { " (\($0))" } ?? "")
        let mark = switch test.passed {
        case true?: "PASS"
        case false?: test.status == .ok ? "FAIL: stdout differs from expectedStdout" : "FAIL: \(test.status.rawValue)"
        case nil: test.status.rawValue
        }
        var line = "\(label): \(mark) (exit code \(test.exitCode.map(String.init) ?? "-"), \(test.wallMs) ms)\n"
        if test.passed != true {
            if !test.stdout.isEmpty { line += "  stdout: \(excerpt(test.stdout, of: test.stdoutBytes))\n" }
            if !test.stderr.isEmpty { line += "  [stderr] \(excerpt(test.stderr, of: test.stderrBytes))\n" }
        }
        return line
    }

    static func excerpt(_ text: String, of total: Int) -> String {
        let head = String(decoding: text.utf8.prefix(excerptBytes), as: UTF8.self)
        let quoted = head.debugDescription
        return total > head.utf8.count ? "\(quoted) (first \(head.utf8.count) of \(total) bytes)" : quoted
    }

    static func summary(_ verdict: RunResult) -> String {
        guard let summary = verdict.summary else { return "Status: \(verdict.status.rawValue)." }
        let statuses = summary.statuses.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let ran = verdict.status == .ok ? "" : " The run ended \(verdict.status.rawValue) before every test ran."
        return "Tests: \(summary.total), \(summary.passed) passed, \(summary.failed) failed (\(statuses)).\(ran)"
    }
}
