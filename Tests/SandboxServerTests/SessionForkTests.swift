import Foundation
import SandboxProtocol
import Testing

/// `session/fork` (PROTOCOL.md §4.15) through a real server: the copy has
/// the original's names (shared objects still shared, functions and classes
/// by value), files and modules; the two are isolated both ways (names,
/// files, processes); the copy has its own limits and rolls back to the
/// copied state; hostile pickling cannot change the original.
extension SandboxSuite {
    @Suite("Session fork")
    struct SessionForkTests {
        static func fork(_ client: ProtocolClient, _ id: JSONValue, _ params: [String: JSONValue]) async throws -> JSONValue {
            try await client.request(id, Method.sessionFork, params)
            return try await client.response(id, within: .seconds(60))
        }

        static let state = """
            import math, threading, subprocess
            x = [1, 2]
            y = x
            base = 10
            def shifted(n):
                return n + base
            class Point:
                def __init__(self, a):
                    self.a = a
                def norm(self):
                    return math.hypot(self.a, 0)
            p = Point(3)
            lock = threading.Lock()
            numbers = (n for n in range(3))
            open('notes.txt', 'w').write('original notes')
            sleeper = subprocess.Popen(['sleep', '60'])
            """

        @Test func theCopyHasTheStateAndTheTwoAreIsolatedBothWays() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let original = JSONValue.string(try await SessionServerTests.open(client, "open"))
                    #expect(try await client.run(1, ["session": original, "code": .string(Self.state)]).status == "ok")
                    let reply = try await Self.fork(client, "fork", ["session": original])
                    guard let result = reply["result"], let copy = result["session"] else { throw TestFailure("session/fork: \(reply)") }
                    #expect(copy != original)
                    #expect(result["onFailure"] == "rollback" && result["limits"]?["memoryMb"] == 256, "\(result)")
                    let notCopied = (result["copied"]?["notCopied"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
                    // dill copies a lock as a new one, and a Popen as an object whose process is not in the copy.
                    #expect(notCopied == ["numbers"], "\(result)")
                    #expect((result["copied"]?["names"]?.intValue ?? 0) >= 6 && result["copied"]?["files"] == 1, "\(result)")
                    let seen = try await client.run(2, ["session": copy, "code": """
                        import os
                        base = 20
                        print(x, y is x, shifted(1), p.norm(), type(p).__name__, math.pi > 3, open('notes.txt').read())
                        print(lock.acquire(blocking=False), 'numbers' in dir())
                        print(sorted(int(pid) for pid in os.listdir('/proc') if pid.isdigit() and open(f'/proc/{pid}/comm').read().strip() == 'sleep'))
                        x.append(3)
                        open('notes.txt', 'w').write('copy notes')
                        """])
                    // `shifted` sees the copy's own `base`: its globals are the copy's namespace.
                    #expect(seen.stdout == "[1, 2] True 21 3.0 Point True original notes\nTrue False\n[]\n", "\(seen.response)")
                    let unchanged = try await client.run(3, ["session": original, "code": """
                        print(x, shifted(1), open('notes.txt').read(), sleeper.poll())
                        x.append(4)
                        open('more.txt', 'w').write('only here')
                        """])
                    #expect(unchanged.stdout == "[1, 2] 11 original notes None\n", "\(unchanged.response)")
                    let copyAgain = try await client.run(4, ["session": copy, "code": "import os\nprint(x, os.path.exists('more.txt'))"])
                    #expect(copyAgain.stdout == "[1, 2, 3] False\n", "\(copyAgain.response)")
                    // Each ends alone.
                    try await client.request("close", Method.sessionClose, ["session": original])
                    _ = try await client.response("close")
                    #expect(try await client.run(5, ["session": copy, "code": "print(p.a)"]).stdout == "3\n")
                    try SchemaCheck.validate(SchemaCheck.messages(sent: client.sent.withLock { $0 }, received: await client.inbox.log))
                }
            }
        }

