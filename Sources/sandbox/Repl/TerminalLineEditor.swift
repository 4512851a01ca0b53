#if canImport(Glibc)
import Glibc
#endif

/// Line editing at a terminal in raw mode: the prompt and the line are
/// drawn by this type. Left/Right, Home/End (Ctrl-A/Ctrl-E), Backspace,
/// Delete, Ctrl-K and Ctrl-U kill to the end and to the start, Up/Down walk
/// the history of entered lines, Tab completes the name before the cursor
/// (when the editor `completesNames`: it asks with `.completion`, and the
/// answer comes back in `apply`) or, after only whitespace, inserts four
/// spaces (Python indents), Ctrl-C drops the line, Ctrl-D on an empty line
/// ends the input. A line longer than the terminal is wide takes several
/// rows (one column per character: wide characters are not measured).
struct TerminalLineEditor: LineReader {
    /// Where the prompt and the line are drawn, and how wide that is in
    /// columns (read at each redraw: the terminal may have been resized).
    private let write: (String) -> Void
    private let columns: () -> Int
    /// Tab after a name asks for its completion; otherwise Tab only indents.
    private let completesNames: Bool
    private var keys = KeyDecoder()
    private var prompt = ""
    private var line: [Unicode.Scalar] = []
    private var cursor = 0
    private var history: [String] = []
    /// Where Up/Down are in the history; `history.count` is the line being typed.
    private var historyIndex = 0
    /// The line being typed, kept while Up shows older ones.
    private var draft: [Unicode.Scalar] = []
    /// The rows the prompt and line have taken on the terminal so far, and
    /// where the cursor was put last (in columns from the prompt's start).
    private var drawnRows = 1
    private var drawnCursor = 0
    /// Matches too many to list at once, asked about ("Display all …? (y or
    /// n)"), and where the cursor goes back to after the answer.
    private var offered: (candidates: [String], cursor: Int)?

    /// An editor on the terminal: stdout and its width (tests draw elsewhere).
    init(
        completesNames: Bool = false, write: @escaping (String) -> Void = { Console.write($0) },
        columns: @escaping () -> Int = TerminalLineEditor.terminalColumns
    ) {
        self.completesNames = completesNames
        self.write = write
        self.columns = columns
    }

    mutating func start(prompt: String, text: String) {
        self.prompt = prompt
        line = Array(text.unicodeScalars)
        (cursor, historyIndex, draft, offered) = (line.count, history.count, [], nil)
        (drawnRows, drawnCursor) = (1, prompt.unicodeScalars.count)
        if line.isEmpty { write(prompt) } else { redraw() }
    }

    mutating func take(_ byte: UInt8) -> LineEvent? {
        guard let key = keys.take(byte) else { return nil }
        if let (candidates, at) = offered {
            // The answer to "Display all …?": y, Y or space list them; any other key does not.
            offered = nil
            let yes: [Key] = [.character("y"), .character("Y"), .character(" ")]
            show(below: yes.contains(key) ? CompletionColumns.rows(candidates, width: columns()) : [], cursor: at)
            return nil
        }
        switch key {
        case .enter:
            leaveAtTheEnd()
            let text = String(String.UnicodeScalarView(line))
            if !text.allSatisfy(\.isWhitespace) && history.last != text { history.append(text) }
            write("\n")
            return .line(text)
        case .control(0x03):
            leaveAtTheEnd()
            write("^C\n")
            return .interrupt
        case .control(0x04):
            if line.isEmpty {
                write("\n")
                return .endOfInput
            }
            delete(at: cursor)
        case .character(let scalar): insert([scalar])
        case .tab:
            let before = line[..<cursor]
            if completesNames && !before.allSatisfy(\.properties.isWhitespace) {
                return .completion(lineBeforeCursor: String(String.UnicodeScalarView(before)))
            }
            insert(Array(LineCompletion.indentation.text.unicodeScalars))
        case .backspace: if cursor > 0 { cursor -= 1; delete(at: cursor) }
        case .delete: delete(at: cursor)
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(line.count, cursor + 1)
        case .home, .control(0x01): cursor = 0
        case .end, .control(0x05): cursor = line.count
        case .control(0x0B): line.removeSubrange(cursor...)
        case .control(0x15): line.removeSubrange(..<cursor); cursor = 0
        case .up: recall(historyIndex - 1)
        case .down: recall(historyIndex + 1)
        case .control: return nil
        }
        redraw()
        return nil
    }

