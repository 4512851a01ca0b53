import Foundation
import SandboxProtocol
import Testing

/// `code/complete`, `code/inspect` and `code/isComplete` (PROTOCOL.md
/// §4.12–4.14) through a real server: names from a session's live objects,
/// lookups that cannot change the session, hostile `__getattr__` and
/// `__dir__` bounded, a busy session answered from the code. The answers
/// from the code alone are in protocol/examples/code-assist.jsonl.
extension SandboxSuite {
    @Suite("Code assistance")
    struct CodeAssistTests {
        static func ask(
            _ client: ProtocolClient, _ id: JSONValue, _ method: String, _ params: [String: JSONValue]
        ) async throws -> JSONValue {
            try await client.request(id, method, params)
            let reply = try await client.response(id)
            guard let result = reply["result"] else { throw TestFailure("\(method): \(reply)") }
            return result
        }

        static func matches(_ result: JSONValue) -> [String] {
            (result["matches"]?.arrayValue ?? []).compactMap(\.stringValue)
        }

        /// A namespace with live objects whose attributes only a lookup finds,
        /// and a property that counts the times it ran.
        static let liveObjects = """
            import sys
            class Record:
                def __init__(self):
                    self.alpha_field = 1
                def area(self, width, height=2):
                    '''The area of a width by height rectangle.'''
                    return width * height
            record = Record()
            runs_of_boom = 0
            class Side:
                @property
                def boom(self):
                    global runs_of_boom
                    runs_of_boom += 1
                    return 'text'
            side = Side()
            modules_before = len(sys.modules)
            """

