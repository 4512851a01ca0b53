/// How output text is measured and cut for a result. Sizes are what the text
/// takes in the result's JSON as the MCP SDK writes it (no escaped slashes):
/// `"`, `\` and \b \t \n \f \r take 2 bytes, other control characters 6
/// (`\u00XX`), everything else its UTF-8 bytes. Cuts fall between
/// characters (grapheme clusters) when one is within a few scalars, and
/// always between Unicode scalars.
enum TextMeasure {
    static func jsonCost(_ text: some StringProtocol) -> Int {
        var cost = 0
        for byte in text.utf8 { cost += jsonCost(of: byte) }
        return cost
    }

    @inline(__always)
    static func jsonCost(of byte: UInt8) -> Int {
        switch byte {
        case 0x22, 0x5C, 0x08, 0x09, 0x0A, 0x0C, 0x0D: 2
        case ..<0x20: 6
        default: 1
        }
    }

    /// The end of the longest prefix of `text` that costs at most `budget`, and its cost.
    static func prefixEnd(of text: String, costAtMost budget: Int) -> (end: String.Index, cost: Int) {
        var cost = 0
        var scalarStart = text.startIndex
        var costBefore = 0
        for index in text.utf8.indices {
            let byte = text.utf8[index]
            if !isContinuation(byte) {
                scalarStart = index
                costBefore = cost
            }
            cost += jsonCost(of: byte)
            if cost > budget {
                let end = roundedDown(scalarStart, in: text)
                return (end, end == scalarStart ? costBefore : jsonCost(text[..<end]))
            }
        }
        return (text.endIndex, cost)
    }

    /// The start of the shortest suffix of `text` left after dropping at
    /// least `excess` bytes of cost from its front (the end index if all of it goes).
    static func suffixStart(of text: String, droppingAtLeast excess: Int) -> String.Index {
        var cost = 0
        for index in text.utf8.indices {
            let byte = text.utf8[index]
            if cost >= excess, !isContinuation(byte) { return roundedUp(index, in: text) }
            cost += jsonCost(of: byte)
        }
        return text.endIndex
    }

    @inline(__always)
    static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }

    /// `index` (a scalar boundary), moved back to a character boundary if one is near.
    static func roundedDown(_ index: String.Index, in text: String) -> String.Index {
        var candidate = index
        for _ in 0..<characterSearch {
            if String.Index(candidate, within: text) != nil { return candidate }
            guard candidate > text.startIndex else { break }
            candidate = text.unicodeScalars.index(before: candidate)
        }
        return index
    }

    /// `index` (a scalar boundary), moved on to a character boundary if one is near.
    static func roundedUp(_ index: String.Index, in text: String) -> String.Index {
        var candidate = index
        for _ in 0..<characterSearch {
            if String.Index(candidate, within: text) != nil { return candidate }
            guard candidate < text.endIndex else { break }
            candidate = text.unicodeScalars.index(after: candidate)
        }
        return index
    }

    /// Scalars looked through for a character boundary (an emoji family is a handful).
    static let characterSearch = 16
}

/// Output left out of a result, in the units an agent can act on.
public struct OmittedAmount: Sendable, Equatable {
    /// Unicode scalars: what Python's `len` and slices count.
    public var characters = 0
    /// UTF-8 bytes.
    public var bytes = 0
    /// Newlines among them.
    public var lineBreaks = 0
    /// Images made in the part left out that were over the image budget.
    public var imagesLeftOut = 0
    /// Images made in the part left out that are shown after the line that says so.
    public var imagesKept = 0

    public init() {}

    public var isEmpty: Bool { characters == 0 && imagesLeftOut == 0 }

    mutating func add(_ text: some StringProtocol) {
        bytes += text.utf8.count
        for byte in text.utf8 {
            if !TextMeasure.isContinuation(byte) { characters += 1 }
            if byte == 0x0A { lineBreaks += 1 }
        }
    }
}
