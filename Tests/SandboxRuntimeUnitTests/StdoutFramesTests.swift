import SandboxProtocol
import Testing

@testable import SandboxRuntime

/// The frame parser on stdout sees whatever the program writes: split at
/// any byte, forged, cut short, oversized.
@Suite("Frames on stdout")
struct StdoutFramesTests {
    static let marker = Array("\0pysandbox:0123456789abcdef0123456789abcdef:".utf8)

    private func parser(maxDisplay: Int = 1000) -> StdoutFrames {
        StdoutFrames(marker: Self.marker) { $0 == .display ? maxDisplay : 100 }
    }

    private func frame(_ kind: String, _ payload: String) -> [UInt8] {
        Self.marker + Array("\(kind) \(payload.utf8.count)\n\(payload)".utf8)
    }

    /// Joins adjacent text pieces: how text is split is not meaningful.
    private func normalized(_ pieces: [StdoutFrames.Piece]) -> [StdoutFrames.Piece] {
        var joined: [StdoutFrames.Piece] = []
        for piece in pieces {
            if case .text(let more) = piece, case .text(let previous)? = joined.last {
                joined[joined.count - 1] = .text(previous + more)
            } else {
                joined.append(piece)
            }
        }
        return joined
    }

    @Test func textAndFramesComeApartAtEverySplitPoint() {
        let stream = Array("before\n".utf8) + frame("display", #"{"data":{}}"#) + Array("mid\0dle".utf8)
            + frame("files", "{}") + Array("after".utf8)
        let expected: [StdoutFrames.Piece] = [
            .text(Array("before\n".utf8)), .frame(.display, Array(#"{"data":{}}"#.utf8)), .text(Array("mid\0dle".utf8)),
            .frame(.files, Array("{}".utf8)), .text(Array("after".utf8)),
        ]
        for split in 0...stream.count {
            var frames = parser()
            let pieces = frames.feed(stream[..<split]) + frames.feed(stream[split...]) + frames.finish()
            #expect(normalized(pieces) == expected, "split at \(split)")
        }
        var bytewise = parser()
        let pieces = stream.flatMap { bytewise.feed([$0]) } + bytewise.finish()
        #expect(normalized(pieces) == expected)
    }

    @Test func aPartialMarkerAtTheEndIsText() {
        var frames = parser()
        let prefix = Array(Self.marker.prefix(10))
        #expect(frames.feed(Array("x".utf8) + prefix) == [.text(Array("x".utf8))])
        #expect(frames.finish() == [.text(prefix)])
    }

    @Test func aWrongNonceIsText() {
        var frames = parser()
        var forged = Self.marker
        forged[forged.count - 2] = UInt8(ascii: "0")
        let bytes = forged + Array("display 2\n{}".utf8)
        #expect(normalized(frames.feed(bytes) + frames.finish()) == [.text(bytes)])
    }

    @Test func oversizedAndMalformedHeadersStopTheParse() {
        var oversized = parser(maxDisplay: 10)
        #expect(oversized.feed(Self.marker + Array("display 11\n".utf8) + Array(repeating: 65, count: 11)) == [.oversized(.display, 11)])
        #expect(oversized.feed(Array("more".utf8)).isEmpty)
        for header in ["display -1\n", "display 1e3\n", "picture 3\n", "display 3 4\n", "display 99999999999999999\n",
                       String(repeating: "9", count: 40)] {
            var frames = parser()
            #expect(frames.feed(Self.marker + Array(header.utf8)) == [.malformed], "\(header.debugDescription)")
        }
    }

    @Test func aFrameCutShortIsDropped() {
        var frames = parser()
        #expect(frames.feed(frame("display", #"{"data":{}}"#).dropLast(3)).isEmpty)
        #expect(frames.finish().isEmpty)
    }

    @Test func displaysKeepOnlyKnownTypesAndNeedPlainText() {
        let display = FrameDecoding.display(Array(#"""
            {"data": {"text/plain": "x", "image/png": "AAEC", "image/jpeg": "not base64!", "text/html": 5,
                      "application/json": {"a": [1]}, "application/x-evil": "y"}, "metadata": {"image/png": {"width": 3}}}
            """#.utf8))
        #expect(display?.data == ["text/plain": "x", "image/png": "AAEC", "application/json": ["a": [1]]])
        #expect(display?.metadata == ["image/png": ["width": 3]])
        #expect(FrameDecoding.display(Array(#"{"data": {"text/html": "<b>"}}"#.utf8)) == nil)
        #expect(FrameDecoding.display(Array("not json".utf8)) == nil)
    }

    @Test func returnedFilesStayInsideTheWorkdirAndTheLimit() throws {
        let decoded = try #require(FrameDecoding.returnedFiles(Array(#"""
            {"files": [{"path": "a.bin", "base64": "AAEC"}, {"path": "../etc/passwd", "base64": "AA=="},
                       {"path": "/abs", "base64": "AA=="}, {"path": "b.bin", "base64": "AAECAw=="},
                       {"path": "a.bin", "base64": "AA=="}, {"path": "c.bin", "base64": "!!"}],
             "omitted": [{"path": "d", "reason": "symlink"}, {"path": "e", "reason": "madeUp"}]}
            """#.utf8), patterns: [ReturnPattern("*")], maxBytes: 5))
        #expect(decoded.files == [ReturnedFile(path: "a.bin", content: [0, 1, 2])])
        #expect(decoded.omitted == [
            OmittedFile(path: "b.bin", reason: .overLimit), OmittedFile(path: "c.bin", reason: .unreadable),
            OmittedFile(path: "d", reason: .symlink),
        ])
    }

    /// stderr's frames and a blocking read's sit among stdout's text in order.
    @Test func stderrAndStdinWantedFramesKeepTheirPlace() {
        var frames = StdoutFrames(marker: Self.marker) { $0 == .stderr ? StdoutFrames.Kind.maxStderrPayload : 24 }
        let stream = Array("A\n".utf8) + frame("stderr", "B\n") + Array("name? ".utf8) + frame("stdin_wanted", "")
            + Array("C".utf8) + frame("stderr", "é\n")
        for split in 0...stream.count {
            var parser = frames
            let pieces = normalized(parser.feed(stream[..<split]) + parser.feed(stream[split...]) + parser.finish())
            #expect(pieces == [
                .text(Array("A\n".utf8)), .frame(.stderr, Array("B\n".utf8)), .text(Array("name? ".utf8)),
                .frame(.stdinWanted, []), .text(Array("C".utf8)), .frame(.stderr, Array("é\n".utf8)),
            ], "split at \(split)")
        }
        // A stderr frame longer than one atomic write is no bootstrap's: the rest is discarded.
        let oversized = Self.marker + Array("stderr \(StdoutFrames.Kind.maxStderrPayload + 1)\n".utf8)
        #expect(frames.feed(oversized + Array("later".utf8)) == [.oversized(.stderr, StdoutFrames.Kind.maxStderrPayload + 1)])
    }
}
