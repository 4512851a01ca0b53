/// Line editing at a terminal in raw mode: the prompt and the line are
/// drawn by this type. Left/Right, Home/End (Ctrl-A/Ctrl-E), Backspace,
/// Delete, Ctrl-K and Ctrl-U kill to the end and to the start, Up/Down walk
/// the history of entered lines, Tab inserts four spaces (Python indents),
/// Ctrl-C drops the line, Ctrl-D on an empty line ends the input.
struct TerminalLineEditor: LineReader {
    private var keys = KeyDecoder()
    private var prompt = ""
    private var line: [Unicode.Scalar] = []
    private var cursor = 0
    private var history: [String] = []
    /// Where Up/Down are in the history; `history.count` is the line being typed.
    private var historyIndex = 0
    /// The line being typed, kept while Up shows older ones.
    private var draft: [Unicode.Scalar] = []

    mutating func start(prompt: String) {
        self.prompt = prompt
        (line, cursor, historyIndex, draft) = ([], 0, history.count, [])
        Console.write(prompt)
    }

    mutating func take(_ byte: UInt8) -> LineEvent? {
        guard let key = keys.take(byte) else { return nil }
        switch key {
        case .enter:
            let text = String(String.UnicodeScalarView(line))
            if !text.allSatisfy(\.isWhitespace) && history.last != text { history.append(text) }
            Console.write("\n")
            return .line(text)
        case .control(0x03):
            Console.write("^C\n")
            return .interrupt
        case .control(0x04):
            if line.isEmpty {
                Console.write("\n")
                return .endOfInput
            }
            delete(at: cursor)
        case .character(let scalar): insert([scalar])
        case .tab: insert(Array("    ".unicodeScalars))
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

    /// Output of the program's put `row` on the terminal's last row (its
    /// `input()` prompt, say): the line is typed after it from now on.
    mutating func follow(output row: String) {
        prompt = row
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

    /// Draws the prompt and the line over the current row, and puts the
    /// cursor back where it is in the line.
    private func redraw() {
        let back = line.count - cursor
        Console.write("\r" + prompt + String(String.UnicodeScalarView(line)) + "\u{1B}[K" + (back > 0 ? "\u{1B}[\(back)D" : ""))
    }
}
