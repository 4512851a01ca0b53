import MCP
import SandboxProtocol

/// `session/files/list`'s answer as `list_files`' result: a line on the
/// folder, then a line for each entry (its type, its size, its name;
/// folders end with "/"), sorted by name, at most the budget's text bytes
/// of them, then what was not listed and how to see it.
enum FileListReport {
    static func result(_ list: SessionFilesListResult, path: String, session: String, budget: ResultBudget) -> CallTool.Result {
        let folder = SessionFileTools.shownPath(path)
        let count = list.entries.count == 1 ? "1 entry" : "\(RunReport.grouped(list.entries.count)) entries"
        guard !list.entries.isEmpty else {
            return CallTool.Result(content: [RunReport.plain("\(folder) in session '\(session)' is empty.")], isError: false)
        }
        let opening = "\(folder) in session '\(session)': \(list.truncated ? "the first " : "")\(count) (type, size in bytes, name):"
        let sizes = list.entries.map { $0.type == "directory" ? "-" : RunReport.grouped($0.size) }
        let sizeWidth = sizes.map(\.count).max() ?? 1
        var lines = [opening]
        var cost = TextMeasure.jsonCost(opening) + TranscriptBuffer.itemOverhead
        // The lines take the text budget; the notes after them, short, come out of the service's reserve.
        let room = budget.textBytes
        var listed = 0
        for (entry, size) in zip(list.entries, sizes) {
            let line = Self.line(entry, size: size, sizeWidth: sizeWidth)
            let lineCost = TextMeasure.jsonCost(line) + 2
            guard cost + lineCost <= room else { break }
            lines.append(line)
            cost += lineCost
            listed += 1
        }
        let folderLiteral = SessionFileTools.pythonLiteral(path)
        if listed < list.entries.count {
            lines.append("… and \(RunReport.grouped(list.entries.count - listed)) more not shown here: a result shows at most "
                + "\(RunReport.grouped(budget.textBytes)) bytes of text. List a subfolder, or see the rest with run_python in "
                + "session '\(session)', e.g. print(sorted(os.listdir(\(folderLiteral)))[\(listed):]).")
        }
        if list.truncated {
            lines.append("The folder holds more entries than the service lists (at most "
                + "\(RunReport.grouped(list.entries.count)), the first by name): see the rest with run_python in session "
                + "'\(session)', e.g. len(os.listdir(\(folderLiteral))).")
        }
        if list.entries.contains(where: { $0.nameNotUTF8 == true }) {
            lines.append("A name marked \"not UTF-8\" shows each byte that is not UTF-8 as \\xNN: read such a file with "
                + "run_python, not read_file.")
        }
        if list.entries.contains(where: { $0.type == "symlink" }) {
            lines.append("Symbolic links are listed but never followed: read_file and write_file refuse them.")
        }
        return CallTool.Result(content: [RunReport.plain(lines.joined(separator: "\n"))], isError: false)
    }

    private static func line(_ entry: SessionFilesListResult.Entry, size: String, sizeWidth: Int) -> String {
        let type = entry.type.padding(toLength: 9, withPad: " ", startingAt: 0)
        let padded = String(repeating: " ", count: max(0, sizeWidth - size.count)) + size
        let name = entry.type == "directory" ? entry.name + "/" : entry.name
        return "\(type)  \(padded)  \(name)" + (entry.nameNotUTF8 == true ? "  (name not UTF-8)" : "")
    }
}
