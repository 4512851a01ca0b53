import SandboxProtocol
import Testing

@Suite("UTF8Chunker")
struct UTF8ChunkerTests {
    @Test func aCharacterSplitAcrossChunksArrivesWhole() {
        var chunker = UTF8Chunker()
        let snowman = Array("☃".utf8)  // 3 bytes
        #expect(chunker.append(Array("a".utf8) + snowman.prefix(1)) == "a")
        #expect(chunker.append(Array(snowman[1..<2])) == "")
        #expect(chunker.append(Array(snowman[2...]) + Array("b".utf8)) == "☃b")
        #expect(chunker.finish() == "")
    }

    @Test func everySplitOfAFourByteCharacterWaitsForTheRest() {
        let bytes = Array("x😀y".utf8)
        for cut in 1..<bytes.count {
            var chunker = UTF8Chunker()
            let text = chunker.append(Array(bytes[..<cut])) + chunker.append(Array(bytes[cut...])) + chunker.finish()
            #expect(text == "x😀y", "cut at \(cut)")
        }
    }

    @Test func invalidBytesBecomeReplacementCharacters() {
        var chunker = UTF8Chunker()
        #expect(chunker.append([0x61, 0xFF, 0x62]) == "a\u{FFFD}b")
        // A lead byte with nothing after it is held back, then replaced at the end.
        #expect(chunker.append([0xE2]) == "")
        #expect(chunker.finish() == "\u{FFFD}")
    }

    @Test func splitAtMostKeepsCharactersWhole() {
        let text: Substring = "ab☃cd"  // a b (3 bytes) c d
        let (head, tail) = UTF8Chunker.split(text, atMost: 3)
        #expect(head == "ab")
        #expect(tail == "☃cd")
        let (all, none) = UTF8Chunker.split(text, atMost: 100)
        #expect(all == text && none.isEmpty)
    }
}
