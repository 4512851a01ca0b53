import Foundation
import Logging
import MCP
import SandboxProtocol
import Testing

@testable import SandboxMCP

@Suite("run_python: arguments, sessions per MCP client, results")
struct RunPythonToolTests {
    let runner = ScriptedRunner()
    var tool: RunPythonTool { RunPythonTool(runner: runner, logger: Logger(label: "test")) }

    static func text(_ result: CallTool.Result) -> String {
        result.content.compactMap { if case .text(let text, _, _) = $0 { text } else { nil } }.joined(separator: "\n")
    }

    // MARK: Arguments

    @Test func argumentsAreCheckedByNameAndType() throws {
        let full = try RunPythonArguments(["code": "print(1)", "stdin": "x", "timeoutMs": 5000, "session": "work"])
        #expect(full == RunPythonArguments(code: "print(1)", stdin: "x", timeoutMs: 5000, session: .named("work")))
        #expect(try RunPythonArguments(["code": "1", "session": true]).session == .named("default"))
        #expect(try RunPythonArguments(["code": "1", "session": false]).session == .none)
        #expect(try RunPythonArguments(["code": "1", "timeoutMs": .double(5000)]).timeoutMs == 5000)
        #expect(try RunPythonArguments(["code": "1", "stdin": .null]).stdin == nil)
        #expect(try RunPythonArguments(["code": "1", "resultTextBytes": 4096]).resultTextBytes == 4096)
        #expect(try RunPythonArguments(["code": "1", "packages": ["tinytop", "pandas>=2"]]).packages == ["tinytop", "pandas>=2"])
        #expect(try RunPythonArguments(["code": "1", "packages": []]).packages == nil)
        #expect(try RunPythonArguments(["code": "1", "packages": .null]).packages == nil)
        for (arguments, words) in [
            (nil, "code: required"),
            (["code": 5], "code: must be a string"),
            (["code": "1", "stdin": 1], "stdin: must be a string"),
            (["code": "1", "timeoutMs": 0], "timeoutMs: must be at least 1"),
            (["code": "1", "timeoutMs": .double(1.5)], "timeoutMs: must be a positive integer (milliseconds)"),
            (["code": "1", "resultTextBytes": "lots"], "resultTextBytes: must be a positive integer (bytes)"),
            (["code": "1", "session": ""], "must not be empty"),
            (["code": "1", "session": .string(String(repeating: "n", count: 65))], "at most 64"),
            (["code": "1", "session": ["a"]], "session: must be true, false or a session name"),
            (["code": "1", "timeout": 5], "unknown argument 'timeout'"),
            (["code": "1", "packages": "requests"], "packages: must be an array of requirement strings"),
            (["code": "1", "packages": ["requests", 2]], "packages[1]: must be a string"),
        ] as [([String: Value]?, String)] {
            #expect(throws: ArgumentError.self) { try RunPythonArguments(arguments) }
            do { _ = try RunPythonArguments(arguments) } catch {
                #expect(error.description.contains(words), "\(String(describing: arguments)): \(error)")
            }
        }
    }

    /// files, returnFiles and memoryMb read as `run` reads them; what only the service can judge (paths, patterns,
    /// the memory range) is left to it.
    @Test func filesReturnFilesAndMemoryAreCheckedByShape() throws {
        let full = try RunPythonArguments([
            "code": "1", "memoryMb": 512, "returnFiles": ["out/*.csv", "plot.png"],
            "files": ["data/in.csv": "a,b\n1,2\n", "blob.bin": ["base64": "AAEC/w=="]],
        ])
        #expect(full.memoryMb == 512 && full.returnFiles == ["out/*.csv", "plot.png"])
        #expect(full.files == ["data/in.csv": .text("a,b\n1,2\n"), "blob.bin": .bytes([0, 1, 2, 255])])
        #expect(try RunPythonArguments(["code": "1", "files": [:], "returnFiles": []]) == RunPythonArguments(code: "1"))
        #expect(try RunPythonArguments(["code": "1", "files": .null, "returnFiles": .null, "memoryMb": .null]) == RunPythonArguments(code: "1"))
        // The service's to refuse, with its own words: the tool passes them on.
        #expect(try RunPythonArguments(["code": "1", "files": ["/etc/passwd": "x"]]).files == ["/etc/passwd": .text("x")])
        #expect(try RunPythonArguments(["code": "1", "memoryMb": 8]).memoryMb == 8)
        for (arguments, words) in [
            (["code": "1", "files": "data.csv"], "files: must be an object mapping relative paths to contents"),
            (["code": "1", "files": ["a.txt", "b.txt"]], "files: must be an object"),
            (["code": "1", "files": ["a.bin": ["base64": "not base64!"]]], "files: 'a.bin': base64 is not valid base64"),
            (["code": "1", "files": ["a.bin": ["base64": "AA==", "name": "x"]]], "files: 'a.bin': an object must be {\"base64\": \"…\"} and nothing else"),
            (["code": "1", "files": ["a.bin": ["bytes": "AA=="]]], "files: 'a.bin': an object must be"),
            (["code": "1", "files": ["n.txt": 5]], "files: 'n.txt': must be a string (text) or {\"base64\": \"…\"} (bytes), not a number"),
            (["code": "1", "returnFiles": "*.csv"], "returnFiles: must be an array of glob patterns"),
            (["code": "1", "returnFiles": ["*.csv", ["x"]]], "returnFiles[1]: must be a glob pattern (a string)"),
            (["code": "1", "memoryMb": "lots"], "memoryMb: must be a positive integer (MiB)"),
            (["code": "1", "memoryMb": 0], "memoryMb: must be at least 1"),
            (["code": "1", "memoryMb": .double(64.5)], "memoryMb: must be a positive integer"),
        ] as [([String: Value], String)] {
            #expect(throws: ArgumentError.self) { try RunPythonArguments(arguments) }
            do { _ = try RunPythonArguments(arguments) } catch {
                #expect(error.description.contains(words), "\(arguments): \(error)")
            }
        }
    }

