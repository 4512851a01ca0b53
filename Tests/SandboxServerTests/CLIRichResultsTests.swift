import Foundation
import SandboxProtocol
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `sandbox` CLI's displays, `--file` bytes, `--return` and `--save`,
/// against a live sandboxd. Test servers preload nothing: a run that imports
/// matplotlib and pandas takes a second or two.
extension SandboxSuite.CLITests {
    /// A scratch folder with `files` (paths may have folders) in it, removed afterwards.
    static func withFiles<T>(_ files: [String: [UInt8]], _ body: (URL) async throws -> T) async throws -> T {
        try await Self.withFolder([:]) { folder in
            for (path, bytes) in files {
                let url = folder.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(bytes).write(to: url)
            }
            return try await body(folder)
        }
    }

    static func contents(_ folder: URL, _ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: folder.appendingPathComponent(path)))
    }

    /// Every file under `folder`, relative to it, sorted.
    static func listing(_ folder: URL) -> [String] {
        let paths = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
        return paths.filter { path in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isFolder) && !isFolder.boolValue
        }.sorted()
    }

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    @Test func saveWritesAPlotAsPNGAndATableAsHTMLAndWithoutItTheirTextPrintsInPlace() async throws {
        let program = """
            import matplotlib.pyplot as plt, pandas as pd
            print("before")
            plt.plot([1, 3, 2])
            plt.show()
            display(pd.DataFrame({"city": ["Lyon", "Oslo"], "people": [522, 709]}))
            print("after")
            """
        try await Self.withFolder(["plot.py": program]) { folder in
            try await TestServer.with { port in
                let saved = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--save", "out", "plot.py"], directory: folder)
                #expect(saved.status == 0, "\(saved)")
                #expect(saved.stdout == "before\nafter\n", "stdout is the program's: the displays went to files")
                let out = folder.appendingPathComponent("out")
                #expect(Self.listing(out) == ["plot-1.png", "plot-2.html"])
                #expect(try Array(Self.contents(out, "plot-1.png").prefix(8)) == Self.pngSignature)
                let html = String(decoding: try Self.contents(out, "plot-2.html"), as: UTF8.self)
                #expect(html.contains("<table") && html.contains("Oslo"), "\(html)")
                let lines = saved.stderr.split(separator: "\n")
                #expect(lines.count == 2, "\(saved.stderr)")
                #expect(lines.first?.hasPrefix("sandbox: saved display 1 (image/png, ") == true, "\(saved.stderr)")
                #expect(lines.first?.hasSuffix(" KiB) to out/plot-1.png") == true, "\(saved.stderr)")
                #expect(lines.last?.hasPrefix("sandbox: saved display 2 (text/html, ") == true, "\(saved.stderr)")
                #expect(lines.last?.hasSuffix(") to out/plot-2.html") == true, "\(saved.stderr)")

                // Without --save, each display's text/plain is printed where the program made it.
                let printed = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "plot.py"], directory: folder)
                #expect(printed.status == 0 && printed.stderr.isEmpty, "\(printed)")
                #expect(printed.stdout.hasPrefix("before\n<Figure size 640x480 with 1 Axes>\n"), "\(printed.stdout)")
                #expect(printed.stdout.contains("0  Lyon") && printed.stdout.hasSuffix("709\nafter\n"), "\(printed.stdout)")
            }
        }
    }

    @Test func binaryFilesGoInAsBase64AndReturnedFilesComeBackByteForByte() async throws {
        let binary: [UInt8] = [0, 0xFF, 0xC3, 0x28, 0x0A, 0x0D, 0x80, 0xFE]
        let program = """
            import os
            open("copy.bin", "wb").write(open("data.bin", "rb").read())
            os.makedirs("deep/er")
            open("deep/er/big.bin", "wb").write(bytes(range(256)) * 8192)
            print(open("notes.txt", encoding="utf-8").read(), end="")
            """
        let files = ["copy.py": Array(program.utf8), "data.bin": binary, "notes.txt": Array("héllo\n".utf8)]
        try await Self.withFiles(files) { folder in
            try await TestServer.with { port in
                let result = try await ChildProcess.run("sandbox", [
                    "run", "--url", Self.url(port), "--file", "data.bin=data.bin", "--file", "notes.txt=notes.txt",
                    "--return", "copy.bin", "--return", "deep/**/*.bin", "--return", "*.csv", "--save", "out", "copy.py",
                ], directory: folder)
                #expect(result.status == 0, "\(result)")
                #expect(result.stdout == "héllo\n")
                let out = folder.appendingPathComponent("out")
                #expect(Self.listing(out) == ["copy.bin", "deep/er/big.bin"])
                #expect(try Self.contents(out, "copy.bin") == binary)
                // 2 MiB: its verdict is larger than any message the CLI took before.
                #expect(try Self.contents(out, "deep/er/big.bin") == Array(repeating: Array(0...255), count: 8192).flatMap { $0 })
                let lines = result.stderr.split(separator: "\n")
                #expect(lines == [
                    "sandbox: saved file copy.bin (8 B) to out/copy.bin",
                    "sandbox: saved file deep/er/big.bin (2.0 MiB) to out/deep/er/big.bin",
                    "sandbox: not returned: *.csv (no file matches the pattern)",
                ], "\(result.stderr)")

                // On the wire: bytes that are not UTF-8 as base64, UTF-8 as text.
                let transcript = try await ChildProcess.run("sandbox", [
                    "run", "--json", "--url", Self.url(port), "--file", "data.bin=data.bin", "--file", "notes.txt=notes.txt", "-c", "pass",
                ], directory: folder)
                let messages = try transcript.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
                let sent = messages.first { $0["method"] == "run" }?["params"]?["files"]
                #expect(sent == ["data.bin": ["base64": .string(Base64.encode(binary))], "notes.txt": "héllo\n"], "\(transcript.stdout)")
            }
        }
    }

    @Test func runsAreNamedAfterTheirFilesAndSeveralKeepTheirReturnedFilesApart() async throws {
        let program = Array("display({'text/markdown': '# Hi'}, raw=True)\nopen('r.txt', 'w').write('x')".utf8)
        try await Self.withFiles(["a.py": program, "b/a.py": program]) { folder in
            try await TestServer.with { port in
                let several = try await ChildProcess.run(
                    "sandbox", ["run", "-q", "--url", Self.url(port), "--return", "r.txt", "--save", "out", "a.py", "b/a.py"], directory: folder)
                #expect(several.status == 0, "\(several)")
                #expect(several.stderr.isEmpty, "--quiet: no line per saved item")
                let out = folder.appendingPathComponent("out")
                #expect(Self.listing(out) == ["a_1-1.md", "a_1/r.txt", "a_2-1.md", "a_2/r.txt"])
                #expect(try Self.contents(out, "a_2-1.md") == Array("# Hi".utf8))

                // -c is "run"; a JSON display is written as JSON when it has nothing richer.
                let code = try await ChildProcess.run("sandbox", [
                    "run", "--url", Self.url(port), "--save", "out", "-c",
                    "display({'application/json': {'n': [1, 2]}}, raw=True)\ndisplay(42)",
                ], directory: folder)
                #expect(code.status == 0, "\(code)")
                let json = try JSONDecoder().decode(JSONValue.self, from: Data(try Self.contents(out, "run-1.json")))
                #expect(json == ["n": [1, 2]])
                #expect(try Self.contents(out, "run-2.txt") == Array("42\n".utf8))
                #expect(code.stderr.contains("sandbox: saved display 2 (text/plain, 3 B) to out/run-2.txt\n"), "\(code.stderr)")
            }
        }
    }

    @Test func saveFollowsNoSymbolicLinkAndTellsWhatItCouldNotWrite() async throws {
        try await Self.withFiles(["elsewhere/kept.txt": Array("keep".utf8)]) { folder in
            let out = folder.appendingPathComponent("out")
            let elsewhere = folder.appendingPathComponent("elsewhere")
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(at: out.appendingPathComponent("sub"), withDestinationURL: elsewhere)
            try FileManager.default.createSymbolicLink(
                at: out.appendingPathComponent("kept.txt"), withDestinationURL: elsewhere.appendingPathComponent("kept.txt"))
            let program = "import os\nos.makedirs('sub')\nopen('sub/x.txt', 'w').write('x')\nopen('kept.txt', 'w').write('x')\nopen('fine.txt', 'w').write('x')"
            try await TestServer.with { port in
                let arguments = ["run", "--url", Self.url(port), "--return", "*.txt", "--return", "sub/*", "--save", "out", "-c"]
                let result = try await ChildProcess.run("sandbox", arguments + [program], directory: folder)
                #expect(result.status == 73, "the program succeeded, but not everything was saved: \(result)")
                #expect(result.stderr.contains("sandbox: could not save file sub/x.txt: sub is a symbolic link, which is not followed\n"), "\(result.stderr)")
                #expect(result.stderr.contains("sandbox: could not save file kept.txt: kept.txt is a symbolic link, which is not followed\n"), "\(result.stderr)")
                #expect(result.stderr.contains("sandbox: saved file fine.txt (1 B) to out/fine.txt\n"), "\(result.stderr)")
                #expect(Self.listing(elsewhere) == ["kept.txt"])
                #expect(try Self.contents(elsewhere, "kept.txt") == Array("keep".utf8))

                // A program's own failure decides the status over a save's.
                let failing = try await ChildProcess.run("sandbox", arguments + [program + "\nraise SystemExit(2)"], directory: folder)
                #expect(failing.status == 2, "\(failing)")

                let noSave = try await ChildProcess.run("sandbox", ["run", "--url", Self.url(port), "--return", "x", "-c", "pass"])
                #expect(noSave.status == 64 && noSave.stderr.contains("--return needs --save"), "\(noSave)")
                let underAFile = try await ChildProcess.run(
                    "sandbox", ["run", "--url", Self.url(port), "--save", "elsewhere/kept.txt/out", "-c", "print(1)"], directory: folder)
                #expect(underAFile.status == 73 && underAFile.stdout.isEmpty, "nothing ran: \(underAFile)")
                #expect(underAFile.stderr.contains("cannot use elsewhere/kept.txt/out as the folder of --save: Not a directory"), "\(underAFile)")
            }
        }
    }

    /// --save replaces nothing already in its folder (the others are saved;
    /// one line says which was not; 73), and writes a name starting with a
    /// dot only when a --return pattern names the dot: '*' does not.
    @Test func saveReplacesNoFileAndWritesADotNameOnlyWhenAPatternNamesIt() async throws {
        try await Self.withFiles(["out/r.csv": Array("mine".utf8)]) { folder in
            let out = folder.appendingPathComponent("out")
            chmod(out.appendingPathComponent("r.csv").path, 0o600)
            let program = "for name in ('r.csv', 's.csv', '.x', '.env'):\n    open(name, 'w').write('from the run')"
            try await TestServer.with { port in
                let result = try await ChildProcess.run(
                    "sandbox", ["run", "--url", Self.url(port), "--return", "*", "--save", "out", "-c", program], directory: folder)
                #expect(result.status == 73, "\(result)")
                #expect(result.stderr.contains("sandbox: could not save file r.csv: out/r.csv already exists, and --save replaces no file\n"), "\(result.stderr)")
                #expect(result.stderr.contains("sandbox: saved file s.csv (12 B) to out/s.csv\n"), "\(result.stderr)")
                #expect(try Self.contents(out, "r.csv") == Array("mine".utf8))
                var status = stat()
                #expect(stat(out.appendingPathComponent("r.csv").path, &status) == 0 && status.st_mode & 0o777 == 0o600)
                #expect(Self.listing(out) == ["main.py", "r.csv", "s.csv"], "'*' brings back no dot name")

                let named = try await ChildProcess.run(
                    "sandbox", ["run", "--url", Self.url(port), "--return", ".x", "--save", "dots", "-c", program], directory: folder)
                #expect(named.status == 0, "\(named)")
                #expect(Self.listing(folder.appendingPathComponent("dots")) == [".x"])
            }
        }
    }

    /// A verdict that lists files the run never asked for (a program can forge
    /// its files frame; here a provider says what such a verdict says) writes
    /// only what --return asked for: every other name is refused in one line.
    @Test func saveBelievesNoForgedListOfFiles() async throws {
        let forged = [
            ".bashrc", "../escaped.csv", ".git/hooks/pre-commit", "notes.txt", "/tmp/pysandbox-forged-absolute.csv", "deep/a.csv", "asked.csv",
        ].map { ReturnedFile(path: $0, content: Array("forged".utf8)) }
        try await Self.withFiles(["out/.git/hooks/keep": Array("hook".utf8)]) { folder in
            try await TestServer.with(provider: ForgingProvider(files: forged)) { port in
                let result = try await ChildProcess.run(
                    "sandbox", ["run", "--url", Self.url(port), "--return", "*.csv", "--save", "out", "-c", "pass"], directory: folder)
                #expect(result.status == 73, "\(result)")
                #expect(result.stderr.split(separator: "\n") == [
                    "sandbox: refused file .bashrc: a name starting with a dot, which no --return pattern names",
                    "sandbox: refused file ../escaped.csv: not a relative path inside the folder",
                    "sandbox: refused file .git/hooks/pre-commit: a name starting with a dot, which no --return pattern names",
                    "sandbox: refused file notes.txt: it matches no --return pattern",
                    "sandbox: refused file /tmp/pysandbox-forged-absolute.csv: not a relative path inside the folder",
                    "sandbox: refused file deep/a.csv: it matches no --return pattern",
                    "sandbox: saved file asked.csv (6 B) to out/asked.csv",
                ], "\(result.stderr)")
                #expect(Self.listing(folder) == ["out/.git/hooks/keep", "out/asked.csv"])
                #expect(!FileManager.default.fileExists(atPath: "/tmp/pysandbox-forged-absolute.csv"))
            }
        }
    }
}
