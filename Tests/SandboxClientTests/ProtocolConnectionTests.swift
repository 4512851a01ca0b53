import Foundation
import SandboxClient
import SandboxProtocol
import Synchronization
import Testing

/// `ProtocolConnection` against a scripted peer on loopback: which request
/// each message belongs to, errors, sessions, and a connection that goes away.
@Suite("ProtocolConnection")
struct ProtocolConnectionTests {
    /// The client's requests, as the peer received them, in order.
    final class Received: Sendable {
        private let messages = Mutex<[JSONValue]>([])
        var all: [JSONValue] { messages.withLock { $0 } }
        func append(_ message: JSONValue) { messages.withLock { $0.append(message) } }
        func count(_ method: String) -> Int { all.filter { $0["method"] == .string(method) }.count }
    }

    /// Every event of a request until its stream ends (or the error that ended it).
    static func events(of stream: AsyncThrowingStream<ClientEvent, any Error>) async -> ([ClientEvent], (any Error)?) {
        var events: [ClientEvent] = []
        do {
            for try await event in stream { events.append(event) }
            return (events, nil)
        } catch {
            return (events, error)
        }
    }

    static func runParams(_ code: String) -> RunParams { RunParams(code: code) }

    @Test func requestIdsCountUpAndEachResponseReachesItsRequest() async throws {
        let received = Received()
        // Both runs are answered once both have come, the later one first.
        try await ScriptedPeer.with({ message, link in
            received.append(message)
            guard received.count(Method.run) == 2 else { return .goOn }
            for request in received.all.reversed() {
                let code = request["params"]?["code"] ?? .null
                await link.send(Peer.result(request["id"]!, ["echo": code]))
            }
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                let first = try connection.send(Method.run, Self.runParams("first"))
                let second = try connection.send(Method.run, Self.runParams("second"))
                #expect(second.id == first.id + 1)
                let (firstEvents, firstError) = await Self.events(of: first.events)
                let (secondEvents, secondError) = await Self.events(of: second.events)
                #expect(firstError == nil && secondError == nil)
                #expect(firstEvents.count == 1 && secondEvents.count == 1)
                guard case .response(let one)? = firstEvents.first, case .response(let two)? = secondEvents.first else {
                    Issue.record("each stream should end with its response")
                    return
                }
                #expect(one.message["result"]?["echo"] == "first")
                #expect(two.message["result"]?["echo"] == "second")
                #expect(one.receivedAt >= one.sentAt)
            }
        }
        #expect(received.all.map { $0["id"] } == [.integer(1), .integer(2)])
        #expect(received.all.allSatisfy { $0["jsonrpc"] == "2.0" })
    }

    /// Notifications about two runs interleave on the wire; each run's
    /// stream gets its own, in order, then its response, and ends.
    @Test func notificationsReachTheRunTheyAreAbout() async throws {
        let received = Received()
        try await ScriptedPeer.with({ message, link in
            received.append(message)
            guard received.count(Method.run) == 2 else { return .goOn }
            let (a, b) = (received.all[0]["id"]!, received.all[1]["id"]!)
            for note in [
                Peer.running(a), Peer.running(b), Peer.output(b, "b0", seq: 0), Peer.output(a, "a0", seq: 0),
                Peer.output(a, "a1", seq: 1), Peer.notification(Method.runStdinWanted, ["id": a]),
                Peer.notification("run/someday", ["id": b]),
                Peer.notification(Method.runDisplay, ["id": b, "seq": 1, "data": ["text/plain": "<b>"]]),
                Peer.verdict(b), Peer.output(a, "a2", seq: 2), Peer.verdict(a, status: "error"),
            ] { await link.send(note) }
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                let a = try connection.send(Method.run, Self.runParams("a"))
                let b = try connection.send(Method.run, Self.runParams("b"))
                async let aEvents = Self.events(of: a.events)
                async let bEvents = Self.events(of: b.events)
                let (aSeen, bSeen) = await (aEvents, bEvents)
                #expect(aSeen.1 == nil && bSeen.1 == nil)
                #expect(aSeen.0.map(Self.describe) == ["running", "a0", "a1", "a2", "response error"])
                #expect(bSeen.0.map(Self.describe) == ["running", "b0", "display <b>", "response ok"])
            }
        }
    }

    static func describe(_ event: ClientEvent) -> String {
        switch event {
        case .status(let status): status.state.rawValue
        case .output(let output): output.text
        case .display(let display): "display \(display.data["text/plain"]?.stringValue ?? "")"
        case .test(let test): "test \(test.test.index) \(test.test.status.rawValue)"
        case .response(let response): "response \(response.message["result"]?["status"]?.stringValue ?? "?")"
        }
    }

