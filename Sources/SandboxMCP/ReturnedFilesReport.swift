import MCP
import SandboxProtocol

/// The files a run's `returnFiles` brought back, as `run_python`'s result
/// shows them: first a list naming each file that came back (its size, its
/// type, and whether it is shown whole, cut or not at all) and each match or
/// pattern that did not (and why), then the files: text as text, whole or its
/// head with a line saying what was cut; PNG, JPEG, GIF and WebP as images;
/// other bytes by name, size and type in the list only.
///
/// Bounded as the rest of the result is (`ResultBudget`): the files share
/// the room the run's own images left (`room`), and their text together
/// takes at most `textBytes`, the output's text budget, since text costs an
/// agent context by its length. Text is shared out so that small files come
/// whole and large ones get equal heads; images then take what is left, in
/// order, while they fit. The list is at most `listBytes`, taken from the
/// service's reserve (`ResultBudget.reserveBytes`), so it is always there.
struct ReturnedFilesReport {
    /// How one returned file is shown.
    enum Shown: Sendable, Equatable {
        case whole(String)
        /// Its first `shownBytes` bytes (`shownLines` whole lines of `lines`).
        case head(String, shownBytes: Int, shownLines: Int, lines: Int)
        case image(mimeType: String, base64: String)
        /// Text or an image the result had no room for: it would have needed
        /// `needed` bytes (for text, the least of a useful head), and `left` were left.
        case noRoom(needed: Int, left: Int)
        /// Neither text nor an image: listed only.
        case listedOnly
    }

    struct Entry: Sendable, Equatable {
        var path: String
        var size: Int
        var kind: String
        var shown: Shown
    }

    /// Every file that came back, in the order the verdict gives them (pattern order).
    let entries: [Entry]
    /// Every match or pattern that did not.
    let omitted: [OmittedFile]

    /// The list's most, as the result's JSON carries it.
    static let listBytes = 2048
    /// A cut file shows at least this much of its head, or is not shown.
    static let minimumHeadBytes = 256

    /// nil when the run asked for no files (the verdict has neither list).
    init?(_ verdict: Verdict, room: Int, textBytes: Int) {
        guard verdict.files != nil || verdict.omittedFiles != nil else { return nil }
        let files = verdict.files ?? []
        omitted = verdict.omittedFiles ?? []
        let kinds = files.map { ReturnedFileKind($0.content) }
        var shown = [Shown](repeating: .listedOnly, count: files.count)
        var left = room

        // Text: each file's share of the text room, the smallest first, so that what a small file leaves goes to the larger.
        var textCosts: [(index: Int, text: String, cost: Int)] = []
        for (index, kind) in kinds.enumerated() {
            guard case .text(let text) = kind else { continue }
            let fixed = TranscriptBuffer.itemOverhead + TextMeasure.jsonCost(Self.header(files[index], kind: kind))
            textCosts.append((index, text, fixed + TextMeasure.jsonCost(text)))
        }
        var textLeft = min(textBytes, room)
        for (order, file) in textCosts.sorted(by: { $0.cost < $1.cost }).enumerated() {
            let share = textLeft / (textCosts.count - order)
            let (item, cost) = Self.text(file.text, cost: file.cost, share: share, fixed: file.cost - TextMeasure.jsonCost(file.text))
            shown[file.index] = item
            textLeft -= cost
            left -= cost
        }

        // Images: in order, while they fit what text left.
        for (index, kind) in kinds.enumerated() {
            guard case .image(let mimeType, _) = kind else { continue }
            let base64Bytes = (files[index].content.count + 2) / 3 * 4
            let cost = 2 * TranscriptBuffer.itemOverhead + TextMeasure.jsonCost(Self.header(files[index], kind: kind)) + base64Bytes
            if cost <= left {
                shown[index] = .image(mimeType: mimeType, base64: Base64.encode(files[index].content))
                left -= cost
            } else {
                shown[index] = .noRoom(needed: cost, left: left)
            }
        }
        entries = files.indices.map { Entry(path: files[$0].path, size: files[$0].content.count, kind: kinds[$0].name, shown: shown[$0]) }
    }

    /// A text file within `share`: whole, its head, or not shown; and what that costs.
    private static func text(_ text: String, cost: Int, share: Int, fixed: Int) -> (Shown, Int) {
        if cost <= share { return (.whole(text), cost) }
        let size = text.utf8.count
        let lines = lineBreaks(text) + (text.utf8.last == 0x0A ? 0 : 1)
        // The note with the whole file's numbers is at least as long as the note will be.
        let noteBound = TextMeasure.jsonCost(cutNote(.head("", shownBytes: size, shownLines: lines, lines: lines), size: size))
        let room = share - fixed - noteBound
        guard room >= minimumHeadBytes else { return (.noRoom(needed: fixed + noteBound + minimumHeadBytes, left: max(0, share)), 0) }
        var (end, _) = TextMeasure.prefixEnd(of: text, costAtMost: room)
        // At a line end when one is near (found as a byte: "\r\n" is one Character).
        if let newline = text.utf8[..<end].lastIndex(of: 0x0A) {
            let lineEnd = text.utf8.index(after: newline)
            if TextMeasure.jsonCost(text[lineEnd..<end]) <= room / 4 { end = lineEnd }
        }
        let head = String(text[..<end])
        let shown = Shown.head(head, shownBytes: head.utf8.count, shownLines: lineBreaks(head), lines: lines)
        return (shown, fixed + TextMeasure.jsonCost(head) + TextMeasure.jsonCost(cutNote(shown, size: size)))
    }

