import Foundation
import SandboxClient
import SandboxProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `sandbox run --save`'s writing of returned files, against verdicts a
/// program forged (it can write its own files frame): the client alone
/// keeps them out of the user's folder, whatever the service let through.
@Suite("ReturnedFilesSaver")
struct ReturnedFilesSaverTests {
    /// A scratch folder (its `out` is the save folder), removed afterwards.
    static func withScratch(_ body: (URL) throws -> Void) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("saver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch.appendingPathComponent("out"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        try body(scratch)
    }

    static func file(_ path: String, _ text: String = "forged") -> ReturnedFile {
        ReturnedFile(path: path, content: Array(text.utf8))
    }

    /// Every regular file under `folder`, relative, sorted.
    static func listing(_ folder: URL) -> [String] {
        let paths = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
        return paths.filter { path in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isFolder)
                && !isFolder.boolValue
        }.sorted()
    }

    static func text(_ url: URL) -> String? {
        (try? Data(contentsOf: url)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func aForgedListIsRefusedAndOnlyWhatThePatternsAskedForIsWritten() throws {
        try Self.withScratch { scratch in
            let out = scratch.appendingPathComponent("out")
            let folder = try SaveFolder(out.path)
            let saver = ReturnedFilesSaver(folder: folder, patterns: ["*.csv", "results/**/*.json"])
            let outcomes = saver.save([
                Self.file(".bashrc"),
                Self.file("../x.csv"),
                Self.file(".git/hooks/pre-commit"),
                Self.file("/etc/cron.d/x.csv"),
                Self.file("notes.txt"),
                Self.file("sub/a.csv"),  // * does not cross a /
                Self.file("a/./b.csv"),
                Self.file(".hidden.csv"),
                Self.file("results/.git/config.json"),
                Self.file("table.csv", "1,2\n"),
                Self.file("table.csv", "3,4\n"),  // listed twice: the first stays
                Self.file("results/deep/r.json", "{}"),
            ])
            let summary = outcomes.map { outcome -> String in
                switch outcome {
                case .saved(let path, _, _): "saved \(path)"
                case .refused(let path, let refusal): "refused \(path): \(refusal)"
                case .failed(let path, let error): "failed \(path): \(error)"
                }
            }
            #expect(summary == [
                "refused .bashrc: a name starting with a dot, which no --return pattern names",
                "refused ../x.csv: not a relative path inside the folder",
                "refused .git/hooks/pre-commit: a name starting with a dot, which no --return pattern names",
                "refused /etc/cron.d/x.csv: not a relative path inside the folder",
                "refused notes.txt: it matches no --return pattern",
                "refused sub/a.csv: it matches no --return pattern",
                "refused a/./b.csv: not a relative path inside the folder",
                "refused .hidden.csv: a name starting with a dot, which no --return pattern names",
                "refused results/.git/config.json: a name starting with a dot, which no --return pattern names",
                "saved table.csv",
                "failed table.csv: table.csv was already saved by this command",
                "saved results/deep/r.json",
            ])
            #expect(Self.listing(scratch) == ["out/results/deep/r.json", "out/table.csv"])
            #expect(Self.text(out.appendingPathComponent("table.csv")) == "1,2\n")
            #expect(folder.anyFailed, "refusals make the CLI's status 73")
        }
    }

    @Test func aDotNameIsWrittenWhenAPatternNamesTheDot() throws {
        try Self.withScratch { scratch in
            let folder = try SaveFolder(scratch.appendingPathComponent("out").path)
            let saver = ReturnedFilesSaver(folder: folder, patterns: [".env", "config/.*"])
            let outcomes = saver.save([Self.file(".env"), Self.file("config/.settings"), Self.file("config/sub/.settings")])
            #expect(outcomes.map(Self.wasSaved) == [true, true, false])
            #expect(Self.listing(scratch) == ["out/.env", "out/config/.settings"])
            #expect(folder.anyFailed, "config/sub/.settings was refused")
        }
    }

    /// A file already in the folder (the user's own, or a hard link to a file
    /// elsewhere) is neither replaced nor written through; the rest is saved.
    @Test func nothingAlreadyThereIsReplacedOrWrittenThrough() throws {
        try Self.withScratch { scratch in
            let out = scratch.appendingPathComponent("out")
            let elsewhere = scratch.appendingPathComponent("elsewhere.csv")
            try Data("precious".utf8).write(to: elsewhere)
            try Data("mine".utf8).write(to: out.appendingPathComponent("mine.csv"))
            chmod(out.appendingPathComponent("mine.csv").path, 0o755)
            #expect(link(elsewhere.path, out.appendingPathComponent("linked.csv").path) == 0)
            let folder = try SaveFolder(out.path)
            let outcomes = ReturnedFilesSaver(folder: folder, patterns: ["*.csv"]).save([
                Self.file("mine.csv"), Self.file("linked.csv"), Self.file("new.csv", "new"),
            ])
            let messages = outcomes.compactMap { outcome -> String? in
                if case .failed(_, let error) = outcome { return error.description }
                return nil
            }
            #expect(messages == [
                "\(out.path)/mine.csv already exists, and --save replaces no file",
                "\(out.path)/linked.csv already exists, and --save replaces no file",
            ])
            #expect(Self.text(out.appendingPathComponent("mine.csv")) == "mine")
            #expect(Self.text(elsewhere) == "precious")
            #expect(Self.text(out.appendingPathComponent("new.csv")) == "new")
            var status = stat()
            #expect(stat(out.appendingPathComponent("mine.csv").path, &status) == 0 && status.st_mode & 0o777 == 0o755, "its mode is kept")
            // A new file's mode is 0644 less the umask, whatever the file had in the sandbox.
            let mask = umask(0)
            umask(mask)
            #expect(stat(out.appendingPathComponent("new.csv").path, &status) == 0 && status.st_mode & 0o777 == 0o644 & ~mask)
            #expect(folder.anyFailed)
        }
    }

    /// A link in the folder, to a file or a folder elsewhere, is never followed.
    @Test func noLinkInTheFolderIsFollowed() throws {
        try Self.withScratch { scratch in
            let out = scratch.appendingPathComponent("out")
            let target = scratch.appendingPathComponent("target")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(at: out.appendingPathComponent("results"), withDestinationURL: target)
            try FileManager.default.createSymbolicLink(
                at: out.appendingPathComponent("x.csv"), withDestinationURL: target.appendingPathComponent("x.csv"))
            let folder = try SaveFolder(out.path)
            let outcomes = ReturnedFilesSaver(folder: folder, patterns: ["*.csv", "results/*"]).save([
                Self.file("x.csv"), Self.file("results/r.csv"),
            ])
            #expect(outcomes.map(Self.wasSaved) == [false, false])
            #expect(Self.listing(target) == [], "nothing was written through a link")
        }
    }

    /// With several programs, a run's files go into its own subfolder, still checked against the patterns.
    @Test func aRunsSubfolderHoldsItsFiles() throws {
        try Self.withScratch { scratch in
            let folder = try SaveFolder(scratch.appendingPathComponent("out").path)
            let outcomes = ReturnedFilesSaver(folder: folder, patterns: ["*.txt"], subfolder: "main_2").save([
                Self.file("r.txt"), Self.file("../main_1/r.txt"),
            ])
            #expect(outcomes.map(Self.wasSaved) == [true, false])
            #expect(Self.listing(scratch) == ["out/main_2/r.txt"])
        }
    }

    static func wasSaved(_ outcome: ReturnedFilesSaver.Outcome) -> Bool {
        if case .saved = outcome { return true }
        return false
    }
}
