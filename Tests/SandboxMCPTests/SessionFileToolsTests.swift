import Foundation
import Logging
import MCP
import SandboxProtocol
import Testing

@testable import SandboxMCP

@Suite("list_files, read_file, write_file and reset_session: a client's sessions by name, bounded results")
struct SessionFileToolsTests {
    let runner = ScriptedRunner()
    let sessions: ClientSessions
    let runPython: RunPythonTool
    let files: SessionFileTools
    let reset: ResetSessionTool

    init() {
        sessions = ClientSessions(runner: runner)
        runPython = RunPythonTool(runner: runner, sessions: sessions, logger: Logger(label: "test"))
        files = SessionFileTools(runner: runner, sessions: sessions, logger: Logger(label: "test"))
        reset = ResetSessionTool(sessions: sessions, logger: Logger(label: "test"))
    }

    static func text(_ result: CallTool.Result) -> String {
        RunPythonToolTests.text(result)
    }

    static let png: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89,
    ]

    // MARK: Arguments

    @Test func pathsAreRelativeToTmpAndNothingOutsideIt() throws {
        let list = SessionFileTools.listName, read = SessionFileTools.readName
        #expect(try SessionFileArguments(nil, for: list) == SessionFileArguments())
        #expect(try SessionFileArguments(["path": "/tmp"], for: list).path == "")
        #expect(try SessionFileArguments(["path": "."], for: list).path == "")
        #expect(try SessionFileArguments(["path": "out/"], for: list).path == "out")
        #expect(try SessionFileArguments(["path": "/tmp/out/a.csv"], for: read).path == "out/a.csv")
        #expect(try SessionFileArguments(["path": "./a.csv", "session": true], for: read) == SessionFileArguments(path: "a.csv"))
        #expect(try SessionFileArguments(["path": "a", "session": "work"], for: read).session == "work")
        for (arguments, words) in [
            (["path": "../etc/passwd"], "path: '../etc/passwd' must not contain '..'"),
            (["path": "/etc/passwd"], "path: '/etc/passwd' must be a relative path"),
            (["path": "/tmp/../etc/passwd"], "must not contain '..'"),
            (["path": "a//b"], "must not contain"),
            (["path": "/tmp"], "is the working directory itself"),
            ([:], "path: required"),
            (["path": 3], "path: must be a string"),
            (["path": "a", "session": false], "session: must be a session name"),
            (["path": "a", "session": ""], "must not be empty"),
            (["path": "a", "offset": 3], "unknown argument 'offset'; read_file takes path and session"),
        ] as [([String: Value], String)] {
            do {
                _ = try SessionFileArguments(arguments, for: read)
                Issue.record("\(arguments) was taken")
            } catch {
                #expect(error.description.contains(words), "\(arguments): \(error)")
            }
        }
        #expect(throws: ArgumentError.self) { try SessionFileArguments(["path": "../x"], for: list) }
    }

    @Test func writeTakesTextOrBase64() throws {
        let write = SessionFileTools.writeName
        #expect(try SessionFileArguments(["path": "a.txt", "content": "hi"], for: write).content == .text("hi"))
        #expect(try SessionFileArguments(["path": "a.bin", "content": "AAEC/w==", "encoding": "base64"], for: write).content
            == .bytes([0, 1, 2, 255]))
        for (arguments, words) in [
            (["path": "a"], "content: required"),
            (["path": "a", "content": 5], "content: must be a string"),
            (["path": "a", "content": "%%", "encoding": "base64"], "content: not valid base64"),
            (["path": "a", "content": "x", "encoding": "hex"], "encoding: must be \"text\" or \"base64\""),
        ] as [([String: Value], String)] {
            do {
                _ = try SessionFileArguments(arguments, for: write)
                Issue.record("\(arguments) was taken")
            } catch {
                #expect(error.description.contains(words), "\(arguments): \(error)")
            }
        }
    }

    /// What agents see: each tool's schema names its arguments, none other.
    @Test func theSchemasNameEveryArgument() {
        let tools = SessionFileTools.definitions(budget: .default) + [ResetSessionTool.definition()]
        #expect(tools.map(\.name) == ["list_files", "read_file", "write_file", "reset_session"])
        for tool in tools {
            guard case .object(let schema) = tool.inputSchema, case .object(let properties)? = schema["properties"] else {
                Issue.record("no properties: \(tool.inputSchema)")
                continue
            }
            #expect(Set(properties.keys) == Set(SessionFileArguments.names(of: tool.name)), "\(tool.name)")
            #expect(schema["additionalProperties"] == .bool(false))
        }
    }

    // MARK: Sessions

    @Test func listAndReadNeedAnOpenSessionAndOpenNone() async {
        for (tool, arguments) in [(SessionFileTools.listName, [:]), (SessionFileTools.readName, ["path": "a.txt"])] as [(String, [String: Value])] {
            let result = await files.call(tool, arguments)
            #expect(result.isError == true)
            #expect(Self.text(result).contains("There is no open session 'default'") && Self.text(result).contains("write_file"))
        }
        #expect(runner.sessionsOpened == 0 && runner.fileRequests.isEmpty)
        _ = await runPython.call(["code": "1", "session": "work"])
        let other = await files.call(SessionFileTools.listName, [:])
        #expect(Self.text(other).contains("Open sessions: 'work'."))
    }

    @Test func writeOpensTheSessionRunPythonThenUses() async {
        let written = await files.call(SessionFileTools.writeName, ["path": "/tmp/data/in.csv", "content": "a,b\n1,2\n"])
        #expect(written.isError == false)
        #expect(Self.text(written).contains("Wrote /tmp/data/in.csv in session 'default': 8 bytes, a new file."))
        #expect(Self.text(written).contains("Session 'default' started"))
        _ = await runPython.call(["code": "print(open('data/in.csv').read())", "session": true])
        #expect(runner.sessionsOpened == 1 && runner.runs.map(\.session) == ["s-1"])
        #expect(runner.fileRequests.map(\.session) == ["s-1"])
        let again = await files.call(SessionFileTools.writeName, ["path": "data/in.csv", "content": "x"])
        #expect(Self.text(again).contains("replacing the file that was there") && !Self.text(again).contains("started"))
    }

    @Test func anEndedSessionIsSaidAndTheNextRunIsFresh() async {
        _ = await runPython.call(["code": "x = 1", "session": true])
        runner.end("s-1", .idleTimeout, announced: true)
        let read = await files.call(SessionFileTools.readName, ["path": "a.txt"])
        #expect(read.isError == true && Self.text(read).contains("Session 'default' has ended (it was idle"))
        let next = await runPython.call(["code": "1", "session": true])
        #expect(Self.text(next).contains("Session 'default' is new: the previous one ended"))
        // Ended without a word to the runner: the service's -32007 says so.
        runner.end("s-2", .crashed, announced: false)
        let list = await files.call(SessionFileTools.listName, [:])
        #expect(list.isError == true && Self.text(list).contains("has ended (its Python interpreter exited"))
    }

    @Test func resetClosesTheSessionAndTheNextRunStartsFresh() async {
        _ = await runPython.call(["code": "x = 1", "session": "work"])
        let result = await reset.call(["session": "work"])
        #expect(result.isError == false && Self.text(result).hasPrefix("Session 'work' was closed"))
        #expect(runner.closedSessions == ["s-1"])
        let next = await runPython.call(["code": "print(x)", "session": "work"])
        #expect(runner.runs.last?.session == "s-2" && Self.text(next).contains("Session 'work' started"))
        let nothing = await reset.call(["session": "other"])
        #expect(nothing.isError == false && Self.text(nothing).hasPrefix("There was no open session 'other'"))
        runner.end("s-2", .memoryLimit, announced: true)
        let ended = await reset.call(["session": "work"])
        #expect(Self.text(ended).hasPrefix("Session 'work' had already ended (it reached its memory limit)"))
        #expect(runner.closedSessions == ["s-1"])
        let bad = await reset.call(["session": 5])
        #expect(bad.isError == true && Self.text(bad).contains("session: must be a session name"))
    }

    // MARK: Results

    @Test func listShowsTypeSizeAndName() async {
        _ = await runPython.call(["code": "1", "session": true])
        runner.place("out/a.csv", Array("x".utf8), in: "s-1")
        runner.place("big.bin", [UInt8](repeating: 0, count: 12345), in: "s-1")
        let result = await files.call(SessionFileTools.listName, [:])
        #expect(Self.text(result) == """
            /tmp in session 'default': 2 entries (type, size in bytes, name):
            file       12,345  big.bin
            directory       -  out/
            """)
        let sub = await files.call(SessionFileTools.listName, ["path": "out"])
        #expect(Self.text(sub).hasPrefix("/tmp/out in session 'default': 1 entry"))
        let missing = await files.call(SessionFileTools.listName, ["path": "nope"])
        #expect(missing.isError == true && Self.text(missing).contains("Nothing is at /tmp/nope in session 'default'"))
    }

    @Test func aLongListIsBoundedByTheTextBudget() async {
        let budget = ResultBudget(textBytes: 4096, totalBytes: 4096 + ResultBudget.reserveBytes)
        let files = SessionFileTools(runner: runner, sessions: sessions, budget: budget, logger: Logger(label: "test"))
        _ = await runPython.call(["code": "1", "session": true])
        for index in 0..<1000 { runner.place(String(format: "file-%04d.txt", index), [], in: "s-1") }
        let result = await files.call(SessionFileTools.listName, [:])
        let text = Self.text(result)
        let notes = text.split(separator: "\n").filter { $0.hasPrefix("… and ") }.map(TextMeasure.jsonCost).reduce(0, +)
        #expect(notes > 0 && TextMeasure.jsonCost(text) - notes <= 4096, "\(TextMeasure.jsonCost(text))")
        #expect(text.contains("more not shown here") && text.contains("os.listdir('.')"))
    }

    @Test func readShowsTextWholeOrCutAtALineEnd() async throws {
        let budget = ResultBudget(textBytes: 4096, totalBytes: 64 << 10)
        let files = SessionFileTools(runner: runner, sessions: sessions, budget: budget, logger: Logger(label: "test"))
        _ = await runPython.call(["code": "1", "session": true])
        runner.place("small.txt", Array("one\ntwo\n".utf8), in: "s-1")
        let small = await files.call(SessionFileTools.readName, ["path": "small.txt"])
        #expect(small.content.count == 1 && Self.text(small).hasSuffix("2 lines of text, shown whole below.\none\ntwo\n"))
        let big = (0..<1000).map { "line \($0)\n" }.joined()
        runner.place("big.txt", Array(big.utf8), in: "s-1")
        let cut = await files.call(SessionFileTools.readName, ["path": "big.txt"])
        #expect(cut.isError == false && cut.content.count == 2)
        guard case .text(let shown, _, _) = cut.content[0], case .text(let note, _, _) = cut.content[1],
              let lineEnd = shown.firstIndex(of: "\n")
        else {
            Issue.record("\(cut.content)")
            return
        }
        let head = String(shown[shown.index(after: lineEnd)...])
        #expect(head.hasPrefix("line 0\n") && head.hasSuffix("\n") && TextMeasure.jsonCost(head) <= 4096)
        let shownLines = head.filter { $0 == "\n" }.count
        #expect(big.hasPrefix(head))
        #expect(note.contains("\(RunReport.grouped(big.utf8.count - head.utf8.count)) bytes (\(1000 - shownLines) lines)"))
        #expect(note.contains("readlines()[\(shownLines):\(shownLines * 2)]"))
        #expect(Self.text(cut).contains("cut: the first \(shownLines) of its 1,000 lines"))
        // One line longer than the budget: cut within it.
        runner.place("line.txt", Array(String(repeating: "y", count: 10000).utf8), in: "s-1")
        let line = await files.call(SessionFileTools.readName, ["path": "line.txt"])
        #expect(Self.text(line).contains("within its first line") && Self.text(line).contains(".read()[4096:8192]"))
    }

    @Test func readShowsImagesAsImagesAndOtherBytesBriefly() async {
        _ = await runPython.call(["code": "1", "session": true])
        runner.place("dot.png", Self.png, in: "s-1")
        let image = await files.call(SessionFileTools.readName, ["path": "dot.png"])
        #expect(image.content.count == 2 && Self.text(image).contains("PNG image, shown below"))
        if case .image(let data, let mimeType, _, _) = image.content[1] {
            #expect(mimeType == "image/png" && Base64.decode(data) == Self.png)
        } else {
            Issue.record("no image: \(image.content)")
        }
        runner.place("small.bin", [0, 1, 2, 0xFF], in: "s-1")
        let small = await files.call(SessionFileTools.readName, ["path": "small.bin"])
        #expect(Self.text(small).contains("4 bytes, binary data") && Self.text(small).hasSuffix("AAEC/w=="))
        runner.place("large.bin", [UInt8](repeating: 0, count: 5000), in: "s-1")
        let large = await files.call(SessionFileTools.readName, ["path": "large.bin"])
        #expect(large.content.count == 1 && Self.text(large).contains("5,000 bytes, binary data") && Self.text(large).contains("Not shown"))
        let budget = ResultBudget(textBytes: 1024, totalBytes: 1024 + ResultBudget.reserveBytes)
        let tight = SessionFileTools(runner: runner, sessions: sessions, budget: budget, logger: Logger(label: "test"))
        runner.place("huge.png", Self.png + [UInt8](repeating: 7, count: 20000), in: "s-1")
        let huge = await tight.call(SessionFileTools.readName, ["path": "huge.png"])
        #expect(huge.content.count == 1 && Self.text(huge).contains("PNG image, not shown: its base64 takes"))
    }

    @Test func aFileErrorSaysWhyInWords() async {
        _ = await runPython.call(["code": "1", "session": true])
        runner.place("out/a.csv", [], in: "s-1")
        let folder = await files.call(SessionFileTools.readName, ["path": "out"])
        #expect(folder.isError == true && Self.text(folder).contains("/tmp/out in session 'default' is a folder: list_files"))
        #expect(Self.text(folder).hasSuffix("The file was not read."))
        let missing = await files.call(SessionFileTools.readName, ["path": "gone.txt"])
        #expect(Self.text(missing).contains("Nothing is at /tmp/gone.txt"))
    }
}
