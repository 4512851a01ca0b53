/// Matches listed below the prompt as readline lists them at Python's
/// prompt: in columns two wider than the widest name, as many as the
/// terminal holds, read down each column first (sorted names stay sorted
/// top to bottom, then left to right). One column per character: wide
/// characters are not measured.
enum CompletionColumns {
    /// The rows to print, without trailing spaces; `width` is the terminal's, in columns.
    static func rows(_ names: [String], width: Int) -> [String] {
        guard let widest = names.map(\.unicodeScalars.count).max() else { return [] }
        let columnWidth = widest + 2
        // The last column needs no gap after it, and leaves the terminal's
        // last column free (a row that fills it would wrap on some terminals).
        let columns = max(1, (width + 1) / columnWidth)
        let rowCount = (names.count + columns - 1) / columns
        return (0..<rowCount).map { row in
            let cells = stride(from: row, to: names.count, by: rowCount).map { names[$0] }
            return cells.enumerated().map { column, name in
                column == cells.count - 1 ? name : name + String(repeating: " ", count: columnWidth - name.unicodeScalars.count)
            }.joined()
        }
    }

    /// Past this many matches, the editor asks before listing them, as readline
    /// does (its `completion-query-items`).
    static let askBeyond = 100
}