    @Test func anErrorResponseIsARejectionThatSaysWhy() async throws {
        try await ScriptedPeer.with({ message, link in
            await link.send(Peer.error(message["id"]!, code: -32602, "code: required string missing"))
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                let response = try await connection.call(Method.run, ["timeoutMs": 5] as JSONValue)
                #expect(response.error?.code == -32602)
                #expect(throws: ClientError.self) { _ = try response.result(as: JSONValue.self) }
                do {
                    _ = try response.result(as: JSONValue.self)
                } catch {
                    guard case ClientError.rejected(let rpc) = error else { Issue.record("not a rejection: \(error)"); return }
                    #expect(rpc.message == "code: required string missing")
                    #expect("\(error)".contains("JSON-RPC error -32602"))
                }
                // The connection goes on.
                #expect(try await connection.call(Method.run, Self.runParams("again")).error?.code == -32602)
            }
        }
    }

    /// The server goes away with two runs unanswered: both streams end with
    /// an error, later requests fail at once, and `closed()` returns.
    @Test func aServerThatClosesMidRunFailsEveryWaiter() async throws {
        let received = Received()
        try await ScriptedPeer.with({ message, link in
            received.append(message)
            if received.count(Method.run) == 1 { await link.send(Peer.running(message["id"]!)) }
            return received.count(Method.run) == 2 ? .close : .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                let a = try connection.send(Method.run, Self.runParams("a"))
                let b = try connection.send(Method.run, Self.runParams("b"))
                let (aSeen, aError) = await Self.events(of: a.events)
                let (bSeen, bError) = await Self.events(of: b.events)
                #expect(aSeen.map(Self.describe) == ["running"])
                #expect(bSeen.isEmpty)
                for error in [aError, bError] {
                    guard case .unreachable(let reason)? = error as? ClientError else {
                        Issue.record("expected unreachable, got \(String(describing: error))")
                        continue
                    }
                    #expect(reason.contains("closed"))
                }
                await connection.closed()
                #expect(throws: ClientError.self) { _ = try connection.send(Method.run, Self.runParams("late")) }
            }
        }
    }

    /// A frame that is not protocol v1 ends the connection: every waiter gets the violation.
    @Test func aServerThatBreaksTheProtocolFailsItsWaiters() async throws {
        try await ScriptedPeer.with({ message, link in
            await link.sendText("this is not JSON")
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                let (_, error) = await Self.events(of: try connection.send(Method.run, Self.runParams("x")).events)
                guard case .protocolViolation(let reason)? = error as? ClientError else {
                    Issue.record("expected a protocol violation, got \(String(describing: error))")
                    return
                }
                #expect(reason.contains("not JSON"))
            }
        }
    }