        @Test func aSessionCompletesFromItsLiveObjectsAndStaysAsItWas() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await SessionServerTests.open(client, "open")
                    #expect(try await client.run(1, ["code": .string(Self.liveObjects), "session": .string(session)]).status == "ok")
                    let fields = try await Self.ask(client, "c1", Method.codeComplete, ["code": "record.al", "session": .string(session)])
                    #expect(Self.matches(fields) == ["alpha_field"], "\(fields)")
                    #expect(fields["cursorStart"] == 7 && fields["cursorEnd"] == 9)
                    #expect(fields["metadata"]?["source"] == "session")
                    let methods = try await Self.ask(client, "c2", Method.codeComplete, ["code": "x = record.ar", "session": .string(session)])
                    #expect(Self.matches(methods) == ["area"] && methods["metadata"]?["types"] == ["function"], "\(methods)")
                    // The property runs in the fork, not in the session.
                    let chained = try await Self.ask(client, "c3", Method.codeComplete, ["code": "side.boom.upp", "session": .string(session)])
                    #expect(Self.matches(chained) == ["upper"], "\(chained)")
                    let names = try await Self.ask(client, "c4", Method.codeComplete, ["code": "runs_of", "session": .string(session)])
                    #expect(Self.matches(names) == ["runs_of_boom"])
                    let inspected = try await Self.ask(client, "i1", Method.codeInspect, ["code": "record.area(3, ", "session": .string(session)])
                    let text = inspected["data"]?["text/plain"]?.stringValue ?? ""
                    #expect(inspected["found"] == true && text.contains("record.area(width, height=2)") && text.contains("The area of"), "\(inspected)")
                    // Nothing changed: the property never ran here, no module
                    // stayed imported, and no cell number was used up.
                    let after = try await client.run(2, [
                        "code": "print(runs_of_boom, len(sys.modules) - modules_before)\n1/0", "session": .string(session),
                    ])
                    #expect(after.stdout == "0 0\n", "\(after.response)")
                    #expect(after.stderr.contains("<cell 2>"), "\(after.stderr)")
                }
            }
        }

        /// A request sent the moment a cell's verdict arrives finds the
        /// session idle: the verdict leaves after the session is free.
        @Test func aCompletionSentOnTheVerdictIsAnsweredFromTheSession() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await SessionServerTests.open(client, "open")
                    for cell in 1...100 {
                        #expect(try await client.run(.integer(Int64(cell)), ["code": .string("name_\(cell) = \(cell)"), "session": .string(session)]).status == "ok")
                        let answer = try await Self.ask(client, .string("c\(cell)"), Method.codeComplete, ["code": .string("name_\(cell)"), "session": .string(session)])
                        #expect(answer["metadata"]?["source"] == "session" && Self.matches(answer) == ["name_\(cell)"], "cell \(cell): \(answer)")
                    }
                }
            }
        }

        @Test func hostileLookupsAreCutShortAndTheSessionGoesOn() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await SessionServerTests.open(client, "open")
                    let hostile = """
                        kept = 'still here'
                        class Spinning:
                            def __getattr__(self, name):
                                while True:
                                    pass
                        class Loud:
                            def __dir__(self):
                                print('LOUD ' * 1000)
                                import os
                                os.write(1, b'RAW')
                                return ['quiet']
                        class Greedy:
                            def __dir__(self):
                                hoard = []
                                while True:
                                    hoard.append(bytearray(16 << 20))
                        spinning, loud, greedy = Spinning(), Loud(), Greedy()
                        """
                    #expect(try await client.run(1, ["code": .string(hostile), "session": .string(session)]).status == "ok")
                    let start = ContinuousClock.now
                    let spun = try await Self.ask(client, "c1", Method.codeComplete, ["code": "spinning.x.y", "session": .string(session)])
                    #expect(Self.matches(spun).isEmpty)
                    #expect(spun["metadata"]?["error"]?.stringValue?.contains("took longer") == true, "\(spun)")
                    #expect(ContinuousClock.now - start < .seconds(4))
                    let loudly = try await Self.ask(client, "c2", Method.codeComplete, ["code": "loud.q", "session": .string(session)])
                    #expect(Self.matches(loudly) == ["quiet"], "\(loudly)")
                    let greedily = try await Self.ask(client, "c3", Method.codeComplete, ["code": "greedy.a", "session": .string(session)])
                    #expect(Self.matches(greedily).isEmpty)
                    #expect(greedily["metadata"]?["error"] != nil, "\(greedily)")
                    // The session lives, with its names, and nothing the lookups printed reaches its next run.
                    let next = try await client.run(2, ["code": "print(kept)", "session": .string(session)])
                    #expect(next.status == "ok" && next.stdout == "still here\n", "\(next.response) \(next.stdout)")
                    #expect(!(await client.inbox.log.contains { $0["method"]?.stringValue == Method.sessionEnded }))
                }
            }
        }

        @Test func aBusySessionIsAnsweredFromTheCode() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await SessionServerTests.open(client, "open")
                    try await client.request(1, Method.run, [
                        "code": "import time\nlive_only = 1\nprint('busy', flush=True)\ntime.sleep(1.5)\nprint('done')", "session": .string(session),
                    ])
                    _ = try await client.inbox.take { $0["params"]?["text"]?.stringValue?.contains("busy") == true }
                    let answer = try await Self.ask(client, "c1", Method.codeComplete, [
                        "code": "import math\nlive\nmath.fl", "session": .string(session),
                    ])
                    #expect(answer["metadata"]?["source"] == "code", "\(answer)")
                    #expect(Self.matches(answer) == ["floor"])
                    let run = try await client.transcript(of: 1)
                    #expect(run.status == "ok" && run.stdout.hasSuffix("done\n"))
                }
            }
        }

        @Test func requestsAreCheckedAndCancellable() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for (id, method, params, message) in [
                        ("e1", Method.codeComplete, ["code": "x", "cursor": -1] as [String: JSONValue], "cursor: -1 is below the minimum 0"),
                        ("e2", Method.codeInspect, ["code": "x", "detailLevel": 2], "detailLevel: 2 is above the maximum 1"),
                        ("e3", Method.codeComplete, ["cursor": 0], "code: required string missing"),
                        ("e4", Method.codeIsComplete, ["code": 7], "code: must be a string, not number"),
                    ] {
                        try await client.request(.string(id), method, params)
                        let reply = try await client.response(.string(id))
                        #expect(reply["error"]?["code"] == -32602 && reply["error"]?["message"]?.stringValue == "Invalid params: \(message)", "\(reply)")
                    }
                    // Cursors count code points, not bytes or UTF-16 units.
                    let wide = try await Self.ask(client, "w", Method.codeComplete, ["code": "é = '🙂'\nimport math\nmath.pi", "cursor": 27])
                    #expect(wide["cursorStart"] == 25 && Self.matches(wide) == ["pi"], "\(wide)")
                    // Still one response, and the connection serves on.
                    try await client.request("slow", Method.codeComplete, ["code": "import math\nmath."])
                    try await client.notify(Method.cancelRequest, ["id": "slow"])
                    let cancelled = try await client.response("slow")
                    #expect(cancelled["result"] != nil, "\(cancelled)")
                    #expect(try await client.run(1, ["code": "print(6 * 7)"]).stdout == "42\n")
                }
            }
        }
    }
}