    private static func lineBreaks(_ text: String) -> Int {
        text.utf8.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    // MARK: Content

    /// The list, then each file shown.
    var content: [Tool.Content] {
        var content = [RunReport.plain(list)]
        for entry in entries {
            let header = Self.header(path: entry.path, size: entry.size, kind: entry.kind)
            switch entry.shown {
            case .whole(let text):
                content.append(RunReport.plain(header + "\n" + text))
            case .head(let text, _, _, _):
                content.append(RunReport.plain(header + "\n" + text + Self.cutNote(entry.shown, size: entry.size)))
            case .image(let mimeType, let base64):
                content.append(RunReport.plain(header))
                content.append(.image(data: base64, mimeType: mimeType, annotations: nil, _meta: nil))
            case .noRoom, .listedOnly:
                continue
            }
        }
        return content
    }

    private static func header(_ file: ReturnedFile, kind: ReturnedFileKind) -> String {
        header(path: file.path, size: file.content.count, kind: kind.name) + "\n"
    }

    private static func header(path: String, size: Int, kind: String) -> String {
        "[returned file \(path): \(RunReport.grouped(size)) bytes, \(kind)]"
    }

    private static func cutNote(_ shown: Shown, size: Int) -> String {
        guard case .head(_, let shownBytes, let shownLines, let lines) = shown else { return "" }
        return "\n[… cut here: the first \(RunReport.grouped(shownBytes)) of \(RunReport.grouped(size)) bytes are shown "
            + "(\(RunReport.grouped(shownLines)) of \(RunReport.grouped(lines)) lines); the list of returned files says how to read the rest.]"
    }

    /// What came back and what did not, within `listBytes`.
    var list: String {
        let cameBack = entries.count == 1 ? "1 file came back" : "\(entries.count) files came back"
        let didNot = omitted.isEmpty ? "" : omitted.count == 1 ? ", 1 did not" : ", \(omitted.count) did not"
        let opening = "Returned files (returnFiles): \(cameBack)\(didNot)."
        let tip = advice
        let lines = entries.map(Self.line) + omitted.map(Self.line)
        var cost = TranscriptBuffer.itemOverhead + TextMeasure.jsonCost(opening) + (tip.isEmpty ? 0 : TextMeasure.jsonCost(tip) + 2)
        let allCost = lines.reduce(cost) { $0 + 2 + TextMeasure.jsonCost($1) }
        var listed: [String] = []
        if allCost <= Self.listBytes {
            listed = lines
        } else {
            let moreBound = 100  // the "… and N more" line
            for line in lines {
                let lineCost = 2 + TextMeasure.jsonCost(line)
                guard cost + lineCost + moreBound <= Self.listBytes else { break }
                listed.append(line)
                cost += lineCost
            }
            let files = max(0, entries.count - listed.count)
            let others = lines.count - listed.count - files
            listed.append("- … and \(lines.count - listed.count) more not listed here (\(files) came back, \(others) did not)")
        }
        return ([opening] + listed + (tip.isEmpty ? [] : [tip])).joined(separator: "\n")
    }

    private static func line(_ entry: Entry) -> String {
        let what = "- \(entry.path) (\(RunReport.grouped(entry.size)) bytes, \(entry.kind))"
        return switch entry.shown {
        case .whole: "\(what): shown below, whole"
        case .head(_, let shownBytes, _, _): "\(what): cut, its first \(RunReport.grouped(shownBytes)) bytes shown below"
        case .image: "\(what): shown below as an image"
        case .noRoom(let needed, let left):
            "\(what): not shown, it needs \(RunReport.grouped(needed)) bytes of the result and \(RunReport.grouped(left)) were left for it"
        case .listedOnly: "\(what): not shown, only text and images are"
        }
    }

    private static func line(_ omitted: OmittedFile) -> String {
        let why = switch omitted.reason {
        case .noMatch: "no file matched this pattern"
        case .symlink: "a symbolic link (links are never followed)"
        case .notRegularFile: "not a regular file"
        case .overLimit: "over the service's limit on what one run returns (bytes together, or 1000 files)"
        case .notCollected: "not collected: the program did not end by itself (a time, memory or output limit, a signal, os._exit)"
        case .unreadable: "it could not be read"
        case .nameNotUTF8: "its name is not UTF-8 (shown with \\xNN for each such byte)"
        }
        return "- \(omitted.path): did not come back, \(why)"
    }

    /// How to see what the result could not show; empty when it showed everything.
    private var advice: String {
        var advice: [String] = []
        if let cut = entries.first(where: { if case .head = $0.shown { true } else { false } }), case .head(let head, _, _, _) = cut.shown {
            // Python slices count code points; a long path is left out of the example, which must stay short.
            let from = head.unicodeScalars.count
            let example = TextMeasure.jsonCost(cut.path) > 200 || cut.path.contains("'") || cut.path.contains("\\") ? ""
                : ", e.g. print(open('\(cut.path)').read()[\(from):\(from * 2)])"
            advice.append("To read more of a cut file, run with session: true and print parts of it in later calls\(example); "
                + "or call again with a larger resultTextBytes.")
        }
        if entries.contains(where: { if case .noRoom = $0.shown { true } else { false } }) {
            advice.append("For a file not shown for lack of room: return fewer or smaller files (a plot: a smaller figsize "
                + "or dpi), or ask for it alone in another call.")
        }
        if entries.contains(where: { $0.shown == .listedOnly }) {
            advice.append("To see inside a binary file, have the code print what you need of it (its length, a hash, a decoded part).")
        }
        return advice.joined(separator: " ")
    }
}