    @Test func sessionsOpenRunCloseAndTheirEndingsAreRelayed() async throws {
        let received = Received()
        let heard = Mutex<[String]>([])
        try await ScriptedPeer.with({ message, link in
            received.append(message)
            let id = message["id"] ?? .null
            switch message["method"]?.stringValue {
            case Method.sessionOpen:
                await link.send(Peer.result(id, ["session": "s-1", "limits": ["memoryMb": 128, "idleTimeoutMs": 5000, "cpuTimeMs": 60000]]))
            case Method.sessionClose:
                await link.send(Peer.result(id, [:]))
                await link.send(Peer.notification(Method.sessionEnded, ["session": "s-2", "reason": "idleTimeout"]))
                await link.send(Peer.notification(Method.sessionEnded, ["session": "s-3", "reason": "memoryLimit", "message": "256 MB"]))
                return .close
            case Method.run:
                await link.send(Peer.error(id, code: -32007, "closed", data: ["reason": "closed"]))
            default:
                break
            }
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url, notifications: { method, params in
                heard.withLock { $0.append("\(method) \(params["session"]?.stringValue ?? "")") }
            }) { connection in
                var params = SessionOpenParams()
                params.memoryMb = 128
                let opened = try await connection.openSession(params)
                #expect(opened == SessionOpenResult(session: "s-1", limits: .init(memoryMb: 128, idleTimeoutMs: 5000, cpuTimeMs: 60000)))
                var run = RunParams(code: "x")
                run.session = opened.session
                let refused = try await connection.call(Method.run, run)
                #expect(refused.error?.code == -32007)
                try await connection.closeSession(opened.session)
                var endings: [SessionEndedParams] = []
                for await ended in connection.endedSessions { endings.append(ended) }
                #expect(endings == [
                    SessionEndedParams(session: "s-2", reason: .idleTimeout),
                    SessionEndedParams(session: "s-3", reason: .memoryLimit, message: "256 MB"),
                ])
            }
        }
        #expect(heard.withLock { $0 } == ["session/ended s-2", "session/ended s-3"])
        let methods = received.all.compactMap { $0["method"]?.stringValue }
        #expect(methods == [Method.sessionOpen, Method.run, Method.sessionClose])
        #expect(received.all[0]["params"]?["memoryMb"] == 128)
        #expect(received.all[1]["params"]?["session"] == "s-1")
        #expect(received.all[2]["params"] == ["session": "s-1"])
    }

    /// Notifications go out without an id, and the transcript sees every
    /// frame both ways, in order; the upgrade offers protocol v1 and the token.
    @Test func notificationsHaveNoIdAndTheTranscriptSeesEveryFrame() async throws {
        let received = Received()
        let transcript = Mutex<[String]>([])
        let seen = try await ScriptedPeer.with({ message, link in
            received.append(message)
            if let id = message["id"] { await link.send(Peer.result(id, [:])) }
            return .goOn
        }) { url, seen in
            try await ProtocolConnection.connect(url: url, token: "s3cret", transcript: { text in
                transcript.withLock { $0.append(text) }
            }) { connection in
                connection.notify(Method.cancelRequest, ["id": 7] as JSONValue)
                _ = try await connection.call("ping", [:] as JSONValue)
            }
            return seen
        }
        #expect(received.all.count == 2)
        #expect(received.all.first?["id"] == nil)
        #expect(received.all.first?["method"] == .string(Method.cancelRequest))
        let frames = transcript.withLock { $0 }
        #expect(frames.count == 3)
        #expect(frames.last?.contains(#""result""#) == true)
        let upgrade = try #require(seen.upgrades.first)
        #expect(upgrade[.authorization] == "Bearer s3cret")
        #expect(upgrade[.secWebSocketProtocol]?.contains(webSocketSubprotocol) == true)
    }

    @Test func initializeRefusesAnotherProtocolVersion() async throws {
        try await ScriptedPeer.with({ message, link in
            var info = JSONValue.object([:])
            if let data = try? JSONEncoder().encode(Self.info), let value = try? JSONDecoder().decode(JSONValue.self, from: data) {
                info = value
            }
            if case .object(var fields) = info {
                fields["protocolVersion"] = 2
                info = .object(fields)
            }
            await link.send(Peer.result(message["id"]!, info))
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                do {
                    _ = try await connection.initialize(clientName: "tests", version: "0")
                    Issue.record("a protocol 2 server was accepted")
                } catch ClientError.protocolViolation(let reason) {
                    #expect(reason.contains("protocol 2"))
                }
            }
        }
    }

    static let info = InitializeResult(
        serverInfo: .init(name: "peer", version: "0", node: "n"), python: .init(version: "3"),
        limits: .init(
            timeoutMs: .init(default: 1, max: 1), memoryMb: .init(default: 1, max: 1), maxOutputBytes: .init(default: 1, max: 1),
            cpuTimeMs: .init(default: 1, max: 1), maxCodeBytes: 1, maxMessageBytes: 1, maxInFlight: 1, runsPerMinute: 1,
            idleTimeoutMs: 1, maxDisplayBytes: 1, maxReturnBytes: 1))

    @Test func nobodyListeningIsUnreachable() async throws {
        // A port that was free a moment ago: bound, then closed.
        let port = try await ScriptedPeer.with { url, _ in Int(url.split(separator: ":").last!.prefix { $0.isNumber })! }
        do {
            _ = try await ProtocolConnection.connect(url: "ws://127.0.0.1:\(port)/v1/ws") { _ in 1 }
            Issue.record("connected to nobody")
        } catch ClientError.unreachable(let reason) {
            #expect(reason.contains("127.0.0.1:\(port)"))
            #expect(reason.contains("connection refused"))
        }
    }

    /// A refused upgrade is asked again as plain HTTP, whose status and message are the error's.
    @Test func aRefusedUpgradeSaysWhyAsTheServerDoes() async throws {
        try await ScriptedPeer.with(refusing: .init(status: .forbidden, message: "this address may not connect")) { url, _ in
            do {
                _ = try await ProtocolConnection.connect(url: url, token: "t") { _ in 1 }
                Issue.record("a refused upgrade connected")
            } catch ClientError.refused(let status, let reason) {
                #expect(status == 403)
                #expect(reason.contains("HTTP 403: this address may not connect"))
            }
        }
    }
}
