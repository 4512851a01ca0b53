import SandboxProtocol
import SandboxRuntime
import Testing

@testable import SandboxServer

@Suite("OutputCoalescing")
struct OutputCoalescingTests {
    static let interval = Duration.milliseconds(10)
    static let pause = Duration.milliseconds(1)

    func chunk(_ text: String, _ stream: OutputChunk.Stream = .stdout) -> OutputChunk {
        OutputChunk(stream: stream, bytes: Array(text.utf8))
    }

    /// After a quiet spell, output goes out after the short pause that keeps one print's writes together.
    @Test func outputAfterAQuietSpellGoesOutAfterThePause() {
        var coalescing = OutputCoalescing(interval: Self.interval, pause: Self.pause)
        let start = ContinuousClock.now
        let (now, flushAfter) = coalescing.add(chunk("hello"), now: start)
        #expect(now.isEmpty)
        #expect(flushAfter == Self.pause)
        // print's newline comes as a second write before the flush: it joins.
        let (more, again) = coalescing.add(chunk("\n"), now: start + .microseconds(200))
        #expect(more.isEmpty && again == nil)
        #expect(coalescing.flushDue(now: start + Self.pause) == [OutputMessage(stream: .stdout, text: "hello\n", seq: 0)])
    }

    /// While output keeps coming, it is gathered and sent once per interval.
    @Test func steadyOutputIsCoalescedAcrossThePauses() {
        var coalescing = OutputCoalescing(interval: Self.interval, pause: Self.pause)
        let start = ContinuousClock.now
        _ = coalescing.add(chunk("a\n"), now: start)
        let first = coalescing.flushDue(now: start + Self.pause)
        #expect(first.map(\.text) == ["a\n"])
        // Right after a message went out, the next flush waits for the rest of the interval.
        let (_, flushAfter) = coalescing.add(chunk("b\n"), now: start + .milliseconds(2))
        #expect(flushAfter == .milliseconds(9))
        for index in 0..<50 { _ = coalescing.add(chunk("\(index)\n"), now: start + .milliseconds(3)) }
        let second = coalescing.flushDue(now: start + .milliseconds(11))
        #expect(second.count == 1)
        #expect(second.first?.text.hasPrefix("b\n0\n1\n") == true)
        #expect(second.first?.seq == 1)
    }

    @Test func aCharacterSplitAcrossChunksIsNeverSplitInAMessage() {
        var coalescing = OutputCoalescing(interval: Self.interval, pause: Self.pause)
        let start = ContinuousClock.now
        let bytes = Array("é".utf8)
        _ = coalescing.add(OutputChunk(stream: .stdout, bytes: [0x41, bytes[0]]), now: start)
        #expect(coalescing.flushDue(now: start + Self.pause).map(\.text) == ["A"])
        _ = coalescing.add(OutputChunk(stream: .stdout, bytes: [bytes[1]]), now: start + .milliseconds(20))
        #expect(coalescing.flushDue(now: start + .milliseconds(21)).map(\.text) == ["é"])
    }

    @Test func aStreamChangeSendsWhatIsPendingFirst() {
        var coalescing = OutputCoalescing(interval: Self.interval, pause: Self.pause)
        let start = ContinuousClock.now
        _ = coalescing.add(chunk("out"), now: start)
        let (switched, _) = coalescing.add(chunk("err", .stderr), now: start)
        #expect(switched == [OutputMessage(stream: .stdout, text: "out", seq: 0)])
        #expect(coalescing.finish(now: start) == [OutputMessage(stream: .stderr, text: "err", seq: 1)])
    }

    /// Combining marks at every possible cut (as decoded random bytes give): every message makes progress.
    @Test func combiningMarksAtTheCutDoNotStallTheCoalescer() {
        var coalescing = OutputCoalescing(interval: Self.interval, pause: Self.pause)
        let text = String(repeating: "e\u{0301}", count: OutputCoalescing.maxMessageBytes / 3 * 2)
        let (messages, _) = coalescing.add(chunk(text), now: .now)
        let rest = coalescing.finish(now: .now)
        #expect((messages + rest).map(\.text).joined() == text)
        #expect(messages.allSatisfy { $0.text.utf8.count <= OutputCoalescing.maxMessageBytes && !$0.text.isEmpty })
    }

    @Test func fullMessagesGoAtOnceAndTheEndFlushesTheRest() {
        var coalescing = OutputCoalescing(interval: Self.interval, pause: Self.pause)
        let start = ContinuousClock.now
        let big = String(repeating: "x", count: OutputCoalescing.maxMessageBytes * 2 + 10)
        let (messages, _) = coalescing.add(chunk(big), now: start)
        #expect(messages.map(\.text.utf8.count) == [OutputCoalescing.maxMessageBytes, OutputCoalescing.maxMessageBytes])
        // An incomplete character at the very end is replaced, not lost.
        _ = coalescing.add(OutputChunk(stream: .stdout, bytes: [0xE2, 0x98]), now: start)
        #expect(coalescing.finish(now: start).map(\.text) == [String(repeating: "x", count: 10) + "\u{FFFD}"])
    }
}

@Suite("OutputCoalescer")
struct OutputCoalescerTests {
    @Test func everythingIsEmittedInOrderByTheEnd() async {
        let (output, sink) = AsyncStream.makeStream(of: RunOutput.self)
        let emitted = EmittedMessages()
        let forwarding = Task { await OutputCoalescer(emit: emitted.append).forward(output) }
        for index in 0..<1000 {
            sink.yield(.text(OutputChunk(stream: index % 100 == 0 ? .stderr : .stdout, bytes: Array("\(index)\n".utf8))))
        }
        sink.finish()
        await forwarding.value
        let messages = emitted.all
        #expect(messages.compactMap(\.seq) == Array(0..<messages.count))
        let stdout = messages.filter { $0.stream == .stdout }.map(\.text).joined()
        #expect(stdout == (0..<1000).filter { $0 % 100 != 0 }.map { "\($0)\n" }.joined())
    }
}
