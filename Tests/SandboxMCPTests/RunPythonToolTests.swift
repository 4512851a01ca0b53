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
