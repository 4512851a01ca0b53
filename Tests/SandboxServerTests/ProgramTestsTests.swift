import Foundation
import SandboxProtocol
import Testing

/// `run`'s `tests` against a real server: one program against many inputs,
/// each a fresh sandbox with the run's limits (PROTOCOL.md, "Tests").
extension SandboxSuite {
    @Suite("Tests of one program")
    struct ProgramTestsTests {
        static func tests(_ items: [[String: JSONValue]]) -> JSONValue { .array(items.map(JSONValue.object)) }

        static func results(_ transcript: RunTranscript) -> [JSONValue] { transcript.result?["tests"]?.arrayValue ?? [] }

        /// Expectations in each comparison mode, names, statuses, the summary,
        /// a run/test per test in order before the verdict, and the schemas.
        @Test func eachTestHasItsVerdictAndTheSummaryCountsThem() async throws {
            try await TestServer.with { port in
                try await ProtocolClient.connect(port: port) { client in
                    let params: [String: JSONValue] = [
                        "code": "import sys\nline = input()\nif line == 'boom': raise ValueError(line)\nprint(line.upper() + '  ')\nprint()",
                        "tests": Self.tests([
                            ["stdin": "a\n", "expectedStdout": "A", "name": "trimmed by default"],
                            ["stdin": "b\n", "expectedStdout": "B", "compare": "exact"],
                            ["stdin": "c d\n", "expectedStdout": "C\n  D\n", "compare": "tokens"],
                            ["stdin": "e\n", "expectedStdout": "wrong"],
                            ["stdin": "boom\n", "expectedStdout": "BOOM"],
                            ["stdin": "f\n"],
                            ["stdin": ""],
                        ]),
                    ]
                    try await client.request(1, Method.run, params)
                    let transcript = try await client.transcript(of: 1)
                    #expect(transcript.status == "ok", "\(transcript.response)")
                    let results = Self.results(transcript)
                    #expect(results.map { $0["status"]?.stringValue } == ["ok", "ok", "ok", "ok", "error", "ok", "error"])
                    #expect(results.map { $0["passed"]?.boolValue } == [true, false, true, false, false, nil, nil])
                    #expect(results.map { $0["index"]?.intValue } == Array(0..<7).map(Optional.some))
                    #expect(results[0]["name"] == "trimmed by default" && results[1]["name"] == nil)
                    #expect(results[0]["stdout"] == "A  \n\n" && results[0]["stdoutBytes"] == 5)
                    #expect(results[4]["stderr"]?.stringValue?.contains("ValueError: boom") == true && results[4]["exitCode"] == 1)
                    #expect(results[6]["stderr"]?.stringValue?.contains("EOFError") == true, "input() past the test's stdin")
                    #expect(transcript.result?["summary"] == [
                        "total": 7, "statuses": ["ok": 5, "error": 2], "passed": 2, "failed": 3,
                    ])
                    // One run/test per test, in order, each the same as in the verdict; no run/output.
                    let notified = transcript.notifications.filter { $0["method"] == .string(Method.runTest) }
                    #expect(notified.map { $0["params"]?["test"] } == results.map(Optional.some))
                    #expect(transcript.outputs.isEmpty)
                    let cpu = results.reduce(0) { $0 + ($1["cpuMs"]?.intValue ?? 0) }
                    #expect(transcript.result?["cpuMs"]?.intValue == cpu)
                    try SchemaCheck.validate(SchemaCheck.messages(
                        sent: [.object(["jsonrpc": "2.0", "id": 1, "method": .string(Method.run), "params": .object(params)])],
                        received: await client.inbox.log))
                }
                let info = try await HTTP.get(port, "/v1/info")
                #expect(info.json["capabilities"]?["tests"] == true && info.json["limits"]?["maxTests"] == 1000)
            }
        }

        /// Nothing a test does reaches the next: not its variables, files,
        /// processes or output; and nothing outlives the run.
        @Test func noTestSeesAnothersStateFilesOrProcesses() async throws {
            let code = """
                import builtins, os, subprocess
                name = input()
                marks = sorted(set(f for f in os.listdir('.') + os.listdir('/tmp') if f.startswith('mark')))
                print('before', marks, getattr(builtins, 'leftover', None), flush=True)
                print('sleepers', sum(1 for p in os.listdir('/proc') if p.isdigit() and open(f'/proc/{p}/cmdline', 'rb').read().startswith(b'sleep')))
                open('mark-' + name, 'w').write(name)
                open('/tmp/mark-' + name, 'w').write(name)
                subprocess.Popen(['sleep', '60'], start_new_session=True)
                builtins.leftover = name
                print('pid', os.getpid())
                """
            try await TestServer.with { port in
                try await ProtocolClient.connect(port: port) { client in
                    let run = try await client.run(1, [
                        "code": .string(code), "files": ["mark-given": "x"],
                        "tests": Self.tests((0..<4).map { ["stdin": .string("t\($0)\n")] }),
                    ])
                    #expect(run.status == "ok", "\(run.response)")
                    for result in Self.results(run) {
                        let stdout = result["stdout"]?.stringValue ?? ""
                        #expect(result["status"] == "ok", "\(result)")
                        #expect(stdout.hasPrefix("before ['mark-given'] None\nsleepers 0\n"), "\(stdout)")
                    }
                }
            }
            #expect(await HostProcesses.leftovers() == [], "a test's process outlived the run")
        }

        /// Each test has the run's limits as its own: one test's timeout,
        /// memory, output flood or fork bomb ends that test only.
        @Test func limitsArePerTestAndHostileTestsEndAlone() async throws {
            let code = """
                import os, sys, time
                what = input()
                if what == 'loop':
                    while True: pass
                elif what == 'memory':
                    b = bytearray(200 << 20)
                    for i in range(0, len(b), 4096): b[i] = 1
                elif what == 'flood':
                    while True: sys.stdout.write('x' * 65536)
                elif what == 'bomb':
                    for _ in range(200):
                        try: os.fork()
                        except OSError: break
                    time.sleep(0.2)
                    os._exit(0)
                elif what == 'more':
                    print(input())
                print('fine', what)
                """
            try await TestServer.with { port in
                try await ProtocolClient.connect(port: port) { client in
                    let inputs = ["loop", "ok", "memory", "ok", "flood", "ok", "bomb", "more", "ok"]
                    let run = try await client.run(1, [
                        "code": .string(code), "timeoutMs": 1500, "memoryMb": 96, "maxOutputBytes": 100_000,
                        "tests": Self.tests(inputs.map { ["stdin": .string($0 + "\n")] }),
                    ], within: .seconds(120))
                    let results = Self.results(run)
                    let statuses = results.map { $0["status"]?.stringValue ?? "" }
                    let said = results.map { "\($0["status"] ?? .null) \($0["stderr"]?.stringValue?.suffix(200) ?? "")" }
                    // A MemoryError is the program's own ending where the allocation fails before the cgroup's limit;
                    // the fork bomb may end any way, as long as it ends alone.
                    #expect(statuses.count == inputs.count && ["memoryLimit", "error"].contains(statuses[2]), "\(said)")
                    #expect(statuses.enumerated().filter { ![2, 6].contains($0.offset) }.map(\.element)
                            == ["timeout", "ok", "ok", "outputLimit", "ok", "error", "ok"], "\(said)")
                    #expect(results[0]["limit"] == "wall")
                    for index in [1, 3, 5, 8] { #expect(results[index]["stdout"] == "fine ok\n") }
                    #expect(results[7]["stderr"]?.stringValue?.contains("EOFError") == true, "a program that reads more than its input")
                    // The flood is held to the run's output limit, and its report to its share.
                    #expect((results[4]["stdoutBytes"]?.intValue ?? 0) <= 100_000)
                    #expect((results[4]["stdout"]?.stringValue?.utf8.count ?? 0) <= max(256, 100_000 / (2 * inputs.count)))
                    #expect(run.result?["truncated"] == true)
                }
            }
            #expect(await HostProcesses.leftovers() == [])
        }

        /// Cancelled halfway: the test under way ends `cancelled`, those not
        /// reached are `notRun`, and the run has exactly one response.
        @Test func aBatchCancelledHalfwayReportsEveryTest() async throws {
            try await TestServer.with { port in
                try await ProtocolClient.connect(port: port) { client in
                    try await client.request(1, Method.run, [
                        "code": "import time\nn = int(input())\nprint(n, flush=True)\ntime.sleep(0.3 if n < 3 else 30)",
                        "tests": Self.tests((0..<12).map { ["stdin": .string("\($0)\n")] }),
                    ])
                    _ = try await client.inbox.take { $0["method"] == .string(Method.runTest) && $0["params"]?["test"]?["index"] == 2 }
                    try await Task.sleep(for: .milliseconds(300))  // the fourth test is under way
                    try await client.notify(Method.cancelRequest, ["id": 1])
                    let transcript = try await client.transcript(of: 1)
                    #expect(transcript.status == "cancelled", "\(transcript.response)")
                    let statuses = Self.results(transcript).map { $0["status"]?.stringValue }
                    #expect(statuses == ["ok", "ok", "ok", "cancelled"] + Array(repeating: "notRun", count: 8), "\(statuses)")
                    #expect(transcript.result?["summary"]?["statuses"] == ["ok": 3, "cancelled": 1, "notRun": 8])
                    try await Task.sleep(for: .milliseconds(200))
                    #expect(await client.inbox.pending.filter { $0["id"] == 1 }.isEmpty, "one response only")
                }
            }
            #expect(await HostProcesses.leftovers() == [])
        }

        /// A run with tests starts tests for at most the server's largest
        /// `timeoutMs`: it holds a worker no longer than one run may (plus
        /// the test under way); the rest are `notRun`, and the run `timeout`.
        @Test func aRunStartsTestsForAtMostTheLongestRunsTime() async throws {
            let configuration = TestServer.configuration { $0.timeoutMs = .init(default: 800, max: 1000) }
            try await TestServer.with(configuration) { port in
                try await ProtocolClient.connect(port: port) { client in
                    let run = try await client.run(1, [
                        "code": "import time\ntime.sleep(0.4)\nprint(input())",
                        "tests": Self.tests((0..<10).map { ["stdin": .string("\($0)\n"), "expectedStdout": .string("\($0)")] }),
                    ])
                    #expect(run.status == "timeout" && run.result?["limit"] == "wall", "\(run.response)")
                    let statuses = Self.results(run).map { $0["status"]?.stringValue ?? "" }
                    let ran = statuses.prefix { $0 == "ok" }.count
                    #expect((2...4).contains(ran) && statuses.dropFirst(ran).allSatisfy { $0 == "notRun" }, "\(statuses)")
                    try SchemaCheck.validate([("run.response.json", run.response)])
                }
            }
        }

        /// Tests with what needs one run's own streams, too many of them, or
        /// malformed ones are refused, saying why; the connection goes on.
        @Test func badTestsAreRefusedClearly() async throws {
            try await TestServer.with(TestServer.configuration { $0.maxTests = 3 }) { port in
                try await ProtocolClient.connect(port: port) { client in
                    let one = Self.tests([["stdin": "1"]])
                    let cases: [([String: JSONValue], String)] = [
                        (["code": "1", "tests": Self.tests(Array(repeating: ["stdin": "1"], count: 4))], "tests: 4 tests, the limit is 3"),
                        (["code": "1", "tests": one, "stdin": "x"], "stdin: not with tests"),
                        (["code": "1", "tests": one, "interactive": true], "interactive: not with tests"),
                        (["code": "1", "tests": one, "returnFiles": ["*"]], "returnFiles: not with tests"),
                        (["code": "1", "tests": []], "tests: must not be empty"),
                        (["code": "1", "tests": "x"], "tests: must be an array"),
                        (["code": "1", "tests": Self.tests([["stdin": 5]])], "tests[0].stdin: must be a string"),
                        (["code": "1", "tests": Self.tests([["stdin": "", "compare": "fuzzy"]])], "tests[0].compare: 'fuzzy' is not one of"),
                        (["code": "1", "tests": Self.tests([["stdin": "", "expected": "1"]])], "tests[0]: unknown field 'expected'"),
                    ]
                    for (index, (params, message)) in cases.enumerated() {
                        try await client.request(.integer(Int64(index)), Method.run, params)
                        let error = try await client.response(.integer(Int64(index)))["error"]
                        #expect(error?["code"] == -32602 && error?["message"]?.stringValue?.contains(message) == true, "\(message): \(error ?? .null)")
                    }
                    try await client.request("s", Method.sessionOpen)
                    let session = try #require(try await client.response("s")["result"]?["session"])
                    try await client.request("in session", Method.run, ["code": "1", "session": session, "tests": one])
                    let error = try await client.response("in session")["error"]
                    #expect(error?["message"]?.stringValue?.contains("tests: each test runs in a fresh sandbox") == true, "\(error ?? .null)")
                    #expect(try await client.run("after", ["code": "print(2)", "tests": Self.tests([["stdin": ""]])]).status == "ok")
                }
            }
        }

        /// `POST /v1/run` takes tests and answers them in one body.
        @Test func overRESTTheAnswerHasEveryTest() async throws {
            try await TestServer.with { port in
                let body = #"{"code": "print(int(input()) * 2)", "tests": [{"stdin": "2", "expectedStdout": "4"}, {"stdin": "x"}]}"#
                let reply = try await HTTP.post(port, "/v1/run", body)
                #expect(reply.status == 200, "\(reply.json)")
                let tests = reply.json["tests"]?.arrayValue ?? []
                #expect(tests.count == 2 && tests[0]["passed"] == true && tests[1]["status"] == "error", "\(reply.json)")
                #expect(reply.json["summary"]?["passed"] == 1 && reply.json["stdout"] == "")
                try SchemaCheck.validate([("rest-run.response.json", reply.json)])
            }
        }

        /// The malicious fixtures, each as a test of a run: contained as when
        /// run alone. No warm sandboxes, so that between runs any sandboxed
        /// process on the host is a leftover.
        @Test func theMaliciousFixturesAreContainedAsTests() async throws {
            let host = HostTargets.shared
            try await TestServer.with(TestServer.configuration { $0.warm = 0 }) { port in
                try await ProtocolClient.connect(port: port) { client in
                    for (number, fixture) in MaliciousFixture.loadAll().enumerated() where fixture.returnFiles.isEmpty {
                        _ = host.drainContacts()
                        let limits = fixture.limits(preloaded: false)
                        let files = MaliciousFixture.supportFiles.merging(["host.json": host.descriptionFile]) { $1 }
                        let run = try await client.run(.integer(Int64(number)), [
                            "code": .string(fixture.code), "files": .object(files.mapValues(JSONValue.string)),
                            "timeoutMs": .integer(Int64(limits.timeout / .milliseconds(1))),
                            "memoryMb": .integer(Int64(limits.memoryBytes >> 20)),
                            "maxOutputBytes": .integer(Int64(limits.maxOutputBytes)),
                            "tests": Self.tests([["stdin": ""]]),
                        ], within: .seconds(60))
                        let test = Self.results(run).first ?? .null
                        let outcome = FixtureOutcome(
                            status: test["status"]?.stringValue ?? "\(run.response)",
                            output: (test["stdout"]?.stringValue ?? "") + (test["stderr"]?.stringValue ?? ""),
                            cpuMs: test["cpuMs"]?.intValue ?? 0, message: test["message"]?.stringValue)
                        await fixture.check(outcome, mode: "as a test", host: host)
                    }
                }
            }
        }
    }
}
