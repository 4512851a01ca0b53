/// The lines typed for one snippet, and whether they make a whole one yet:
/// the rules of Python's own prompt, decided here without asking the
/// sandbox. A line continues while a bracket or a triple-quoted string is
/// open or it ends in a backslash; a compound statement (`def f():`,
/// `for x in y: print(x)`, a decorator) continues until an empty line.
struct PythonBlock {
    private(set) var lines: [String] = []

    var isEmpty: Bool { lines.isEmpty }

    /// The code to run: the lines without the empty one that ended a block.
    var code: String {
        var lines = lines
        while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    mutating func append(_ line: String) { lines.append(line) }

    mutating func clear() { lines = [] }

    /// True when the snippet may run: nothing is open, and a compound
    /// statement has been ended by an empty line.
    var isComplete: Bool {
        guard let last = lines.last else { return false }
        let scan = Scan(lines)
        if scan.isOpen { return false }
        if code.allSatisfy(\.isWhitespace) { return true }
        guard scan.opensBlock || Self.startsCompoundStatement(lines[0]) else { return true }
        return lines.count > 1 && last.allSatisfy(\.isWhitespace)
    }

    /// Keywords that begin a compound statement, which Python's prompt
    /// always continues even when its body is on the same line.
    private static let compoundKeywords: Set<Substring> = ["if", "for", "while", "try", "with", "def", "class", "async"]

    private static func startsCompoundStatement(_ line: String) -> Bool {
        let text = line.drop { $0 == " " || $0 == "\t" }
        if text.hasPrefix("@") { return true }
        let word = text.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return compoundKeywords.contains(word)
    }

    /// One pass over the lines: brackets, strings, comments and line ends.
    private struct Scan {
        /// A bracket or a triple-quoted string is open, or the last line ends in `\`.
        var isOpen = false
        /// A line ends in `:` outside brackets, strings and comments.
        var opensBlock = false

        init(_ lines: [String]) {
            var depth = 0
            var quote: (character: Character, triple: Bool)?
            var continued = false
            for line in lines {
                let characters = Array(line)
                var index = 0
                var lastCode: Character?
                continued = false
                while index < characters.count {
                    let character = characters[index]
                    if let open = quote {
                        if character == "\\" {
                            index += 2
                            continue
                        }
                        if character == open.character {
                            if !open.triple {
                                quote = nil
                            } else if index + 2 < characters.count, characters[index + 1] == open.character, characters[index + 2] == open.character {
                                quote = nil
                                index += 2
                            }
                        }
                        index += 1
                        continue
                    }
                    switch character {
                    case "#":
                        index = characters.count
                        continue
                    case "\"", "'":
                        let triple = index + 2 < characters.count && characters[index + 1] == character && characters[index + 2] == character
                        quote = (character, triple)
                        index += triple ? 3 : 1
                        lastCode = character
                        continue
                    case "(", "[", "{": depth += 1
                    case ")", "]", "}": depth = max(0, depth - 1)
                    case "\\" where index == characters.count - 1: continued = true
                    default: break
                    }
                    if !character.isWhitespace { lastCode = character }
                    index += 1
                }
                // A single-quoted string does not run past its line.
                if let open = quote, !open.triple { quote = nil }
                if depth == 0 && lastCode == ":" { opensBlock = true }
            }
            isOpen = depth > 0 || quote != nil || continued
        }
    }
}
