/// The line each value of a JSON text starts on, by its path (`tenants`,
/// `0`, `limits`, `memoryMb`), so that a refusal of a tenants file can name
/// the line; and the first key that appears twice in one object, which
/// decoders settle silently (the last wins) and a tenants file must not.
/// The text has already been parsed as JSON: this only walks it.
struct JSONLines {
    private(set) var lines: [[String]: Int] = [:]
    /// A key that appears twice in one object: the object's path, the key and its second line.
    private(set) var duplicateKey: (path: [String], key: String, line: Int)?

    init(_ text: [UInt8]) {
        var walker = Walker(text: text)
        walker.value(at: [], into: &self)
    }

    func line(of path: [String]) -> Int? {
        var path = path
        while !path.isEmpty {
            if let line = lines[path] { return line }
            path.removeLast()
        }
        return lines[[]]
    }

    private struct Walker {
        let text: [UInt8]
        var index = 0
        var line = 1

        mutating func value(at path: [String], into found: inout JSONLines) {
            skipWhitespace()
            guard index < text.count else { return }
            if found.lines[path] == nil { found.lines[path] = line }
            switch text[index] {
            case UInt8(ascii: "{"):
                index += 1
                var keys: Set<String> = []
                while true {
                    skipWhitespace()
                    guard index < text.count, text[index] != UInt8(ascii: "}") else { break }
                    if text[index] == UInt8(ascii: ",") { index += 1; continue }
                    let keyLine = line
                    let key = string()
                    if !keys.insert(key).inserted, found.duplicateKey == nil { found.duplicateKey = (path, key, keyLine) }
                    skipWhitespace()
                    if index < text.count, text[index] == UInt8(ascii: ":") { index += 1 }
                    value(at: path + [key], into: &found)
                }
                index += 1
            case UInt8(ascii: "["):
                index += 1
                var position = 0
                while true {
                    skipWhitespace()
                    guard index < text.count, text[index] != UInt8(ascii: "]") else { break }
                    if text[index] == UInt8(ascii: ",") { index += 1; continue }
                    value(at: path + [String(position)], into: &found)
                    position += 1
                }
                index += 1
            case UInt8(ascii: "\""):
                _ = string()
            default:  // a number, true, false or null
                while index < text.count, !Self.ends(text[index]) { index += 1 }
            }
        }

        /// A string's text, escapes as written (keys of a tenants file need none).
        mutating func string() -> String {
            index += 1
            let start = index
            while index < text.count, text[index] != UInt8(ascii: "\"") {
                if text[index] == UInt8(ascii: "\\") { index += 1 }
                index += 1
            }
            let end = min(index, text.count)
            index += 1
            return String(decoding: text[start..<end], as: UTF8.self)
        }

        mutating func skipWhitespace() {
            while index < text.count {
                switch text[index] {
                case UInt8(ascii: "\n"): line += 1
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): break
                default: return
                }
                index += 1
            }
        }

        static func ends(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")
                || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
        }
    }
}
