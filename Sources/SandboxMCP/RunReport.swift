import MCP
import SandboxProtocol

/// A finished run as `run_python`'s result: stdout and displays in the
/// order they were made (PNG and JPEG as images, any other display as its
/// text), then stderr, then a line that says how the run ended. A failing
/// program is a normal result; only a run that never ran is a tool error.
public enum RunReport {
    public static func result(_ verdict: RunResult, transcript: RunTranscript, notes: [String] = []) -> CallTool.Result {
        var content: [Tool.Content] = []
        var stderr = ""
        for piece in transcript.pieces {
            switch piece {
            case .stdout(let text): content.append(plain(text))
            case .stderr(let text): stderr += text
            case .display(let display): content.append(self.content(of: display))
            }
        }
        if !stderr.isEmpty { content.append(plain("stderr:\n" + stderr)) }
        content.append(plain(([status(verdict)] + notes).joined(separator: "\n")))
        return CallTool.Result(content: content, isError: false)
    }

    /// A tool error: the code did not run, and `message` says why.
    public static func error(_ message: String) -> CallTool.Result {
        CallTool.Result(content: [plain(message)], isError: true)
    }

    /// The richest form an agent can take: an image, else the plain text every display has.
    static func content(of display: RunDisplayParams) -> Tool.Content {
        for mime in [DisplayMIME.png, DisplayMIME.jpeg] {
            if case .string(let base64)? = display.data[mime] {
                return .image(data: base64, mimeType: mime, annotations: nil, _meta: nil)
            }
        }
        return plain(display.data[DisplayMIME.plainText]?.stringValue ?? "(a display with no text form)")
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
        case .memoryLimit: "Status: memoryLimit: the program used more memory than allowed and was stopped."
        case .outputLimit: "Status: outputLimit: the program wrote more output than allowed; the output was cut there and the program stopped."
        case .killed: "Status: killed by signal \(verdict.signal.map(String.init) ?? "?")."
        case .cancelled: "Status: cancelled: the run was stopped before it finished."
        case .internalError: "Status: internalError: the sandbox failed, not the program."
        }
        if let message = verdict.message { line += " \(message)" }
        if verdict.truncated && verdict.status != .outputLimit { line += " Output was truncated." }
        return line + " Wall time \(verdict.wallMs) ms, CPU time \(verdict.cpuMs) ms."
    }

    static func plain(_ text: String) -> Tool.Content {
        .text(text: text, annotations: nil, _meta: nil)
    }
}
