import Foundation
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One connection's bookkeeping.
final class ChaosConnection: @unchecked Sendable {
    /// Runs accepted and answered, and runs in flight when the test dropped the connection.
    var answered: [JSONValue] = []
    var inFlightAtDrop: [JSONValue] = []
    var liveTags: [String] = []
    var sessions: [ChaosSession] = []
    var dropped = false
}

final class ChaosSession: @unchecked Sendable {
    let id: String
    let opened = ContinuousClock.now
    var tags: [String] = []
    var ended = false
    init(id: String) { self.id = id }
}

/// One client of the soak: connection after connection, each a random
/// sequence of actions, until the deadline.
final class ChaosClient: @unchecked Sendable {
    let index: Int
    let port: Int
    let ledger: ChaosLedger
    let deadline: ContinuousClock.Instant
    var random: SplitMix
    private var next: Int64 = 0

    init(index: Int, port: Int, ledger: ChaosLedger, deadline: ContinuousClock.Instant, seed: UInt64) {
        self.index = index
        self.port = port
        self.ledger = ledger
        self.deadline = deadline
        random = SplitMix(seed: seed)
    }

    private func nextRun() -> (id: JSONValue, tag: String) {
        next += 1
        return (.integer(next), "r\(index)x\(next)")
    }

    private func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }

    func work() async {
        while ContinuousClock.now < deadline {
            do {
                if chance(5) {
                    try await reset()
                } else {
                    try await connection()
                }
            } catch {
                await ledger.problem("client \(index): \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// One connection: a few actions, then a close (or a drop mid-run).
    private func connection() async throws {
        let connection = ChaosConnection()
        let actions = Int.random(in: 1...12, using: &random)
        try await ProtocolClient.connect(port: port) { (client) async throws in
            for _ in 0..<actions where ContinuousClock.now < self.deadline {
                try await self.action(client, connection)
                if connection.dropped { break }
            }
            await self.checkConversation(client, connection)
        }
        // Sessions still open end with their connection, and runs in flight with it.
        for session in connection.sessions where !session.ended {
            session.ended = true
            await ledger.sessionEnded("with the connection")
        }
        await ledger.end(connection.liveTags + connection.sessions.flatMap(\.tags))
    }

    private func action(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<40: try await oneOffs(client, connection)
        case 40..<65: try await session(client, connection)
        case 65..<80: try await cancel(client, connection)
        case 80..<90: try await drop(client, connection)
        default: try await Task.sleep(for: .milliseconds(Int.random(in: 50...1000, using: &random)))
        }
    }

    // MARK: one-off runs

    /// One to six runs sent at once, then their transcripts.
    private func oneOffs(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        var sent: [(JSONValue, String, SoakProgram, ContinuousClock.Instant)] = []
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            let (id, tag) = nextRun()
            let program = randomProgram(tag: tag)
            connection.liveTags.append(tag)
            sent.append((id, tag, program, .now))
            await ledger.label(tag, program.name)
            await ledger.count("runs")
            try await program.submit(id: id, on: client)
        }
        for (id, tag, program, start) in sent {
            let run = try await transcript(client, id, tag: tag)
            connection.answered.append(id)
            await ledger.end([tag])
            await judge(run, program, tag: tag, tags: [tag], start: start)
        }
    }

    private func transcript(_ client: ProtocolClient, _ id: JSONValue, tag: String) async throws -> RunTranscript {
        do {
            return try await client.transcript(of: id, within: .seconds(120))
        } catch {
            throw TestFailure("run \(tag): no verdict within 120 s: \(error)")
        }
    }

    /// Checks a verdict against what the program should produce. A run whose
    /// processes (or its session's) the killer killed may end any way, with a verdict.
    private func judge(
        _ run: RunTranscript, _ program: SoakProgram, tag: String, tags: [String], start: ContinuousClock.Instant,
        problems check: ((RunTranscript) -> [String])? = nil
    ) async {
        if let error = run.response["error"] {
            await ledger.count("refused")
            await ledger.problem("run \(tag) (\(program.name)) refused: \(error)")
            return
        }
        guard let status = run.status else {
            await ledger.problem("run \(tag) (\(program.name)): no status in \(run.response)")
            return
        }
        await ledger.verdict(status)
        let problems = check?(run) ?? program.check(run)
        guard !problems.isEmpty else { return }
        if await ledger.wasKilled(tags) {
            await ledger.count("disturbed")
            return
        }
        let untagged = await ledger.untaggedKill(since: start - .seconds(30))
        let message = run.result?["message"]?.stringValue ?? ""
        // A kill the killer could not trace to a run (a slot, a warm sandbox, a
        // session before its first cell named it): a run near it may have been
        // its victim, and may end killed, cancelled with its session, or with a
        // message saying what failed; never otherwise.
        let clear = status == "killed" || (["internalError", "cancelled"].contains(status) && !message.isEmpty)
        if untagged && clear {
            await ledger.count("disturbed")
            return
        }
        await ledger.problem(
            "run \(tag) (\(program.name))\(untagged ? ", after a kill of a warm sandbox or slot" : ""): \(problems.joined(separator: "; ")) \(message)")
    }

    private func randomProgram(tag: String) -> SoakProgram {
        var program: SoakProgram
        switch Int.random(in: 0..<10, using: &random) {
        case 0:
            program = SoakProgram(
                name: "timeout", params: ["code": .string("import time\nprint('\(tag)', flush=True)\nwhile True: time.sleep(0.02)"),
                                          "timeoutMs": .integer(Int64(Int.random(in: 200...800, using: &random)))],
                expectedStatus: ["timeout"], stdout: "\(tag)\n")
        case 1:
            program = SoakProgram(
                name: "cpu time", params: ["code": "while True: pass", "cpuTimeMs": 300, "timeoutMs": 20000],
                expectedStatus: ["timeout"], stdout: "")
        case 2:
            program = SoakProgram(
                name: "memory", params: ["code": "b = bytearray(200 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('ESCAPED')", "memoryMb": 48],
                expectedStatus: ["memoryLimit"])
        case 3:
            program = SoakProgram(
                name: "output limit", params: ["code": "for i in range(100000): print('x' * 99)", "maxOutputBytes": 5000],
                expectedStatus: ["outputLimit"])
        default:
            program = SoakProgram.random(tag: tag, using: &random)
        }
        program.params["code"] = .string(ChaosTag.tagged(program.params["code"]?.stringValue ?? "", tag))
        return program
    }

    // MARK: cancels and drops

    /// A long run cancelled at once (queued, perhaps) or once it has started.
    private func cancel(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        let (id, tag) = nextRun()
        let start = ContinuousClock.now
        connection.liveTags.append(tag)
        try await client.request(id, Method.run, ["code": .string(ChaosTag.tagged(Self.sleeper, tag))])
        await ledger.count("runs")
        await ledger.label(tag, "cancel")
        if chance(70) { await waitForStart(client, id) }
        try await client.notify(Method.cancelRequest, ["id": id])
        await ledger.count("cancels")
        let run = try await transcript(client, id, tag: tag)
        connection.answered.append(id)
        await ledger.end([tag])
        // Cancelled while queued, it never ran: only its status says so.
        await judge(run, SoakProgram(name: "cancelled", params: [:], expectedStatus: ["cancelled"]), tag: tag, tags: [tag], start: start) {
            $0.status == "cancelled" ? [] : ["status \($0.status ?? "none"): \($0.response)"]
        }
    }

    static let sleeper = "import time\nprint('started', flush=True)\ntime.sleep(30)"

    /// Until the run has printed, or has its verdict (killed before it printed).
    private func waitForStart(_ client: ProtocolClient, _ id: JSONValue, within timeout: Duration = .seconds(60)) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let seen = await client.inbox.contains {
                ($0["params"]?["id"] == id && $0["params"]?["text"]?.stringValue?.hasPrefix("started") == true)
                    || ($0["id"] == id && $0["method"] == nil)
            }
            let closed = await client.inbox.closed
            if seen || closed { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Long runs (and perhaps a session's cell) started, then the connection closed under them.
    private func drop(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        var ids: [JSONValue] = []
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let (id, tag) = nextRun()
            connection.liveTags.append(tag)
            try await client.request(id, Method.run, ["code": .string(ChaosTag.tagged(Self.sleeper, tag))])
            await ledger.count("runs")
            await ledger.label(tag, "dropped run")
            ids.append(id)
        }
        if let session = connection.sessions.last(where: { !$0.ended }) {
            let (id, tag) = nextRun()
            session.tags.append(tag)
            await ledger.label(tag, "dropped cell")
            try await client.request(id, Method.run, ["code": .string(ChaosTag.tagged(Self.sleeper, tag)), "session": .string(session.id)])
            ids.append(id)
        }
        await waitForStart(client, ids[0])
        connection.inFlightAtDrop = ids
        connection.dropped = true
        await ledger.count("drops")
        await ledger.count("droppedRuns", ids.count)
    }

    /// A connection reset (no close frame) while its run runs.
    private func reset() async throws {
        let (id, tag) = nextRun()
        let socket = try await RawWebSocket.connect(port: port)
        let request: JSONValue = ["jsonrpc": "2.0", "id": id, "method": "run", "params": ["code": .string(ChaosTag.tagged(Self.sleeper, tag))]]
        try await socket.sendText(request.description)
        await ledger.count("runs")
        await ledger.label(tag, "reset")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, let frame = try await socket.readFrame(within: deadline - ContinuousClock.now) {
            if frame.text.contains("started") || frame.json?["id"] == id { break }
        }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(socket.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        // The socket's deinit closes it: with a zero linger, a reset.
        await ledger.count("drops")
        await ledger.count("resets")
        await ledger.count("droppedRuns")
        await ledger.end([tag])
    }

    // MARK: sessions

    /// A session: cells (a counter kept across them, errors, timeouts, cancels,
    /// output limits), then a close, its idle timeout, or its connection's end.
    private func session(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        next += 1
        var params: [String: JSONValue] = [:]
        let idle = chance(30) ? Int.random(in: 1000...3000, using: &random) : nil
        if let idle { params["idleTimeoutMs"] = .integer(Int64(idle)) }
        let openID = JSONValue.string("open\(next)")
        try await client.request(openID, Method.sessionOpen, params)
        let reply = try await client.response(openID, within: .seconds(60))
        guard let id = reply["result"]?["session"]?.stringValue else {
            if reply["error"]?["code"] == .integer(Int64(RPCErrorCode.tooManySessions.rawValue)) {
                await ledger.count("sessionsRefused")
            } else {
                await ledger.problem("session/open: \(reply)")
            }
            return
        }
        await ledger.count("sessions")
        let session = ChaosSession(id: id)
        connection.sessions.append(session)
        var counter = 0
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            if try await endedNotice(client, session, within: .zero) != nil { break }
            let (runID, tag) = nextRun()
            session.tags.append(tag)
            let start = ContinuousClock.now
            var program: SoakProgram
            var cancels = false
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                program = SoakProgram(name: "cell error", params: ["code": .string("raise KeyError('\(tag)')")],
                                      expectedStatus: ["error"], exitCode: 1, stderrSuffix: "KeyError: '\(tag)'\n")
            case 1:
                program = SoakProgram(name: "cell timeout", params: ["code": "import time\nwhile True: time.sleep(0.01)", "timeoutMs": 300],
                                      expectedStatus: ["timeout"])
            case 2:
                program = SoakProgram(name: "cell output limit", params: ["code": "for i in range(100000): print('y' * 99)", "maxOutputBytes": 3000],
                                      expectedStatus: ["outputLimit"])
            case 3:
                program = SoakProgram(name: "cell cancelled", params: ["code": .string(Self.sleeper)], expectedStatus: ["cancelled"])
                cancels = true
            default:
                program = SoakProgram(name: "cell", params: ["code": .string("n = globals().get('n', 0) + 1\nprint('\(tag)', n)")],
                                      expectedStatus: ["ok"], exitCode: 0, stdout: "\(tag) \(counter + 1)\n")
            }
            program.params["code"] = .string(ChaosTag.tagged(program.params["code"]?.stringValue ?? "", tag))
            program.params["session"] = .string(id)
            await ledger.label(tag, program.name)
            try await program.submit(id: runID, on: client)
            if cancels {
                await waitForStart(client, runID)
                try await client.notify(Method.cancelRequest, ["id": runID])
                await ledger.count("cancels")
            }
            let run = try await transcript(client, runID, tag: tag)
            if run.response["error"]?["code"] == .integer(Int64(RPCErrorCode.sessionEnded.rawValue)) {
                // It ended before this cell: session/ended says why.
                if try await endedNotice(client, session, within: .seconds(10)) == nil {
                    await ledger.problem("session \(id): a cell was refused (\(run.response)) and no session/ended came")
                }
                break
            }
            connection.answered.append(runID)
            await ledger.count("cells")
            await judge(run, program, tag: tag, tags: session.tags, start: start)
            if program.name == "cell" && run.status == "ok" { counter += 1 }
        }
        if session.ended { return }
        let ending = Int.random(in: 0..<4, using: &random)
        if ending < 2 {
            let closeID = JSONValue.string("close\(next)")
            try await client.request(closeID, Method.sessionClose, ["session": .string(id)])
            let closed = try await client.response(closeID, within: .seconds(60))
            if closed["result"] == .object([:]) {
                session.ended = true
                await ledger.sessionEnded("closed")
            } else if try await endedNotice(client, session, within: .seconds(10)) == nil {
                await ledger.problem("session \(id): session/close answered \(closed) and no session/ended came")
            }
            await ledger.end(session.tags)
        } else if ending == 2, let idle {
            if try await endedNotice(client, session, within: .milliseconds(Int64(idle)) + .seconds(20)) == nil {
                await ledger.problem("session \(id): its idle timeout (\(idle) ms) did not end it")
            }
        }
        // Otherwise it stays open until the connection ends.
    }

    /// Takes `session/ended` for `session` if it comes within `timeout`, and checks its reason.
    private func endedNotice(_ client: ProtocolClient, _ session: ChaosSession, within timeout: Duration) async throws -> String? {
        let matches: @Sendable (JSONValue) -> Bool = {
            $0["method"]?.stringValue == Method.sessionEnded && $0["params"]?["session"]?.stringValue == session.id
        }
        if timeout == .zero, !(await client.inbox.contains(where: matches)) { return nil }
        guard let notice = try? await client.inbox.take(within: max(timeout, .milliseconds(1)), where: matches) else { return nil }
        session.ended = true
        await ledger.end(session.tags)
        let reason = notice["params"]?["reason"]?.stringValue ?? "none"
        let message = notice["params"]?["message"]?.stringValue ?? ""
        await ledger.sessionEnded(reason)
        let killed = await ledger.wasKilled(session.tags)
        let untagged = await ledger.untaggedKill(since: session.opened - .seconds(30))
        switch reason {
        case "idleTimeout", "killed": break
        case "crashed":
            if message.isEmpty { await ledger.problem("session \(session.id) ended crashed with no message") }
            if !killed && !untagged { await ledger.problem("session \(session.id) crashed, though none of its processes was killed: \(message)") }
        default:
            await ledger.problem("session \(session.id) ended: \(notice)")
        }
        return reason
    }

    // MARK: the whole conversation

    /// On a connection the test did not drop mid-run: every run answered
    /// exactly once, nothing about a run after its verdict, nothing unread
    /// but the end of a session. On any: each run answered at most once.
    private func checkConversation(_ client: ProtocolClient, _ connection: ChaosConnection) async {
        if !connection.dropped { try? await Task.sleep(for: .milliseconds(50)) }
        let log = await client.inbox.log
        var responses: [JSONValue: Int] = [:]
        for message in log where message["method"] == nil {
            if let id = message["id"] { responses[id, default: 0] += 1 }
        }
        for id in connection.answered where responses[id] != 1 {
            await ledger.problem("run \(id) of client \(index): \(responses[id] ?? 0) responses")
        }
        for id in connection.inFlightAtDrop where (responses[id] ?? 0) > 1 {
            await ledger.problem("run \(id) of client \(index): \(responses[id] ?? 0) responses")
        }
        let closed = await client.inbox.closed
        if closed && !connection.dropped {
            await ledger.problem("client \(index): the server closed the connection")
        }
        guard !connection.dropped else { return }
        let stray = await client.inbox.pending.filter { $0["method"]?.stringValue != Method.sessionEnded }
        if !stray.isEmpty { await ledger.problem("client \(index): messages after the last verdict: \(stray.prefix(3))") }
        for notice in await client.inbox.pending {
            // A session that ended after its last cell (idle, or killed): its reason is checked as any.
            if let session = connection.sessions.first(where: { $0.id == notice["params"]?["session"]?.stringValue && !$0.ended }) {
                _ = try? await endedNotice(client, session, within: .seconds(1))
            }
        }
    }
}
