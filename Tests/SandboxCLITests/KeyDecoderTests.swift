import Testing

@testable import sandbox

/// Bytes of a terminal in raw mode → keys.
@Suite("KeyDecoder")
struct KeyDecoderTests {
    /// The keys `bytes` decode to, fed in pieces of `pieceSize` bytes by one
    /// decoder (as reads of stdin split them).
    static func keys(_ bytes: [UInt8], pieceSize: Int = 1) -> [Key] {
        var decoder = KeyDecoder()
        var keys: [Key] = []
        var start = 0
        while start < bytes.count {
            let piece = bytes[start..<min(start + pieceSize, bytes.count)]
            keys += piece.compactMap { decoder.take($0) }
            start += pieceSize
        }
        return keys
    }

    static func keys(_ text: String) -> [Key] { keys(Array(text.utf8)) }

    @Test func printableAsciiAreCharacters() {
        #expect(Self.keys("a Z~") == [.character("a"), .character(" "), .character("Z"), .character("~")])
    }

    @Test func enterBackspaceAndTabInBothSpellings() {
        #expect(Self.keys([0x0D, 0x0A, 0x7F, 0x08, 0x09]) == [.enter, .enter, .backspace, .backspace, .tab])
    }

    @Test func controlKeysCarryTheirByte() {
        #expect(Self.keys([0x01, 0x03, 0x04, 0x05, 0x0B, 0x15]) == [
            .control(0x01), .control(0x03), .control(0x04), .control(0x05), .control(0x0B), .control(0x15),
        ])
    }

    @Test(arguments: [
        ("\u{1B}[A", Key.up), ("\u{1B}[B", .down), ("\u{1B}[C", .right), ("\u{1B}[D", .left),
        ("\u{1B}OA", .up), ("\u{1B}OB", .down), ("\u{1B}OC", .right), ("\u{1B}OD", .left),
        ("\u{1B}[H", .home), ("\u{1B}OH", .home), ("\u{1B}[1~", .home), ("\u{1B}[7~", .home),
        ("\u{1B}[F", .end), ("\u{1B}OF", .end), ("\u{1B}[4~", .end), ("\u{1B}[8~", .end),
        ("\u{1B}[3~", .delete),
        // Ctrl-Right and Shift-Up: the modifier parameter is ignored.
        ("\u{1B}[1;5C", .right), ("\u{1B}[1;2A", .up),
    ])
    func escapeSequencesAreKeys(_ sequence: String, _ key: Key) {
        #expect(Self.keys(sequence) == [key])
    }

    /// A read may end anywhere in a sequence: the decoder carries it over.
    @Test(arguments: 1...4)
    func sequencesSplitAcrossReadsDecodeTheSame(_ pieceSize: Int) {
        let bytes = Array("a\u{1B}[3~\u{1B}[1;5Dé€😀\u{1B}OHz".utf8)
        #expect(Self.keys(bytes, pieceSize: pieceSize) == [
            .character("a"), .delete, .left, .character("é"), .character("€"), .character("😀"), .home, .character("z"),
        ])
    }

    @Test func multiByteCharactersAreOneKeyEach() {
        #expect(Self.keys("é€😀") == [.character("é"), .character("€"), .character("😀")])
    }

    /// Unknown sequences (Insert, F5, Alt-x) are dropped whole, and what
    /// follows them decodes as usual.
    @Test func unknownSequencesAreDroppedWhole() {
        #expect(Self.keys("\u{1B}[2~a\u{1B}[15~b\u{1B}OPc") == [.character("a"), .character("b"), .character("c")])
        #expect(Self.keys("\u{1B}xy") == [.character("y")])
    }

    /// The editor asks for no bracketed paste; should a terminal send its
    /// markers, they are dropped and the pasted text comes through as typed.
    @Test func bracketedPasteMarkersAreDroppedAndTheTextKept() {
        #expect(Self.keys("\u{1B}[200~ab\r\u{1B}[201~") == [.character("a"), .character("b"), .enter])
    }

    /// A character cut short by another byte is dropped; that byte is not.
    @Test func brokenUTF8IsDroppedAndWhatFollowsKept() {
        #expect(Self.keys([0xC3, 0x61]) == [.character("a")])
        #expect(Self.keys([0xE2, 0x82, 0x0D]) == [.enter])
        #expect(Self.keys([0x80, 0xBF, 0x62]) == [.character("b")])
        #expect(Self.keys([0xE2, 0x82, 0x1B, 0x5B, 0x41]) == [.up])
    }
}
