import SandboxProtocol

/// What Tab does to the line being typed: the text just before the cursor
/// that is replaced, what replaces it, and the names to list below the
/// prompt when several match.
struct LineCompletion: Equatable, Sendable {
    /// How many characters (code points) before the cursor are replaced.
    var replacing: Int
    var text: String
    /// The matches to show, when there are several; empty otherwise.
    var candidates: [String]

    /// Tab with only whitespace before the cursor: Python's indentation.
    static let indentation = LineCompletion(replacing: 0, text: "    ", candidates: [])
}

/// A `code/complete` request for Tab at the prompt: the block's lines so far
/// and the line up to the cursor make the code, and the cursor is its end.
struct CompletionRequest: Equatable, Sendable {
    let code: String
    /// Where the line being typed starts in `code`, in code points.
    let lineStart: Int

    init(block: [String], lineBeforeCursor: String) {
        let before = block.map { $0 + "\n" }.joined()
        code = before + lineBeforeCursor
        lineStart = before.unicodeScalars.count
    }

    /// The cursor, in code points: the end of the code.
    var cursor: Int { code.unicodeScalars.count }

    /// What the answer does to the line, as Python's prompt completes: one
    /// match replaces the name typed; several are listed, and what they all
    /// begin with replaces it when that is longer. nil when nothing changes
    /// and nothing is listed: no match, or an answer about another part of
    /// the code than the name before the cursor on this line.
    func completion(from answer: CompleteResult) -> LineCompletion? {
        guard answer.cursorEnd == cursor, (lineStart...answer.cursorEnd).contains(answer.cursorStart) else { return nil }
        let typed = String(String.UnicodeScalarView(code.unicodeScalars.suffix(cursor - answer.cursorStart)))
        // A name is shown and edited as text: one that would draw control characters is not one.
        let matches = answer.matches.filter { match in
            !match.isEmpty && !match.unicodeScalars.contains { $0.properties.generalCategory == .control }
        }
        guard let first = matches.first else { return nil }
        let replacing = typed.unicodeScalars.count
        guard matches.count > 1 else { return LineCompletion(replacing: replacing, text: first, candidates: []) }
        let shared = Self.commonPrefix(matches)
        let longer = shared.unicodeScalars.count > replacing && shared.unicodeScalars.starts(with: typed.unicodeScalars)
        return LineCompletion(replacing: longer ? replacing : 0, text: longer ? shared : "", candidates: matches)
    }

    /// The code points every one of `names` begins with.
    static func commonPrefix(_ names: [String]) -> String {
        guard var shared = names.first.map({ Array($0.unicodeScalars) }) else { return "" }
        for name in names.dropFirst() {
            let scalars = Array(name.unicodeScalars)
            let length = zip(shared, scalars).prefix { $0 == $1 }.count
            shared.removeSubrange(length...)
        }
        return String(String.UnicodeScalarView(shared))
    }
}
