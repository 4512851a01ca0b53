import MCP
import SandboxProtocol

/// `session/files/read`'s answer as `read_file`'s result, told from the
/// file's bytes (never its name), each after a line that names the file
/// and says how it is shown: text as text, whole or its head cut at a
/// line end within the budget's text bytes, with a note on what was left
/// out and how to read it; a PNG, JPEG, GIF or WebP as an image while its
/// base64 fits the whole result's budget; other bytes by size and type,
/// with their base64 when they are few (`smallBinaryBytes`).
enum FileReadReport {
    /// Binary files up to this size come with their base64.
    static let smallBinaryBytes = 4096

    static func result(_ read: SessionFilesReadResult, path: String, session: String, budget: ResultBudget) -> CallTool.Result {
        guard let bytes = read.bytes else {
            return RunReport.error("The sandbox service's answer for \(SessionFileTools.shownPath(path)) had neither text nor valid base64.")
        }
        let name = "\(SessionFileTools.shownPath(path)) (session '\(session)')"
        let size = "\(RunReport.grouped(bytes.count)) bytes"
        switch ReturnedFileKind(bytes) {
        case .text(let text):
            return self.text(text, name: name, size: size, path: path, session: session, budget: budget)
        case .image(let mimeType, let kind):
            let base64 = read.base64 ?? Base64.encode(bytes)
            let room = budget.totalBytes - ResultBudget.reserveBytes
            guard base64.utf8.count + TranscriptBuffer.itemOverhead <= room else {
                return Self.plain("""
                    \(name): \(size), \(kind), not shown: its base64 takes \(RunReport.grouped(base64.utf8.count)) bytes, \
                    over the \(RunReport.grouped(room)) bytes a result may hold. Make a smaller copy with run_python in \
                    session '\(session)' (e.g. with Pillow: im = Image.open(path); im.thumbnail((800, 800)); \
                    im.save('small.png')) and read that.
                    """)
            }
            return CallTool.Result(content: [
                RunReport.plain("\(name): \(size), \(kind), shown below."),
                .image(data: base64, mimeType: mimeType, annotations: nil, _meta: nil),
            ], isError: false)
        case .binary(let kind):
            let what = "\(name): \(size), \(kind) (not text: its bytes are not UTF-8, or hold NUL bytes)"
            guard bytes.count <= Self.smallBinaryBytes else {
                return Self.plain("""
                    \(what). Not shown: only binary files of at most \(RunReport.size(Self.smallBinaryBytes)) come with \
                    their bytes. Have run_python in session '\(session)' print what you need of it (its length, a hash, \
                    a decoded part, e.g. with struct, zipfile or numpy.load).
                    """)
            }
            return CallTool.Result(content: [
                RunReport.plain("\(what). Its bytes in base64 follow."),
                RunReport.plain(read.base64 ?? Base64.encode(bytes)),
            ], isError: false)
        }
    }

    private static func text(
        _ text: String, name: String, size: String, path: String, session: String, budget: ResultBudget
    ) -> CallTool.Result {
        guard !text.isEmpty else { return Self.plain("\(name): empty (0 bytes).") }
        let lines = lineBreaks(text) + (text.utf8.last == 0x0A ? 0 : 1)
        let lineCount = lines == 1 ? "1 line" : "\(RunReport.grouped(lines)) lines"
        // The text follows its line in one item: a text item that starts with "data:" would reach the client
        // mangled (the MCP SDK reads such strings of a result as data URLs).
        if TextMeasure.jsonCost(text) <= budget.textBytes {
            return Self.plain("\(name): \(size), \(lineCount) of text, shown whole below.\n" + text)
        }
        var (end, _) = TextMeasure.prefixEnd(of: text, costAtMost: budget.textBytes)
        // At a line end (found as a byte: "\r\n" is one Character); within the first line only if it alone is over.
        var withinLine = true
        if let newline = text.utf8[..<end].lastIndex(of: 0x0A) {
            end = text.utf8.index(after: newline)
            withinLine = false
        }
        let head = text[..<end]
        let shownLines = lineBreaks(head)
        let left = text[end...]
        let leftBytes = left.utf8.count
        let leftLines = lines - shownLines
        let shown = withinLine ? "the first \(RunReport.grouped(head.utf8.count)) bytes, within its first line"
            : "the first \(RunReport.grouped(shownLines)) of its \(lineCount) (\(RunReport.grouped(head.utf8.count)) bytes)"
        let literal = SessionFileTools.pythonLiteral(path)
        let characters = head.unicodeScalars.count
        let example = withinLine
            ? "print(open(\(literal)).read()[\(characters):\(characters * 2)])"
            : "print(''.join(open(\(literal)).readlines()[\(shownLines):\(shownLines * 2)]))"
        let note = """
            [… cut here: \(RunReport.grouped(leftBytes)) bytes (\(leftLines == 1 ? "1 line" : "\(RunReport.grouped(leftLines)) lines")) \
            of the file are left out: a result shows at most \(RunReport.grouped(budget.textBytes)) bytes of a file's text. \
            To read on, run_python in session '\(session)' can print the next part, e.g. \(example); or search it there \
            (grep-like, with a loop over its lines).]
            """
        return CallTool.Result(content: [
            RunReport.plain("\(name): \(size), \(lineCount) of text, cut: \(shown) are shown below.\n" + head),
            RunReport.plain(note),
        ], isError: false)
    }

    private static func lineBreaks(_ text: some StringProtocol) -> Int {
        text.utf8.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    private static func plain(_ text: String) -> CallTool.Result {
        CallTool.Result(content: [RunReport.plain(text)], isError: false)
    }
}