    mutating func finish() -> [LineEvent] { [.endOfInput] }

    /// Replaces the name before the cursor with the completion, and lists
    /// its candidates below the line (asking first when there are many).
    mutating func apply(_ completion: LineCompletion) {
        let replacing = min(max(0, completion.replacing), cursor)
        let text = Array(completion.text.unicodeScalars)
        line.replaceSubrange((cursor - replacing)..<cursor, with: text)
        cursor += text.count - replacing
        guard completion.candidates.count > 1 else { return redraw() }
        let at = cursor
        cursor = line.count
        redraw()
        guard completion.candidates.count <= CompletionColumns.askBeyond else {
            write("\nDisplay all \(completion.candidates.count) possibilities? (y or n)")
            offered = (completion.candidates, at)
            return
        }
        show(below: CompletionColumns.rows(completion.candidates, width: columns()), cursor: at)
    }

    /// Output of the program's put `row` on the terminal's last row (its
    /// `input()` prompt, say): the line is typed after it from now on.
    mutating func follow(output row: String) {
        prompt = row
        // A row longer than the terminal is wide took several.
        (drawnRows, drawnCursor) = (1 + row.unicodeScalars.count / columns(), row.unicodeScalars.count)
        if !line.isEmpty { redraw() }
    }

    private mutating func insert(_ scalars: [Unicode.Scalar]) {
        line.insert(contentsOf: scalars, at: cursor)
        cursor += scalars.count
    }

    private mutating func delete(at index: Int) {
        if index < line.count { line.remove(at: index) }
    }

    private mutating func recall(_ index: Int) {
        guard (0...history.count).contains(index), index != historyIndex else { return }
        if historyIndex == history.count { draft = line }
        historyIndex = index
        line = index == history.count ? draft : Array(history[index].unicodeScalars)
        cursor = line.count
    }

    /// From the end of the line (or the question after it): `rows` on the
    /// rows below, then the prompt and the line again under them, the
    /// cursor `at` its place in the line.
    private mutating func show(below rows: [String], cursor at: Int) {
        write("\n" + rows.map { $0 + "\n" }.joined())
        cursor = at
        (drawnRows, drawnCursor) = (1, 0)
        redraw()
    }

    /// Before what follows the line is written: the cursor goes to its end,
    /// on its last row.
    private mutating func leaveAtTheEnd() {
        guard drawnRows > 1, cursor != line.count else { return }
        cursor = line.count
        redraw()
    }

    /// Draws the prompt and the line over the rows they take, and puts the
    /// cursor back where it is in the line.
    private mutating func redraw() {
        let width = columns()
        let promptWidth = prompt.unicodeScalars.count
        let text = String(String.UnicodeScalarView(line))
        let total = promptWidth + line.count
        let at = promptWidth + cursor
        if drawnRows == 1 && total < width {
            // All on one row, as it was.
            let back = line.count - cursor
            write("\r" + prompt + text + "\u{1B}[K" + (back > 0 ? "\u{1B}[\(back)D" : ""))
            drawnCursor = at
            return
        }
        // From the cursor's row down to the last row drawn, then up, clearing each.
        var output = ""
        let below = drawnRows - 1 - drawnCursor / width
        if below > 0 { output += "\u{1B}[\(below)B" }
        output += String(repeating: "\r\u{1B}[K\u{1B}[1A", count: drawnRows - 1) + "\r\u{1B}[K" + prompt + text
        var rows = max(1, (total + width - 1) / width)
        if cursor == line.count && total % width == 0 {
            // The terminal holds the cursor in the last column until the next character: wrap now.
            output += "\n\r"
            rows += 1
        }
        let up = rows - 1 - at / width
        if up > 0 { output += "\u{1B}[\(up)A" }
        output += "\r" + (at % width > 0 ? "\u{1B}[\(at % width)C" : "")
        write(output)
        (drawnRows, drawnCursor) = (max(drawnRows, rows), at)
    }

    /// The terminal's width in columns; 80 when stdout is not a terminal.
    static func terminalColumns() -> Int {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}
