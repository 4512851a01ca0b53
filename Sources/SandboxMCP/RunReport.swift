import MCP
import SandboxProtocol

/// A finished run as `run_python`'s result: stdout, stderr and displays in
/// the order they were made (each stderr piece its own text, labelled;
/// PNG and JPEG as images; any other display as its text), bounded by the
/// transcript's budget, then a line that says how the run ended. A failing
/// program is a normal result; only a run that never ran is a tool error.
public enum RunReport {
    /// What starts each piece of stderr, so an agent tells it from stdout.
    static let stderrLabel = "[stderr]\n"

    public static func result(_ verdict: RunResult, transcript: RunTranscript, notes: [String] = []) -> CallTool.Result {
        if let tests = verdict.tests {
            let text = TestsReport.text(tests, budget: transcript.budget.textBytes)
            let end = plain(([TestsReport.summary(verdict)] + notes).joined(separator: "\n"))
            return CallTool.Result(content: [plain(text), end], isError: false)
        }
        let shown = transcript.items.map { content(of: $0, budget: transcript.budget) }
        // Read after the items: the run has ended, so the images it kept are all counted.
        let files = ReturnedFilesReport(verdict.verdict, room: transcript.fileRoom, textBytes: transcript.budget.textBytes)
        let end = plain(([status(verdict)] + notes).joined(separator: "\n"))
        return CallTool.Result(content: shown + (files?.content ?? []) + [end], isError: false)
    }

    /// A tool error: the code did not run, and `message` says why.
    public static func error(_ message: String) -> CallTool.Result {
        CallTool.Result(content: [plain(message)], isError: true)
    }

    static func content(of item: TranscriptItem, budget: ResultBudget) -> Tool.Content {
        switch item {
        case .stdout(let text), .displayText(let text): plain(text)
        case .stderr(let text): plain(stderrLabel + text)
        case .image(let mimeType, let base64): .image(data: base64, mimeType: mimeType, annotations: nil, _meta: nil)
        case .imageLeftOut(let mimeType, let base64Bytes, let imageBudget):
            plain(imageLeftOutNote(mimeType: mimeType, base64Bytes: base64Bytes, imageBudget: imageBudget))
        case .omitted(let amount): plain(omittedNote(amount, budget: budget))
        }
    }

    /// In place of an image over the image budget.
    static func imageLeftOutNote(mimeType: String, base64Bytes: Int, imageBudget: Int) -> String {
        "[An image (\(mimeType), \(grouped(base64Bytes)) bytes of base64) was left out here: the images of one result "
            + "may take \(grouped(imageBudget)) bytes together, kept in the order they are made. Show fewer or smaller "
            + "images (a smaller figsize or dpi), or fewer per call.]"
    }

    /// Between the head and the tail: how much is not shown, and how to see it.
    static func omittedNote(_ amount: OmittedAmount, budget: ResultBudget) -> String {
        var parts: [String] = []
        if amount.characters > 0 {
            let lines = amount.lineBreaks == 0 ? "all within one line"
                : amount.lineBreaks == 1 ? "1 line" : "\(grouped(amount.lineBreaks)) lines"
            parts.append("\(grouped(amount.characters)) characters (\(grouped(amount.bytes)) bytes, \(lines)) of output")
        }
        if amount.imagesLeftOut > 0 {
            parts.append(amount.imagesLeftOut == 1 ? "1 image over the image budget" : "\(amount.imagesLeftOut) images over the image budget")
        }
        var note = "[… " + parts.joined(separator: " and ") + " left out here …] "
        note += "A result shows the first and the last \(size(budget.textBytes / 2)) of the output. "
        if amount.imagesKept > 0 {
            note += amount.imagesKept == 1 ? "The image made in that part follows. " : "The \(amount.imagesKept) images made in that part follow. "
        }
        note += "To see more: print less (a slice, len(), df.head()); or call again with resultTextBytes (up to "
            + "\(budget.maxTextBytes)); or run with session: true, write the output to a file in /tmp (it stays for the "
            + "session's later calls) and print parts of it, e.g. print(open('/tmp/out.txt').read()[20000:40000])."
        return note
    }

    /// One line on how the run ended, in words an agent can act on.
    static func status(_ verdict: RunResult) -> String {
        var line = switch verdict.status {
        case .ok: "Status: ok (exit code 0)."
        case .error: "Status: error: the program exited with code \(verdict.exitCode.map(String.init) ?? "?")"
            + " (an uncaught exception exits with 1; its traceback is in stderr)."
        case .timeout: verdict.limit == .cpu
            ? "Status: timeout: the program used up its CPU time and was stopped."
            : "Status: timeout: the program ran past its time limit and was stopped (timeoutMs may raise it, up to the service's maximum)."
        case .memoryLimit: "Status: memoryLimit: the program used more memory than allowed and was stopped"
            + " (memoryMb may raise it, up to the service's maximum; in a session, the call that opens it sets it)."
        case .outputLimit: "Status: outputLimit: the program wrote more output than allowed; the output was cut there and the program stopped."
        case .killed: "Status: killed by signal \(verdict.signal.map(String.init) ?? "?")."
        case .cancelled: "Status: cancelled: the run was stopped before it finished."
        case .internalError: "Status: internalError: the sandbox failed, not the program."
        }
        if let message = verdict.message { line += " \(message)" }
        if verdict.truncated && verdict.status != .outputLimit { line += " Output was truncated." }
        if verdict.rolledBack {
            line += " The session was rolled back: its variables and imports are as they were before this call (files it wrote stay)."
        }
        return line + " Wall time \(verdict.wallMs) ms, CPU time \(verdict.cpuMs) ms."
    }

    static func plain(_ text: String) -> Tool.Content {
        .text(text: text, annotations: nil, _meta: nil)
    }

    /// 1967232 as "1,967,232".
    static func grouped(_ number: Int) -> String {
        var digits = String(number.magnitude)
        var index = digits.endIndex
        while digits.distance(from: digits.startIndex, to: index) > 3 {
            index = digits.index(index, offsetBy: -3)
            digits.insert(",", at: index)
        }
        return number < 0 ? "-" + digits : digits
    }

    /// 16384 as "16 KiB"; other sizes in bytes.
    static func size(_ bytes: Int) -> String {
        bytes % 1024 == 0 ? "\(bytes / 1024) KiB" : "\(grouped(bytes)) bytes"
    }
}