    @Test func anUnknownArgumentNamesEveryArgument() {
        do { _ = try RunPythonArguments(["code": "1", "file": [:]]) } catch {
            #expect(error.description == """
                unknown argument 'file'; run_python takes code, stdin, timeoutMs, memoryMb, session, packages, files, \
                returnFiles, tests and resultTextBytes
                """)
            return
        }
        Issue.record("'file' was taken")
    }

    /// What agents see: every argument in the schema, none other.
    @Test func theSchemaHasEveryArgument() throws {
        let tool = RunPythonTool.definition(budget: .default)
        guard case .object(let schema) = tool.inputSchema, case .object(let properties)? = schema["properties"] else {
            Issue.record("no properties: \(tool.inputSchema)")
            return
        }
        #expect(Set(properties.keys) == Set(RunPythonArguments.names))
        #expect(properties["memoryMb"]?.objectValue?["minimum"] == .int(16))
        #expect(properties["returnFiles"]?.objectValue?["items"] == ["type": "string"])
        for words in ["files puts input files", "returnFiles brings files", "memoryMb"] {
            #expect(tool.description?.contains(words) == true, "the description does not say \(words)")
        }
    }

    @Test func badArgumentsAreAToolErrorAndRunNothing() async {
        let result = await tool.call(["code": 42])
        #expect(result.isError == true)
        #expect(Self.text(result).contains("code: must be a string") && Self.text(result).contains("not run"))
        #expect(runner.runs.isEmpty)
    }

    /// The SDK reads strings shaped like data URLs as bytes; the tool must get them as sent.
    @Test func stringsThatLookLikeDataURLsReachTheToolVerbatim() throws {
        let code = "data: list = [1, 2]\nprint(sum(data), 'data:,x')"
        let encodedCode = String(decoding: try JSONEncoder().encode(code), as: UTF8.self)
        let plain = try JSONDecoder().decode([String: Value].self, from: Data(#"{"code":\#(encodedCode)}"#.utf8))
        guard case .data = plain["code"] else {
            Issue.record("the SDK no longer reads data-URL-like strings as bytes: VerbatimArguments may go (\(String(describing: plain["code"])))")
            return
        }
        let request = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_python","arguments":"#
            + #"{"code":\#(encodedCode),"stdin":"\#u{E000}kept","session":true}}}"#
        let guarded = VerbatimArguments.guarded(Data(request.utf8))
        let decoded = try JSONDecoder().decode(JSONValue.self, from: guarded)
        let arguments = try #require(decoded["params"]?["arguments"]).decoded(as: [String: Value].self)
        let restored = VerbatimArguments.restore(arguments)
        #expect(restored["code"] == .string(code))
        #expect(restored["stdin"] == .string("\u{E000}kept"))
        #expect(restored["session"] == .bool(true))
        // Anything but a tools/call passes untouched.
        let other = Data(#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#.utf8)
        #expect(VerbatimArguments.guarded(other) == other)
    }

    /// Text of a file in `files` (an argument's nested string) may look like a data URL too.
    @Test func fileTextThatLooksLikeADataURLReachesTheToolVerbatim() throws {
        let request = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_python","arguments":"#
            + #"{"code":"print(1)","files":{"a.yaml":"data: [1, 2]","b.txt":"data:,x","c.bin":{"base64":"AAE="}},"#
            + #""returnFiles":["data:,y"]}}}"#
        let decoded = try JSONDecoder().decode(JSONValue.self, from: VerbatimArguments.guarded(Data(request.utf8)))
        let arguments = try #require(decoded["params"]?["arguments"]).decoded(as: [String: Value].self)
        let parsed = try RunPythonArguments(VerbatimArguments.restore(arguments))
        #expect(parsed.files == ["a.yaml": .text("data: [1, 2]"), "b.txt": .text("data:,x"), "c.bin": .bytes([0, 1])])
        #expect(parsed.returnFiles == ["data:,y"])
    }

    /// A call's own text budget bounds its result; one past the service's total runs nothing.
    @Test func aCallMayAskForItsOwnTextBudget() async {
        let code = (0..<20_000).map { "\($0)" }.joined(separator: "\n")
        let small = await tool.call(["code": .string(code), "resultTextBytes": 2048])
        let output = small.content.dropLast().compactMap { if case .text(let text, _, _) = $0, !text.hasPrefix("[… ") { text } else { nil } }
        #expect(output.first?.hasPrefix("0\n1\n") == true && output.last?.hasSuffix("19999") == true)
        #expect(output.reduce(0) { $0 + TextMeasure.jsonCost($1) } <= 2048)
        #expect(Self.text(small).contains("first and the last 1 KiB"))
        let tool = RunPythonTool(runner: runner, budget: ResultBudget(textBytes: 4096, totalBytes: 4096 + ResultBudget.reserveBytes),
                                 logger: Logger(label: "test"))
        let refused = await tool.call(["code": "1", "resultTextBytes": 8192])
        #expect(refused.isError == true && Self.text(refused).contains("resultTextBytes: must be from 1024 to 4096, not 8192"))
        #expect(runner.runs.count == 1)
    }

    // MARK: Sessions

    @Test func withoutSessionEveryCallIsFresh() async {
        let result = await tool.call(["code": "print(1)"])
        #expect(result.isError == false)
        #expect(runner.sessionsOpened == 0 && runner.runs.map(\.session) == [nil])
    }

    @Test func aSessionIsOpenedOnFirstUseAndReused() async {
        let tool = tool
        let first = await tool.call(["code": "x = 1", "session": true])
        let second = await tool.call(["code": "print(x)", "session": true])
        #expect(runner.sessionsOpened == 1)
        #expect(runner.runs.map(\.session) == ["s-1", "s-1"])
        #expect(Self.text(first).contains("Session 'default' started"))
        #expect(!Self.text(second).contains("Session 'default'"))
    }

    @Test func namesAreSessionsApartAndTrueIsTheDefaultOne() async {
        let tool = tool
        _ = await tool.call(["code": "1", "session": "a"])
        _ = await tool.call(["code": "2", "session": "b"])
        _ = await tool.call(["code": "3", "session": "a"])
        _ = await tool.call(["code": "4", "session": true])
        _ = await tool.call(["code": "5", "session": "default"])
        #expect(runner.runs.map(\.session) == ["s-1", "s-2", "s-1", "s-3", "s-3"])
    }

    @Test func callsThatNameANewSessionTogetherShareIt() async {
        let tool = tool
        await withTaskGroup(of: Void.self) { group in
            for number in 0..<5 { group.addTask { _ = await tool.call(["code": .string("\(number)"), "session": "s"]) } }
        }
        #expect(runner.sessionsOpened == 1)
        #expect(Set(runner.runs.map(\.session)) == ["s-1"])
    }

    /// `session/ended` arrived: the next call says so and runs nothing; the one after starts afresh.
    @Test func anEndedSessionIsReportedThenReplaced() async {
        let tool = tool
        _ = await tool.call(["code": "x = 1", "session": true])
        runner.end("s-1", .idleTimeout, announced: true)
        let told = await tool.call(["code": "print(x)", "session": true])
        #expect(told.isError == true)
        #expect(Self.text(told).contains("Session 'default' has ended (it was idle for longer than its idle timeout)"))
        #expect(Self.text(told).contains("not run") && Self.text(told).contains("gone"))
        #expect(runner.runs.count == 1)
        let fresh = await tool.call(["code": "print(x)", "session": true])
        #expect(fresh.isError == false)
        #expect(runner.runs.last?.session == "s-2")
        #expect(Self.text(fresh).contains("Session 'default' is new: the previous one ended (it was idle"))
        #expect(Self.text(fresh).contains("are gone"))
    }

    /// No `session/ended` yet: the run's -32007 says it, with the same outcome.
    @Test func sessionEndedErrorIsReportedThenReplaced() async {
        let tool = tool
        _ = await tool.call(["code": "x = 1", "session": "w"])
        runner.end("s-1", .memoryLimit, announced: false)
        let told = await tool.call(["code": "print(x)", "session": "w"])
        #expect(told.isError == true && Self.text(told).contains("Session 'w' has ended (it reached its memory limit)"))
        let fresh = await tool.call(["code": "print(x)", "session": "w"])
        #expect(fresh.isError == false && runner.runs.last?.session == "s-2")
        #expect(Self.text(fresh).contains("is new"))
    }

    // MARK: Packages

    @Test func packagesGoWithTheRunWithoutSession() async {
        let result = await tool.call(["code": "import tinytop", "packages": ["tinytop"]])
        #expect(result.isError == false)
        #expect(runner.runs.map(\.packages) == [["tinytop"]] && runner.sessionsOpened == 0)
    }

    /// PROTOCOL.md §4.2: a session's runs take no packages; session/open does.
    @Test func aSessionsPackagesGoWithItsOpeningAndAreFixed() async {
        let tool = tool
        let first = await tool.call(["code": "import tinytop", "session": "p", "packages": ["tinytop"]])
        #expect(first.isError == false && Self.text(first).contains("It imports tinytop for all its calls"), "\(Self.text(first))")
        #expect(runner.sessionParams.map(\.packages) == [["tinytop"]])
        #expect(runner.runs.map(\.packages) == [nil])
        // Left out, or the same set written otherwise: the session's.
        let same = await tool.call(["code": "1", "session": "p"])
        let renamed = await tool.call(["code": "2", "session": "p", "packages": ["TinyTop"]])
        #expect(same.isError == false && renamed.isError == false)
        #expect(runner.runs.map(\.session) == ["s-1", "s-1", "s-1"] && runner.sessionsOpened == 1)
        // Another set: refused, nothing runs.
        let other = await tool.call(["code": "3", "session": "p", "packages": ["tinyleaf"]])
        #expect(other.isError == true && runner.runs.count == 3)
        #expect(Self.text(other).contains("Session 'p' was opened with the packages tinytop") && Self.text(other).contains("not run"))
        let without = await tool.call(["code": "4", "session": "q"])
        let added = await tool.call(["code": "5", "session": "q", "packages": ["tinyleaf"]])
        #expect(without.isError == false && added.isError == true)
        #expect(Self.text(added).contains("Session 'q' was opened without packages"))
    }

    @Test func aPackageRefusalSaysTheReasonAndTheRequirement() async {
        let tool = tool
        let opening = await tool.call(["code": "1", "session": true, "packages": ["nosuchpackage"]])
        #expect(opening.isError == true)
        #expect(Self.text(opening).contains("refused to open session 'default': Packages unavailable: no package named 'nosuchpackage'"))
        #expect(Self.text(opening).contains("reason: unknownPackage, requirement: nosuchpackage"), "\(Self.text(opening))")
        let refusal = RPCError(.packagesUnavailable, "no wheel", data: ["reason": "noWheel", "requirement": "sdistonly"])
        let run = Self.text(tool.refusal(.refused(refusal), opening: nil))
        #expect(run.hasPrefix("The sandbox service refused to run the code: Packages unavailable: no wheel."), "\(run)")
        #expect(run.contains("(reason: noWheel, requirement: sdistonly)") && run.contains("wheels only") && run.hasSuffix("The code was not run."))
    }

    // MARK: Files and memory

    @Test func filesReturnFilesAndMemoryGoWithARunWithoutSession() async {
        let result = await tool.call([
            "code": "1", "memoryMb": 512, "files": ["in.txt": "hello"], "returnFiles": ["in.txt", "*.csv"],
        ])
        #expect(result.isError == false)
        let run = runner.runs.first
        #expect(run?.memoryMb == 512 && run?.files == ["in.txt": .text("hello")] && run?.returnFiles == ["in.txt", "*.csv"])
        #expect(Self.text(result).contains("Returned files (returnFiles): 1 file came back, 1 did not."))
        #expect(Self.text(result).contains("[returned file in.txt: 5 bytes, text]\nhello"))
        #expect(Self.text(result).contains("- *.csv: did not come back, no file matched this pattern"))
    }

    /// A session's memory is its own (PROTOCOL.md §4.8): session/open takes it, its runs never do; files and
    /// returnFiles go with each run.
    @Test func aSessionsMemoryGoesWithItsOpeningAndIsFixed() async {
        let tool = tool
        let first = await tool.call(["code": "x = 1", "session": "m", "memoryMb": 512, "files": ["a.txt": "A"]])
        #expect(first.isError == false && Self.text(first).contains("Its memory limit, 512 MiB, covers all its calls together."))
        #expect(runner.sessionParams.map(\.memoryMb) == [512])
        #expect(runner.runs.map(\.memoryMb) == [nil] && runner.runs.first?.files == ["a.txt": .text("A")])
        let same = await tool.call(["code": "2", "session": "m", "memoryMb": 512, "returnFiles": ["a.txt"]])
        let left = await tool.call(["code": "3", "session": "m"])
        #expect(same.isError == false && left.isError == false && runner.runs.count == 3)
        #expect(runner.runs[1].returnFiles == ["a.txt"] && runner.runs.map(\.memoryMb) == [nil, nil, nil])
        let other = await tool.call(["code": "4", "session": "m", "memoryMb": 1024])
        #expect(other.isError == true && runner.runs.count == 3 && runner.sessionsOpened == 1)
        #expect(Self.text(other).hasPrefix("memoryMb: session 'm' was opened with a memory limit of 512 MiB"), "\(Self.text(other))")
        #expect(Self.text(other).contains("this call asks for 1024. The code was not run."))
        // Opened without memoryMb: the service's default is the session's, and asking for it is no change.
        _ = await tool.call(["code": "5", "session": "d"])
        let asDefault = await tool.call(["code": "6", "session": "d", "memoryMb": .int(ScriptedRunner.defaultMemoryMb)])
        let more = await tool.call(["code": "7", "session": "d", "memoryMb": 300])
        #expect(asDefault.isError == false && more.isError == true)
        #expect(Self.text(more).contains("opened with a memory limit of 256 MiB"))
    }

    /// Calls that open one name together share its session; one that wants another limit is told so.
    @Test func callsOpeningASessionTogetherAreCheckedAgainstItsLimit() async {
        let tool = tool
        let results = await withTaskGroup(of: CallTool.Result.self) { group in
            group.addTask { await tool.call(["code": "a", "session": "t", "memoryMb": 128]) }
            for _ in 0..<4 { group.addTask { await tool.call(["code": "b", "session": "t", "memoryMb": 128]) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.isError == false } && runner.sessionsOpened == 1)
        #expect(runner.sessionParams.map(\.memoryMb) == [128])
    }

    /// A session that ended is replaced with the memory the next call asks for.
    @Test func anEndedSessionIsReplacedWithTheMemoryAskedFor() async {
        let tool = tool
        _ = await tool.call(["code": "1", "session": "r", "memoryMb": 64])
        runner.end("s-1", .memoryLimit, announced: true)
        let told = await tool.call(["code": "2", "session": "r", "memoryMb": 512])
        #expect(told.isError == true && Self.text(told).contains("reached its memory limit") && Self.text(told).contains("memoryMb"))
        let fresh = await tool.call(["code": "3", "session": "r", "memoryMb": 512])
        #expect(fresh.isError == false && runner.sessionParams.map(\.memoryMb) == [64, 512])
    }

    @Test func aRequestTooLargeForTheServiceIsAToolErrorThatSaysWhy() {
        let result = tool.refusal(.tooLarge(bytes: 5_000_000, limit: 4_194_304), opening: nil)
        #expect(result.isError == true)
        #expect(Self.text(result).contains("5,000,000 bytes as one message to the sandbox service, over its limit of 4,194,304 bytes"))
        #expect(Self.text(result).contains("the code was not run"))
    }

    @Test func refusalsAreToolErrorsThatSayWhy() {
        let tool = tool
        let full = tool.refusal(.refused(RPCError(.queueFull, "the queue holds 256 runs")), opening: nil)
        #expect(full.isError == true)
        #expect(Self.text(full) == "The sandbox service refused to run the code: Queue full: the queue holds 256 runs. Try again in a moment. The code was not run.")
        let sessions = tool.refusal(.refused(RPCError(.tooManySessions, "4 on this connection")), opening: "x")
        #expect(Self.text(sessions).hasPrefix("The sandbox service refused to open session 'x': Too many sessions"))
        let down = tool.refusal(.unreachable("cannot connect to ws://127.0.0.1:1/v1/ws: connection refused"), opening: nil)
        #expect(Self.text(down).contains("cannot be reached") && Self.text(down).contains("connection refused"))
    }
}
