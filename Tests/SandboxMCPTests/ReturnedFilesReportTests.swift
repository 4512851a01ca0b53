import Foundation
import MCP
import SandboxProtocol
import Testing

@testable import SandboxMCP

@Suite("run_python's result: the files returnFiles brought back")
struct ReturnedFilesReportTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 992)

    static func verdict(_ files: [ReturnedFile], omitted: [OmittedFile] = [], status: RunStatus = .ok) -> RunResult {
        RunResult(Verdict(status: status, exitCode: 0, files: files, omittedFiles: omitted), queuedMs: 0)
    }

    static func file(_ path: String, _ text: String) -> ReturnedFile { ReturnedFile(path: path, content: Array(text.utf8)) }

    static func texts(_ result: CallTool.Result) -> [String] {
        result.content.compactMap { if case .text(let text, _, _) = $0 { text } else { nil } }
    }

    /// Bytes of the result as the SDK encodes it.
    static func wireSize(_ result: CallTool.Result) throws -> Int {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(result).count
    }

    static func report(_ files: [ReturnedFile], omitted: [OmittedFile] = [], room: Int = ResultBudget.default.imageBytes,
                       textBytes: Int = ResultBudget.default.textBytes) -> ReturnedFilesReport? {
        ReturnedFilesReport(Self.verdict(files, omitted: omitted).verdict, room: room, textBytes: textBytes)
    }

    @Test func kindsAreToldByTheBytes() {
        #expect(ReturnedFileKind(Array("a,b\n1,2\n".utf8)) == .text("a,b\n1,2\n"))
        #expect(ReturnedFileKind([]) == .text(""))
        #expect(ReturnedFileKind(Self.png) == .image(mimeType: "image/png", name: "PNG image"))
        #expect(ReturnedFileKind([0xFF, 0xD8, 0xFF, 0xE0, 0]) == .image(mimeType: "image/jpeg", name: "JPEG image"))
        #expect(ReturnedFileKind(Array("GIF89a".utf8) + [0]) == .image(mimeType: "image/gif", name: "GIF image"))
        #expect(ReturnedFileKind(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8)) == .image(mimeType: "image/webp", name: "WebP image"))
        #expect(ReturnedFileKind(Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ".utf8)) == .binary(name: "binary data"))
        #expect(ReturnedFileKind(Array("%PDF-1.7\n".utf8) + [0xE2, 0xE3]) == .binary(name: "PDF document"))
        #expect(ReturnedFileKind([0x93] + Array("NUMPY".utf8) + [1, 0]) == .binary(name: "NumPy array (.npy)"))
        #expect(ReturnedFileKind([0xC3, 0x28]) == .binary(name: "binary data"), "not UTF-8")
        #expect(ReturnedFileKind(Array("a\u{0}b".utf8)) == .binary(name: "binary data"), "a NUL byte")
    }

    /// Nothing asked, nothing said; asked and nothing came back, said.
    @Test func aRunWithoutReturnFilesHasNoList() throws {
        #expect(ReturnedFilesReport(Verdict(status: .ok), room: 1000, textBytes: 1000) == nil)
        let none = try #require(Self.report([], omitted: [OmittedFile(path: "*.csv", reason: .noMatch)]))
        #expect(none.list == "Returned files (returnFiles): 0 files came back, 1 did not.\n- *.csv: did not come back, no file matched this pattern")
    }

    @Test func textImagesAndOtherBytesInTheirOrderAfterTheList() throws {
        let files = [
            Self.file("out/a.csv", "a,b\n1,2\n"), ReturnedFile(path: "plot.png", content: Self.png),
            ReturnedFile(path: "model.bin", content: [0, 1, 2, 3]),
        ]
        let omitted = [OmittedFile(path: "link", reason: .symlink), OmittedFile(path: "*.json", reason: .noMatch)]
        let report = try #require(Self.report(files, omitted: omitted))
        #expect(report.content == [
            RunReport.plain("""
                Returned files (returnFiles): 3 files came back, 2 did not.
                - out/a.csv (8 bytes, text): shown below, whole
                - plot.png (1,000 bytes, PNG image): shown below as an image
                - model.bin (4 bytes, binary data): not shown, only text and images are
                - link: did not come back, a symbolic link (links are never followed)
                - *.json: did not come back, no file matched this pattern
                To see inside a binary file, have the code print what you need of it (its length, a hash, a decoded part).
                """),
            RunReport.plain("[returned file out/a.csv: 8 bytes, text]\na,b\n1,2\n"),
            RunReport.plain("[returned file plot.png: 1,000 bytes, PNG image]"),
            .image(data: Base64.encode(Self.png), mimeType: "image/png", annotations: nil, _meta: nil),
        ])
    }

    /// The files come between the output and the status line, which stays last.
    @Test func theResultShowsOutputThenFilesThenTheStatus() {
        let transcript = RunTranscript()
        transcript.record(.output(RunOutputParams(id: 1, stream: .stdout, text: "done\n", seq: 0)))
        let result = RunReport.result(Self.verdict([Self.file("r.txt", "42\n")]), transcript: transcript)
        let texts = Self.texts(result)
        #expect(texts.count == 4)
        #expect(texts[0] == "done\n" && texts[1].hasPrefix("Returned files") && texts[2].hasSuffix("\n42\n"))
        #expect(texts[3].hasPrefix("Status: ok"))
    }

    /// 200,000 lines against a 4 KiB text budget: the head, cut at a line end, and a line that says how much.
    @Test func aLargeTextFileIsItsHeadWithALineSayingWhatWasCut() throws {
        let text = (0..<200_000).map { String(format: "row %06d,%d\n", $0, $0 % 7) }.joined()
        let report = try #require(Self.report([Self.file("big.csv", text)], textBytes: 4096))
        guard case .head(let head, let shownBytes, let shownLines, let lines) = report.entries.first?.shown else {
            Issue.record("not cut: \(report.entries)")
            return
        }
        #expect(text.hasPrefix(head) && head.hasSuffix("\n") && head.hasPrefix("row 000000,0\n"))
        #expect(shownBytes == head.utf8.count && shownLines == head.count(where: { $0 == "\n" }) && lines == 200_000)
        let content = report.content
        #expect(content.count == 2)
        guard case .text(let shown, _, _) = content[1] else { Issue.record("\(content)"); return }
        #expect(TranscriptBuffer.itemOverhead + TextMeasure.jsonCost(shown) <= 4096)
        #expect(shownBytes > 4096 / 2, "most of the budget is used")
        #expect(shown.hasSuffix("\n[… cut here: the first \(RunReport.grouped(shownBytes)) of \(RunReport.grouped(text.utf8.count)) "
            + "bytes are shown (\(RunReport.grouped(shownLines)) of 200,000 lines); the list of returned files says how to read the rest.]"))
        let list = report.list
        #expect(list.contains("- big.csv (\(RunReport.grouped(text.utf8.count)) bytes, text): cut, its first \(RunReport.grouped(shownBytes)) bytes shown below"))
        #expect(list.contains("run with session: true and print parts of it in later calls, e.g. print(open('big.csv').read()[\(shownBytes):"))
        #expect(list.contains("resultTextBytes"))
    }

    /// Lines that end "\r\n" (one Character in Swift) are cut at their end too.
    @Test func aFileWithCRLFLinesIsCutAtALineEnd() throws {
        let text = (0..<5000).map { "line \($0);value\r\n" }.joined()
        let report = try #require(Self.report([Self.file("win.txt", text)], textBytes: 2048))
        guard case .head(let head, _, let shownLines, let lines) = report.entries.first?.shown else {
            Issue.record("not cut: \(report.entries)")
            return
        }
        #expect(head.utf8.last == 0x0A && head.utf8.dropLast().last == 0x0D, "\(head.suffix(30).debugDescription)")
        #expect(text.utf8.starts(with: head.utf8))
        #expect(lines == 5000 && shownLines > 10, "\(lines) \(shownLines)")
    }

    /// Small files come whole; what they leave is shared by the large ones.
    @Test func theTextBudgetIsSharedSmallFilesFirst() throws {
        let big = String(repeating: "b", count: 99) + "\n"
        let files = [
            Self.file("one.txt", String(repeating: big, count: 200)), Self.file("small.txt", "tiny\n"),
            Self.file("two.txt", String(repeating: big, count: 300)),
        ]
        let report = try #require(Self.report(files, textBytes: 8192))
        #expect(report.entries[1].shown == .whole("tiny\n"))
        guard case .head(_, let first, _, _) = report.entries[0].shown, case .head(_, let second, _, _) = report.entries[2].shown else {
            Issue.record("\(report.entries.map(\.shown))")
            return
        }
        #expect(abs(first - second) <= 200, "equal shares: \(first) and \(second)")
        let shown = report.content.dropFirst().map { if case .text(let text, _, _) = $0 { TranscriptBuffer.itemOverhead + TextMeasure.jsonCost(text) } else { 0 } }
        #expect(shown.reduce(0, +) <= 8192)
    }

    /// Images take what text left, in order, while they fit; one that does not fit is listed, not shown.
    @Test func imagesOverTheRoomLeftAreListedNotShown() throws {
        let large = [UInt8](Self.png.prefix(8)) + [UInt8](repeating: 1, count: 30_000)
        let files = [ReturnedFile(path: "a.png", content: large), ReturnedFile(path: "b.png", content: Self.png),
                     ReturnedFile(path: "c.png", content: large)]
        let report = try #require(Self.report(files, room: 45_000))
        guard case .noRoom(let needed, let left) = report.entries[2].shown else { Issue.record("\(report.entries)"); return }
        #expect(report.entries[0].shown == .image(mimeType: "image/png", base64: Base64.encode(large)))
        #expect(report.entries[1].shown == .image(mimeType: "image/png", base64: Base64.encode(Self.png)))
        #expect(needed > 40_000 && left < 45_000 - 40_000)
        #expect(report.list.contains("- c.png (30,008 bytes, PNG image): not shown, it needs \(RunReport.grouped(needed)) bytes of "
            + "the result and \(RunReport.grouped(left)) were left for it"))
        #expect(report.list.contains("return fewer or smaller files (a plot: a smaller figsize or dpi)"))
        let none = try #require(Self.report([ReturnedFile(path: "a.png", content: Self.png)], room: 0))
        // Its base64, its line and their JSON.
        #expect(none.entries.map(\.shown) == [.noRoom(needed: 1336 + 2 * TranscriptBuffer.itemOverhead + 47, left: 0)])
        #expect(none.content.count == 1)
    }

    @Test func everyReasonAFileDidNotComeBackIsSaid() throws {
        let reasons: [(OmittedFile.Reason, String)] = [
            (.noMatch, "no file matched this pattern"), (.symlink, "symbolic link"), (.notRegularFile, "not a regular file"),
            (.overLimit, "over the service's limit"), (.notCollected, "the program did not end by itself"),
            (.unreadable, "could not be read"), (.nameNotUTF8, "not UTF-8"),
        ]
        let report = try #require(Self.report([], omitted: reasons.map { OmittedFile(path: "p-\($0.0.rawValue)", reason: $0.0) }))
        for (reason, words) in reasons {
            #expect(report.list.contains("- p-\(reason.rawValue): did not come back, ") && report.list.contains(words), "\(reason)")
        }
    }

    /// 1,000 files (the service's most) and 1,000 omitted: the list stays within its bound and counts the rest.
    @Test func theListIsBounded() throws {
        let files = (0..<1000).map { Self.file("out/part-\($0).txt", "\($0)\n") }
        let omitted = (0..<1000).map { OmittedFile(path: "gone-\($0)", reason: .unreadable) }
        let report = try #require(Self.report(files, omitted: omitted, textBytes: 4096))
        let list = report.list
        #expect(TranscriptBuffer.itemOverhead + TextMeasure.jsonCost(list) <= ReturnedFilesReport.listBytes)
        #expect(list.hasPrefix("Returned files (returnFiles): 1000 files came back, 1000 did not.\n- out/part-0.txt (2 bytes, text)"))
        let listed = list.split(separator: "\n").filter { $0.hasPrefix("- out/") }.count
        #expect(list.contains("- … and \(2000 - listed) more not listed here (\(1000 - listed) came back, 1000 did not)"), "\(list)")
    }

    /// The whole result stays within the total budget whatever comes back beside a run that used its own budgets
    /// to the full (output past the text budget, plots up to the image budget): megabytes of text, images, 1,000 small files.
    @Test(arguments: ["large text", "large images", "many files"])
    func theEncodedResultWithFilesStaysWithinTheTotalBudget(_ shape: String) throws {
        let budget = ResultBudget.default
        let transcript = RunTranscript(budget: budget)
        let chunk = String(repeating: "x", count: 4095) + "\n"
        for seq in 0..<200 { transcript.record(.output(RunOutputParams(id: 1, stream: .stdout, text: chunk, seq: seq))) }
        let plot = String(repeating: "A", count: 60_000)
        for seq in 0..<5 { transcript.record(.display(RunDisplayParams(id: 1, seq: 200 + seq, data: ["image/png": .string(plot)]))) }
        let files: [ReturnedFile] = switch shape {
        case "large text": (0..<3).map { Self.file("big-\($0).csv", String(repeating: "1,\"two\"\t\u{1}\n", count: 100_000)) }
        case "large images": (0..<8).map { ReturnedFile(path: "p\($0).png", content: Self.png + [UInt8](repeating: 9, count: 40_000 * $0)) }
        default: (0..<1000).map { Self.file("f\($0).txt", String(repeating: "z", count: 300)) }
        }
        let result = RunReport.result(Self.verdict(files), transcript: transcript, notes: ["Session 'default' started."])
        let size = try Self.wireSize(result)
        #expect(size <= budget.totalBytes, "\(size) bytes")
        let texts = Self.texts(result)
        #expect(texts.last?.hasPrefix("Status: ok") == true && texts.contains { $0.hasPrefix("Returned files (returnFiles): ") })
    }
}
