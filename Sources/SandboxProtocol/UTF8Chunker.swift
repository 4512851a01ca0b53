/// Turns one stream's bytes into text without splitting a character across
/// messages: an incomplete sequence at the end waits for the next bytes.
/// Invalid bytes become U+FFFD.
public struct UTF8Chunker: Sendable {
    public init() {}

    private var carry: [UInt8] = []

    /// The text of everything complete so far.
    public mutating func append(_ bytes: [UInt8]) -> String {
        var all = carry + bytes
        let cut = Self.completePrefixLength(all)
        carry = Array(all[cut...])
        all.removeSubrange(cut...)
        return String(decoding: all, as: UTF8.self)
    }

    /// What is left at the end of the stream, replaced if incomplete.
    public mutating func finish() -> String {
        defer { carry = [] }
        return String(decoding: carry, as: UTF8.self)
    }

    /// Length of `bytes` without a trailing sequence that more bytes could still complete.
    public static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        // A sequence is at most 4 bytes: look back at most 3 for its lead byte.
        var index = bytes.count - 1
        while index >= 0 && index >= bytes.count - 3 && bytes[index] & 0xC0 == 0x80 { index -= 1 }
        guard index >= 0 else { return bytes.count }
        let lead = bytes[index]
        let length = switch lead {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 1  // ASCII or a byte that starts nothing valid
        }
        return bytes.count - index < length ? index : bytes.count
    }

    /// The longest prefix of `text` of at most `limit` UTF-8 bytes that ends on a Unicode scalar boundary, and the rest.
    public static func split(_ text: Substring, atMost limit: Int) -> (Substring, Substring) {
        let utf8 = text.utf8
        guard utf8.count > limit else { return (text, "") }
        var end = utf8.index(utf8.startIndex, offsetBy: limit)
        while end > utf8.startIndex && !text.unicodeScalars.indices.contains(end) && UTF8.isContinuation(utf8[end]) {
            end = utf8.index(before: end)
        }
        // A scalar boundary, not a character one: the cut may fall before a
        // combining mark, and rounding that down to a character boundary
        // could leave nothing before it (the caller would never get on).
        return (Substring(text.unicodeScalars[..<end]), Substring(text.unicodeScalars[end...]))
    }
}