        @Test func theCopyHasItsOwnLimitsAndRollsBackToTheCopiedState() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let original = JSONValue.string(try await SessionServerTests.open(client, "open", ["onFailure": "end"]))
                    #expect(try await client.run(1, ["session": original, "code": "values = list(range(5))"]).status == "ok")
                    let reply = try await Self.fork(client, "fork", [
                        "session": original, "memoryMb": 128, "idleTimeoutMs": 5000, "onFailure": "rollback",
                    ])
                    guard let copy = reply["result"]?["session"] else { throw TestFailure("session/fork: \(reply)") }
                    #expect(reply["result"]?["limits"]?["memoryMb"] == 128 && reply["result"]?["limits"]?["idleTimeoutMs"] == 5000)
                    #expect(reply["result"]?["onFailure"] == "rollback")
                    let killed = try await client.run(2, ["session": copy, "code": "values.append(99)\nimport os, signal\nos.kill(os.getpid(), signal.SIGKILL)"])
                    #expect(killed.result?["rolledBack"] == true, "\(killed.response)")
                    let after = try await client.run(3, ["session": copy, "code": "print(values)"])
                    #expect(after.stdout == "[0, 1, 2, 3, 4]\n", "\(after.response)")
                    let bad = try await Self.fork(client, "bad", ["session": original, "memoryMb": 1])
                    #expect(bad["error"]?["code"] == -32602, "\(bad)")
                    let unknown = try await Self.fork(client, "unknown", ["session": "s-000000000000000000000000"])
                    #expect(unknown["error"]?["code"] == -32602, "\(unknown)")
                }
            }
        }

        /// Sessions opened one after another take the sandbox the server
        /// started ahead (`SessionService`'s spare): each is fresh and its
        /// own, whatever the one before did, and one with other limits gets
        /// a sandbox of its own with them.
        @Test func sessionsFromTheSpareAreFreshAndTheirOwn() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    var seen: [String] = []
                    for index in 0..<4 {
                        let params: [String: JSONValue] = index == 2 ? ["memoryMb": 64] : [:]
                        let session = JSONValue.string(try await SessionServerTests.open(client, .string("open\(index)"), params))
                        let code = """
                            import os
                            print('mark' in dir(), sorted(name for name in os.listdir('.') if name.startswith('mark')))
                            mark = \(index)
                            open('mark\(index)', 'w').write('x')
                            """
                        let run = try await client.run(.integer(Int64(index)), ["session": session, "code": .string(code)])
                        seen.append(run.stdout)
                        try await client.request(.string("close\(index)"), Method.sessionClose, ["session": session])
                        _ = try await client.response(.string("close\(index)"))
                    }
                    #expect(seen == Array(repeating: "False []\n", count: 4), "\(seen)")
                }
            }
        }

        @Test func hostilePicklingCannotChangeTheOriginal() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let original = JSONValue.string(try await SessionServerTests.open(client, "open"))
                    #expect(try await client.run(1, ["session": original, "code": """
                        changed = []
                        class Loud:
                            def __reduce__(self):
                                changed.append('reduce ran here')
                                print('noise from reduce')
                                return (Loud, ())
                        loud = Loud()
                        kept = {'a': 1}
                        """]).status == "ok")
                    let loud = try await Self.fork(client, "loud", ["session": original])
                    #expect(loud["result"]?["session"] != nil, "\(loud)")
                    #expect(try await client.run(2, ["session": original, "code": "class Stuck:\n    def __reduce__(self):\n        while True: pass\nstuck = Stuck()"]).status == "ok")
                    let started = ContinuousClock.now
                    let stuck = try await Self.fork(client, "stuck", ["session": original])
                    #expect(stuck["error"]?["code"] == .integer(Int64(RPCErrorCode.forkFailed.rawValue)), "\(stuck)")
                    #expect(ContinuousClock.now - started < .seconds(30))
                    let after = try await client.run(3, ["session": original, "code": "print(changed, kept, type(stuck).__name__)"])
                    #expect(after.stdout == "[] {'a': 1} Stuck\n", "\(after.response)")
                    // The failed copy holds no place: the connection can still open its share.
                    try SchemaCheck.validate(SchemaCheck.messages(sent: client.sent.withLock { $0 }, received: await client.inbox.log))
                }
            }
        }
    }
}
