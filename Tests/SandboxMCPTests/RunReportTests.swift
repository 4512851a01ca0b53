import Foundation
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

    static func text(_ text: String) -> Tool.Content { .text(text: text, annotations: nil, _meta: nil) }

    static let ok = RunResult(Verdict(status: .ok, exitCode: 0, wallMs: 12, cpuMs: 9), queuedMs: 0)

    /// A transcript of `events`, numbered in the order given.
    static func transcript(_ events: [(RunOutputParams.Stream, String)], budget: ResultBudget = .default) -> RunTranscript {
        let transcript = RunTranscript(budget: budget)
        for (seq, (stream, text)) in events.enumerated() { transcript.record(output(seq, stream, text)) }
        return transcript
    }

    @Test func outputAndDisplaysInTheOrderMadeWithStderrLabelledThenTheStatus() {
        let transcript = RunTranscript()
        for event in [
            Self.output(0, .stdout, "be"), Self.output(1, .stdout, "fore\n"),
            Self.display(2, ["text/plain": "<Figure>", "image/png": "iVBORw0KGgo="]),
            Self.output(3, .stdout, "after\n"), Self.output(4, .stderr, "warning\n"), Self.output(5, .stdout, "more\n"),
            Self.display(6, ["text/plain": "{'a': 1}", "text/html": "<b>a</b>"]),
            Self.display(7, ["text/plain": "<Image>", "image/jpeg": "/9j/4AAQ"]),
            Self.output(8, .stderr, "Traceback …\n"), Self.output(9, .stderr, "ValueError: boom\n"),
        ] { transcript.record(event) }
        let result = RunReport.result(Self.ok, transcript: transcript, notes: ["a note"])
        #expect(result.isError == false)
        #expect(result.content == [
            Self.text("before\n"),
            .image(data: "iVBORw0KGgo=", mimeType: "image/png", annotations: nil, _meta: nil),
            Self.text("after\n"),
            Self.text("[stderr]\nwarning\n"),
            Self.text("more\n"),
            Self.text("{'a': 1}"),
            .image(data: "/9j/4AAQ", mimeType: "image/jpeg", annotations: nil, _meta: nil),
            Self.text("[stderr]\nTraceback …\nValueError: boom\n"),
            Self.text("Status: ok (exit code 0). Wall time 12 ms, CPU time 9 ms.\na note"),
        ])
    }

    @Test func stdoutAndStderrInterleaveAsWritten() {
        let transcript = Self.transcript([(.stdout, "A\n"), (.stderr, "B\n"), (.stdout, "C\n"), (.stderr, "D\n")])
        #expect(transcript.items == [.stdout("A\n"), .stderr("B\n"), .stdout("C\n"), .stderr("D\n")])
    }

    @Test func outputWithinTheBudgetIsWhole() {
        let lines = (0..<1000).map { "line \($0)\n" }
        let transcript = Self.transcript(lines.map { (.stdout, $0) })
        #expect(transcript.items == [.stdout(lines.joined())])
    }

    /// 10,000 lines through a 2 KiB text budget: the first and the last lines, whole, and what fell between counted.
    @Test func longOutputIsItsHeadAndTailWithALineOnWhatWasLeftOut() throws {
        let budget = ResultBudget(textBytes: 2048, totalBytes: 2048 + ResultBudget.reserveBytes)
        let lines = (0..<10_000).map { String(format: "line %05d\n", $0) }
        // Chunks of uneven size, cutting lines, as a pipe delivers them.
        let whole = lines.joined()
        var chunks: [(RunOutputParams.Stream, String)] = []
        var rest = Substring(whole)
        var size = 1
        while !rest.isEmpty {
            chunks.append((.stdout, String(rest.prefix(size))))
            rest = rest.dropFirst(size)
            size = size % 700 + 37
        }
        let items = Self.transcript(chunks, budget: budget).items
        guard items.count == 3, case .stdout(let head) = items[0], case .omitted(let omitted) = items[1],
              case .stdout(let tail) = items[2]
        else { Issue.record("not head, omitted, tail: \(items)"); return }
        #expect(head.hasPrefix("line 00000\n") && head.hasSuffix("\n"), "the head ends at a line end")
        #expect(tail.hasPrefix("line ") && tail.hasSuffix("line 09999\n"), "the tail starts at a line start")
        #expect(whole.hasPrefix(head) && whole.hasSuffix(tail))
        #expect(TextMeasure.jsonCost(head) + TextMeasure.jsonCost(tail) <= budget.textBytes)
        #expect(head.utf8.count + tail.utf8.count > budget.textBytes * 3 / 4, "the budget is used")
        #expect(omitted.characters == whole.unicodeScalars.count - head.unicodeScalars.count - tail.unicodeScalars.count)
        #expect(omitted.bytes == omitted.characters)
        #expect(omitted.lineBreaks == 10_000 - head.count(where: { $0 == "\n" }) - tail.count(where: { $0 == "\n" }))
        let note = RunReport.omittedNote(omitted, budget: budget)
        #expect(note.contains("[… \(RunReport.grouped(omitted.characters)) characters (\(RunReport.grouped(omitted.bytes)) bytes, "
            + "\(RunReport.grouped(omitted.lineBreaks)) lines) of output left out here …]"))
        #expect(note.contains("first and the last 1 KiB") && note.contains("session: true") && note.contains("/tmp")
            && note.contains("resultTextBytes"))
    }

    /// One long line of characters of two and three bytes and emoji families of seven scalars: every
    /// cut falls between characters, and characters are counted as Python's len counts them.
    @Test func cutsFallBetweenCharacters() throws {
        let family = "👩‍👩‍👧‍👦"  // 7 scalars, 25 bytes of UTF-8
        let unit = "é" + family + "€"
        let whole = String(repeating: unit, count: 20_000)
        let budget = ResultBudget(textBytes: 4000, totalBytes: 4000 + ResultBudget.reserveBytes)
        let chunks = stride(from: 0, to: 20_000, by: 333).map { start in
            (RunOutputParams.Stream.stderr, String(repeating: unit, count: min(333, 20_000 - start)))
        }
        let items = Self.transcript(chunks, budget: budget).items
        guard items.count == 3, case .stderr(let head) = items[0], case .omitted(let omitted) = items[1],
              case .stderr(let tail) = items[2]
        else { Issue.record("not head, omitted, tail: \(items)"); return }
        for part in [head, tail] {
            #expect(part.allSatisfy { ["é", "€", Character(family)].contains($0) }, "a character was cut: \(part.suffix(3))")
        }
        #expect(whole.hasPrefix(head) && whole.hasSuffix(tail))
        #expect(omitted.characters + head.unicodeScalars.count + tail.unicodeScalars.count == whole.unicodeScalars.count)
        #expect(omitted.bytes + head.utf8.count + tail.utf8.count == whole.utf8.count)
        #expect(omitted.lineBreaks == 0)
        #expect(RunReport.omittedNote(omitted, budget: budget).contains("all within one line"))
    }

    /// What the wire carries: the whole result, encoded as the SDK encodes it, within the total budget,
    /// however the output is made: 20 MB in chunks, tiny pieces alternating streams, control characters.
    @Test(arguments: ["chunks", "alternating", "controls"])
    func theEncodedResultStaysWithinTheTotalBudget(_ shape: String) throws {
        let transcript = RunTranscript()
        var seq = 0
        func emit(_ stream: RunOutputParams.Stream, _ text: String) {
            transcript.record(Self.output(seq, stream, text))
            seq += 1
        }
        switch shape {
        case "chunks":
            let chunk = String(repeating: "x", count: 4095) + "\n"
            for _ in 0..<(20_000_000 / 4096) { emit(.stdout, chunk) }
        case "alternating":
            for number in 0..<100_000 { emit(number % 2 == 0 ? .stdout : .stderr, "\(number)\n") }
        default:
            for _ in 0..<100 { emit(.stdout, String(repeating: "\u{1}\"\\", count: 1000)) }
        }
        let result = RunReport.result(Self.ok, transcript: transcript)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let size = try encoder.encode(result).count
        #expect(size <= ResultBudget.default.totalBytes, "\(size) bytes")
        let texts = result.content.compactMap { if case .text(let text, _, _) = $0 { text } else { nil } }
        #expect(texts.contains { $0.hasPrefix("[… ") }, "the omitted line is there")
        #expect(texts.last?.hasPrefix("Status: ok") == true)
        let shown = try encoder.encode(texts.dropLast().filter { !$0.hasPrefix("[… ") }).count
        #expect(shown <= ResultBudget.default.textBytes, "\(shown) bytes of output text")
    }

    /// A 50 KB plot fits; images past the image budget are a line each, in their place.
    @Test func imagesOverTheImageBudgetAreALineInTheirPlace() {
        let budget = ResultBudget(textBytes: 2048, totalBytes: 2048 + ResultBudget.reserveBytes + 150_000)
        let plot = String(repeating: "A", count: 66_000)  // a 50 KB PNG as base64
        let transcript = RunTranscript(budget: budget)
        for seq in 0..<3 {
            transcript.record(Self.output(2 * seq, .stdout, "plot \(seq)\n"))
            transcript.record(Self.display(2 * seq + 1, ["text/plain": "<Figure>", "image/png": .string(plot)]))
        }
        let items = transcript.items
        #expect(items.count == 6)
        #expect(items[1] == .image(mimeType: "image/png", base64: plot) && items[3] == .image(mimeType: "image/png", base64: plot))
        #expect(items[5] == .imageLeftOut(mimeType: "image/png", base64Bytes: 66_000, imageBudget: 150_000))
        #expect(items[4] == .stdout("plot 2\n"))
        let note = RunReport.imageLeftOutNote(mimeType: "image/png", base64Bytes: 66_000, imageBudget: 150_000)
        #expect(note.contains("image/png, 66,000 bytes of base64") && note.contains("150,000 bytes together"))
    }

    /// Images made in the part left out are kept; they follow the line that says what was left out.
    @Test func imagesInThePartLeftOutFollowTheOmittedLine() {
        let budget = ResultBudget(textBytes: 2048, totalBytes: 2048 + ResultBudget.reserveBytes + 10_000)
        var events: [RunEvent] = (0..<200).map { Self.output($0, .stdout, "early \($0)\n") }
        events.append(Self.display(200, ["text/plain": "<Figure>", "image/png": "iVBORw0KGgo="]))
        events += (201..<400).map { Self.output($0, .stdout, "late \($0)\n") }
        let transcript = RunTranscript(budget: budget)
        for event in events { transcript.record(event) }
        let items = transcript.items
        guard items.count == 4, case .omitted(let omitted) = items[1] else { Issue.record("\(items)"); return }
        #expect(items[2] == .image(mimeType: "image/png", base64: "iVBORw0KGgo="))
        #expect(items[3].text?.hasSuffix("late 399\n") == true)
        #expect(omitted.imagesKept == 1)
        #expect(RunReport.omittedNote(omitted, budget: budget).contains("The image made in that part follows."))
    }

    @Test func budgetsAreCheckedWithTheOptionsNamed() throws {
        #expect(ResultBudget.default.problem(textOption: "--t", totalOption: "--r") == nil)
        #expect(ResultBudget.default.imageBytes == (512 - 32 - 8) << 10)
        #expect(ResultBudget(textBytes: 100).problem(textOption: "--t", totalOption: "--r") == "--t: must be at least 1024, not 100")
        let tight = ResultBudget(textBytes: 32 << 10, totalBytes: 32 << 10)
        #expect(tight.problem(textOption: "--t", totalOption: "--r")?.hasPrefix("--r (32768) must be at least --t (32768) plus 8192") == true)
        #expect(try ResultBudget.default.asked(textBytes: nil) == .default)
        #expect(try ResultBudget.default.asked(textBytes: 4096).textBytes == 4096)
        #expect(throws: ArgumentError("resultTextBytes: must be from 1024 to \((512 - 8) << 10), not 600000")) {
            try ResultBudget.default.asked(textBytes: 600_000)
        }
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
