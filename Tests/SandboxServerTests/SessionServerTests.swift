import Foundation
import SandboxProtocol
import Testing

/// Sessions over WebSocket (PROTOCOL.md §4.8–4.10): state kept, isolation,
/// interrupts and the kill after a stuck one, the idle timeout, memory over
/// a session's life, the end with the connection, and every refusal.
extension SandboxSuite {
    @Suite("Sessions over WebSocket")
    struct SessionServerTests {
        static func open(_ client: ProtocolClient, _ id: JSONValue, _ params: [String: JSONValue] = [:]) async throws -> String {
            try await client.request(id, Method.sessionOpen, params)
            let reply = try await client.response(id)
            guard let session = reply["result"]?["session"]?.stringValue else { throw TestFailure("session/open: \(reply)") }
            return session
        }

        static func ended(_ client: ProtocolClient, _ session: String, within timeout: Duration = .seconds(20)) async throws -> JSONValue {
            try await client.inbox.take(within: timeout) {
                $0["method"]?.stringValue == Method.sessionEnded && $0["params"]?["session"]?.stringValue == session
            }
        }

        @Test func stateIsKeptWithinASessionAndNowhereElse() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let one = try await Self.open(client, "o1")
                    let two = try await Self.open(client, "o2")
                    #expect(one != two && one.hasPrefix("s-"))
                    let set = try await client.run(1, ["code": "x = 41\nopen('note.txt', 'w').write('kept')", "session": .string(one)])
                    #expect(set.status == "ok")
                    let read = try await client.run(2, ["code": "print(x + 1, open('note.txt').read())", "session": .string(one)])
                    #expect(read.stdout == "42 kept\n", "\(read.response)")
                    #expect(read.result?["cpuMs"] != nil && read.result?["wallMs"] != nil)
                    let value = try await client.run(3, ["code": "x", "session": .string(one)])
                    let display = value.notifications.first { $0["method"]?.stringValue == Method.runDisplay }
                    #expect(display?["params"]?["data"]?["text/plain"] == "41")
                    for (id, code, target) in [(4, "print('x' in globals())", JSONValue.string(two)), (5, "print('x' in globals())", .null)] {
                        var params: [String: JSONValue] = ["code": .string(code)]
                        if target != .null { params["session"] = target }
                        #expect(try await client.run(.integer(Int64(id)), params).stdout == "False\n")
                    }
                }
            }
        }

        @Test func runsOfOneSessionExecuteOneAtATimeInOrder() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await Self.open(client, "open")
                    let codes = ["import time\nlog = []\ntime.sleep(0.3)\nlog.append(1)", "log.append(2)", "print(log)"]
                    for (index, code) in codes.enumerated() {
                        try await client.request(.integer(Int64(index)), Method.run, ["code": .string(code), "session": .string(session)])
                    }
                    let transcripts = [try await client.transcript(of: 0), try await client.transcript(of: 1), try await client.transcript(of: 2)]
                    #expect(transcripts[1].states.first == "queued", "\(transcripts[1].notifications)")
                    #expect(transcripts[2].stdout == "[1, 2]\n", "\(transcripts[2].response)")
                }
            }
        }

        @Test func cancelInterruptsAndAStuckInterruptKillsTheSession() async throws {
            let configuration = TestServer.configuration { $0.sessionInterruptGrace = .milliseconds(700) }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await Self.open(client, "open", ["onFailure": "end"])
                    _ = try await client.run(0, ["code": "kept = 1", "session": .string(session)])
                    try await client.request(1, Method.run, ["code": "import time\nprint('go', flush=True)\nwhile True: time.sleep(0.01)", "session": .string(session)])
                    _ = try await client.inbox.take { $0["params"]?["text"]?.stringValue?.contains("go") == true }
                    try await client.notify(Method.cancelRequest, ["id": 1])
                    let cancelled = try await client.transcript(of: 1)
                    #expect(cancelled.status == "cancelled")
                    #expect(cancelled.stderr.contains("KeyboardInterrupt"))
                    #expect(try await client.run(2, ["code": "print(kept)", "session": .string(session)]).stdout == "1\n")
                    let stubborn = try await client.run(3, [
                        "code": "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.01)",
                        "session": .string(session), "timeoutMs": 500,
                    ])
                    #expect(stubborn.status == "timeout")
                    let ended = try await Self.ended(client, session)
                    #expect(ended["params"]?["reason"] == "killed")
                    // The verdict came first; a run now is refused with the reason.
                    let log = await client.inbox.log
                    let verdictIndex = log.firstIndex { $0["id"] == 3 } ?? .max
                    let endedIndex = log.firstIndex { $0["method"]?.stringValue == Method.sessionEnded } ?? -1
                    #expect(verdictIndex < endedIndex)
                    try await client.request(4, Method.run, ["code": "print(1)", "session": .string(session)])
                    let refused = try await client.response(4)["error"]
                    #expect(refused?["code"] == .integer(Int64(RPCErrorCode.sessionEnded.rawValue)))
                    #expect(refused?["data"]?["reason"] == "killed")
                    // Every message of this conversation, sessions' included, as the schemas describe it.
                    let received = await client.inbox.log
                    try SchemaCheck.validate(SchemaCheck.messages(sent: client.sent.withLock { $0 }, received: received))
                }
            }
        }

        @Test func anIdleSessionEnds() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await Self.open(client, "open", ["idleTimeoutMs": 1000])
                    _ = try await client.run(1, ["code": "x = 1", "session": .string(session)])
                    let ended = try await Self.ended(client, session, within: .seconds(10))
                    #expect(ended["params"]?["reason"] == "idleTimeout")
                }
            }
        }

        @Test func aFailedRunIsRolledBackAndTheSessionGoesOn() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request("open", Method.sessionOpen, [:])
                    let opened = try await client.response("open")
                    #expect(opened["result"]?["onFailure"] == "rollback", "\(opened)")
                    let session = try #require(opened["result"]?["session"]?.stringValue)
                    #expect(try await client.run(1, ["code": "x = 1", "session": .string(session)]).status == "ok")
                    let spun = try await client.run(2, [
                        "code": "x = 2\nwhile True: pass", "session": .string(session), "timeoutMs": 300, "cpuTimeMs": 10000,
                    ])
                    #expect(spun.status == "timeout" && spun.result?["rolledBack"] == true, "\(spun.response)")
                    let after = try await client.run(3, ["code": "print(x)", "session": .string(session)])
                    #expect(after.stdout == "1\n" && after.result?["rolledBack"] == nil, "\(after.response)")
                    // onFailure "end": a run killed by a signal ends its session.
                    try await client.request("end", Method.sessionOpen, ["onFailure": "end"])
                    let ending = try await client.response("end")
                    #expect(ending["result"]?["onFailure"] == "end")
                    let other = try #require(ending["result"]?["session"]?.stringValue)
                    let killed = try await client.run(4, ["code": "import os\nos.kill(os.getpid(), 9)", "session": .string(other)])
                    #expect(killed.status == "killed" && killed.result?["rolledBack"] == nil, "\(killed.response)")
                    #expect(try await Self.ended(client, other)["params"]?["reason"] == "crashed")
                    try await client.request("bad", Method.sessionOpen, ["onFailure": "retry"])
                    let refused = try await client.response("bad")
                    #expect(refused["error"]?["message"]?.stringValue?.hasPrefix("Invalid params: onFailure: must be") == true, "\(refused)")
                    try SchemaCheck.validate(SchemaCheck.messages(sent: client.sent.withLock { $0 }, received: await client.inbox.log))
                }
            }
        }

        @Test func memoryCountsOverTheSessionsLife() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await Self.open(client, "open", ["memoryMb": 96, "onFailure": "end"])
                    var statuses: [String] = []
                    for id in 1...4 {
                        let run = try await client.run(.integer(Int64(id)), [
                            "code": "blocks = globals().setdefault('blocks', [])\nblocks.append(bytearray(30 << 20))",
                            "session": .string(session),
                        ])
                        statuses.append(run.status ?? "")
                        if run.status != "ok" { break }
                    }
                    #expect(statuses.first == "ok")
                    #expect(statuses.last == "memoryLimit", "\(statuses)")
                    #expect(try await Self.ended(client, session)["params"]?["reason"] == "memoryLimit")
                }
            }
        }

        @Test func closingTheConnectionEndsItsSessionsAndTheirProcesses() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await Self.open(client, "open")
                    let started = try await client.run(1, [
                        "code": "import subprocess\nsubprocess.Popen(['sleep', '300'])\nprint('started')", "session": .string(session),
                    ])
                    #expect(started.stdout == "started\n")
                }
                try await Task.sleep(for: .seconds(1))
                #expect(HostProcesses.sandboxed().filter { $0.contains("Name:\tsleep") }.isEmpty)
            }
        }

        @Test func sessionCloseCancelsItsRunsBeforeItAnswers() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await Self.open(client, "open")
                    try await client.request(1, Method.run, ["code": "import time\ntime.sleep(30)", "session": .string(session)])
                    try await client.request(2, Method.run, ["code": "print(2)", "session": .string(session)])
                    _ = try await client.inbox.take { $0["params"]?["id"] == 1 && $0["params"]?["state"] == "running" }
                    try await client.request("close", Method.sessionClose, ["session": .string(session)])
                    #expect(try await client.response("close")["result"] == .object([:]))
                    let log = await client.inbox.log
                    let closeIndex = log.firstIndex { $0["id"] == "close" } ?? -1
                    for id: JSONValue in [1, 2] {
                        let index = log.firstIndex { $0["id"] == id && $0["result"] != nil } ?? .max
                        #expect(index < closeIndex, "the verdict of \(id) precedes the close response")
                        #expect(log[safe: index]?["result"]?["status"] == "cancelled")
                    }
                    #expect(!log.contains { $0["method"]?.stringValue == Method.sessionEnded }, "no session/ended after session/close")
                    try await client.request(3, Method.run, ["code": "print(1)", "session": .string(session)])
                    #expect(try await client.response(3)["error"]?["data"]?["reason"] == "closed")
                    try SchemaCheck.validate(SchemaCheck.messages(sent: client.sent.withLock { $0 }, received: await client.inbox.log))
                }
            }
        }

        @Test func badSessionRequestsGetClearErrors() async throws {
            let configuration = TestServer.configuration { $0.maxSessionsPerConnection = 1 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(0, Method.initialize)
                    let info = try await client.response(0)["result"]
                    #expect(info?["capabilities"]?["sessions"] == true)
                    #expect(info?["limits"]?["sessions"]?["maxPerConnection"] == 1)
                    let session = try await Self.open(client, "open")
                    let cases: [(JSONValue, String, [String: JSONValue], RPCErrorCode, String)] = [
                        ("a", Method.sessionOpen, [:], .tooManySessions, "Too many sessions: this connection has 1"),
                        ("b", Method.sessionOpen, ["memoryMb": 4096], .invalidParams, "Invalid params: memoryMb: 4096 is above the maximum"),
                        ("c", Method.sessionOpen, ["idleTimeoutMs": 10], .invalidParams, "Invalid params: idleTimeoutMs: 10 is below the minimum 1000"),
                        ("d", Method.sessionOpen, ["colour": "red"], .invalidParams, "Invalid params: unknown field 'colour'"),
                        ("e", Method.run, ["code": "1", "session": "s-nope"], .invalidParams, "Invalid params: session: 's-nope' is not a session"),
                        ("f", Method.run, ["code": "1", "session": .string(session), "memoryMb": 64], .invalidParams, "Invalid params: memoryMb: a session's runs share"),
                        ("g", Method.run, ["code": "1", "session": 7], .invalidParams, "Invalid params: session: must be a string"),
                        ("h", Method.sessionClose, ["session": "s-nope"], .invalidParams, "Invalid params: session: 's-nope' is not a session"),
                        ("i", Method.sessionClose, [:], .invalidParams, "Invalid params: session: required string missing"),
                    ]
                    for (id, method, params, code, message) in cases {
                        try await client.request(id, method, params)
                        let error = try await client.response(id)["error"]
                        #expect(error?["code"] == .integer(Int64(code.rawValue)), "\(id): \(String(describing: error))")
                        #expect(error?["message"]?.stringValue?.hasPrefix(message) == true, "\(id): \(String(describing: error))")
                    }
                    #expect(try await client.run(1, ["code": "print('fine')", "session": .string(session)]).stdout == "fine\n")
                }
                let reply = try await HTTP.post(port, "/v1/run", #"{"code": "print(1)", "session": "s-x"}"#)
                #expect(reply.status == 400)
                #expect(reply.json["error"]?["message"]?.stringValue?.contains("session: needs the WebSocket endpoint") == true)
            }
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
