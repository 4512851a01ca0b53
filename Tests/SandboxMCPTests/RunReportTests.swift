import MCP
import SandboxProtocol
import Testing

@testable import SandboxMCP

@Suite("run_python's result")
struct RunReportTests {
    static func display(_ seq: Int, _ data: [String: JSONValue]) -> RunEvent {
        .display(RunDisplayParams(id: 1, seq: seq, data: data))
    }

    static func output(_ seq: Int, _ stream: RunOutputParams.Stream, _ text: String) -> RunEvent {
        .output(RunOutputParams(id: 1, stream: stream, text: text, seq: seq))
    }

    @Test func outputAndDisplaysInOrderThenStderrThenTheStatus() {
        let transcript = RunTranscript()
        // Recorded out of order, as two streams may be read.
        for event in [
            Self.output(3, .stdout, "after\n"), Self.output(0, .stdout, "be"), Self.output(1, .stdout, "fore\n"),
            Self.display(2, ["text/plain": "<Figure>", "image/png": "iVBORw0KGgo="]),
            Self.output(4, .stderr, "warning\n"), Self.display(5, ["text/plain": "{'a': 1}", "text/html": "<b>a</b>"]),
            Self.display(6, ["text/plain": "<Image>", "image/jpeg": "/9j/4AAQ"]),
        ] { transcript.record(event) }
        let result = RunReport.result(RunResult(Verdict(status: .ok, exitCode: 0, wallMs: 12, cpuMs: 9), queuedMs: 0),
                                      transcript: transcript, notes: ["a note"])
        #expect(result.isError == false)
        #expect(result.content == [
            .text(text: "before\n", annotations: nil, _meta: nil),
            .image(data: "iVBORw0KGgo=", mimeType: "image/png", annotations: nil, _meta: nil),
            .text(text: "after\n", annotations: nil, _meta: nil),
            .text(text: "{'a': 1}", annotations: nil, _meta: nil),
            .image(data: "/9j/4AAQ", mimeType: "image/jpeg", annotations: nil, _meta: nil),
            .text(text: "stderr:\nwarning\n", annotations: nil, _meta: nil),
            .text(text: "Status: ok (exit code 0). Wall time 12 ms, CPU time 9 ms.\na note", annotations: nil, _meta: nil),
        ])
    }

    @Test func statusSaysHowARunEnded() {
        func status(_ verdict: Verdict) -> String { RunReport.status(RunResult(verdict, queuedMs: 0)) }
        #expect(status(Verdict(status: .error, exitCode: 1)).hasPrefix("Status: error: the program exited with code 1"))
        #expect(status(Verdict(status: .timeout, limit: .wall, signal: 9)).contains("ran past its time limit"))
        #expect(status(Verdict(status: .timeout, limit: .cpu, signal: 9)).contains("used up its CPU time"))
        #expect(status(Verdict(status: .killed, signal: 11)).hasPrefix("Status: killed by signal 11."))
        #expect(status(Verdict(status: .internalError, message: "launcher: clone failed")).contains("not the program. launcher: clone failed"))
        #expect(status(Verdict(status: .ok, exitCode: 0, truncated: true)).contains("Output was truncated."))
    }

    @Test func aRunThatPrintedNothingIsJustItsStatus() {
        let result = RunReport.result(RunResult(Verdict(status: .ok, exitCode: 0), queuedMs: 0), transcript: RunTranscript())
        #expect(result.content.count == 1)
    }
}
