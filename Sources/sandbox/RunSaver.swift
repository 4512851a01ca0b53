import Foundation
import SandboxClient
import SandboxProtocol

/// What `--save` does with one run's results: each display becomes
/// `<run>-<number>.<ext>` in the folder, each returned file the run asked
/// for (`--return`) is written under its path (inside `<run>/` when several
/// programs ran, so theirs do not collide), and a line on stderr tells what
/// became of each item. Nothing already in the folder is replaced.
struct RunSaver: Sendable {
    let folder: SaveFolder
    /// Names this run's displays (and, with several programs, its folder of returned files).
    let runName: String
    /// The run's own `--return` patterns: the verdict's list of files is not believed.
    let returnPatterns: [String]
    let filesInRunFolder: Bool
    /// No line per saved item; what was not saved is still told.
    let quiet: Bool

    /// `number` counts the run's displays from 1, rather than their `seq`,
    /// which also counts output messages and so depends on how the service
    /// happened to batch the output: a rerun gives its plots the same names.
    func save(_ display: RunDisplayParams, number: Int) {
        guard let file = DisplayFile(display.data) else {
            failed("could not save display \(number): it has no representation this CLI can write")
            return
        }
        let path = "\(runName)-\(number).\(file.fileExtension)"
        do {
            try folder.write(file.bytes, to: path)
            saved("display \(number) (\(file.mimeType), \(Self.size(file.bytes.count)))", at: path)
        } catch {
            failed("could not save display \(number): \(error)")
        }
    }

    /// The verdict's returned files, then those it says did not come back.
    func save(filesOf verdict: RunResult) {
        let files = ReturnedFilesSaver(folder: folder, patterns: returnPatterns, subfolder: filesInRunFolder ? runName : nil)
        for outcome in files.save(verdict.files ?? []) {
            switch outcome {
            case .saved(let path, let savedAt, let bytes):
                if !quiet { Self.note("saved file \(path) (\(Self.size(bytes))) to \(savedAt)") }
            case .refused(let path, let refusal):
                Self.note("refused file \(path): \(refusal)")
            case .failed(let path, let error):
                Self.note("could not save file \(path): \(error)")
            }
        }
        for omitted in verdict.omittedFiles ?? [] {
            Self.note("not returned: \(omitted.path) (\(Self.describe(omitted.reason)))")
        }
    }

    private func saved(_ what: String, at path: String) {
        if !quiet { Self.note("saved \(what) to \(folder.userPath(path))") }
    }

    private func failed(_ message: String) {
        folder.recordFailure()
        Self.note(message)
    }

    /// One line on stderr, whatever the names the service sent hold: their
    /// control characters (a newline, a terminal's escape) are written escaped.
    static func note(_ line: String) {
        Console.note(line.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined())
    }

    static func describe(_ reason: OmittedFile.Reason) -> String {
        switch reason {
        case .noMatch: "no file matches the pattern"
        case .symlink: "a symbolic link, which is not followed"
        case .notRegularFile: "not a regular file"
        case .overLimit: "over the service's limit on returned files"
        case .notCollected: "not collected: the program did not end by itself"
        case .unreadable: "could not be read"
        case .nameNotUTF8: "its name is not UTF-8"
        }
    }

    /// "120 B", "21.3 KiB", "1.5 MiB".
    static func size(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let (value, unit) = bytes < 1 << 20 ? (Double(bytes) / 1024, "KiB") : (Double(bytes) / Double(1 << 20), "MiB")
        return String(format: "%.1f", value) + " " + unit
    }

    /// Each program's `<run>`: its file's base name without extension, or
    /// `run` for -c and a program from stdin; a name several programs share
    /// gets each one's position on the command line (`main_1`, `main_2`).
    static func runNames(_ programs: [Program]) -> [String] {
        let names = programs.map { program in
            guard program.isFile else { return "run" }
            let base = URL(fileURLWithPath: program.name).deletingPathExtension().lastPathComponent
            return base.isEmpty || base == "." || base == ".." || base == "/" ? "run" : base
        }
        let counts = Dictionary(names.map { ($0, 1) }, uniquingKeysWith: +)
        return names.enumerated().map { index, name in counts[name, default: 0] > 1 ? "\(name)_\(index + 1)" : name }
    }
}
