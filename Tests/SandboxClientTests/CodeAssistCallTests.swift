import Foundation
import SandboxClient
import SandboxProtocol
import Testing

/// `code/complete` and `code/isComplete` through `ProtocolConnection`, with
/// the timeout a prompt waits at most, against a scripted peer.
@Suite("ProtocolConnection code assist")
struct CodeAssistCallTests {
    typealias Received = ProtocolConnectionTests.Received

    @Test func completionAndIsCompleteSendTheirParamsAndDecodeTheirAnswers() async throws {
        let received = Received()
        try await ScriptedPeer.with({ message, link in
            received.append(message)
            let id = message["id"] ?? .null
            switch message["method"]?.stringValue {
            case Method.codeComplete:
                await link.send(Peer.result(id, [
                    "matches": ["sqrt"], "cursorStart": 17, "cursorEnd": 19, "metadata": ["source": "session", "types": ["function"]],
                ]))
            case Method.codeIsComplete:
                await link.send(Peer.result(id, ["status": "incomplete", "indent": "    "]))
            default:
                await link.send(Peer.error(id, code: -32601, "Method not found"))
            }
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                let completion = try await connection.complete("import math\nmath.sq", session: "s-1", timeout: .seconds(5))
                #expect(completion == CompleteResult(
                    matches: ["sqrt"], cursorStart: 17, cursorEnd: 19, metadata: .init(source: .session, types: ["function"])))
                let answer = try await connection.isComplete("for x in y:", timeout: .seconds(5))
                #expect(answer == IsCompleteResult(status: .incomplete, indent: "    "))
            }
        }
        #expect(received.all.map { $0["method"] } == [.string(Method.codeComplete), .string(Method.codeIsComplete)])
        #expect(received.all[0]["params"] == ["code": "import math\nmath.sq", "cursor": 19, "session": "s-1"])
        #expect(received.all[1]["params"] == ["code": "for x in y:"])
    }

    /// A request past its timeout is cancelled on the wire, fails with
    /// `timedOut`, and its late answer reaches nobody; the connection goes on.
    @Test func anAnswerThatComesTooLateIsCancelledAndTimesOut() async throws {
        let received = Received()
        try await ScriptedPeer.with({ message, link in
            received.append(message)
            guard let id = message["id"] else { return .goOn }
            if message["method"] == .string(Method.codeIsComplete) {
                link.send(Peer.result(id, ["status": "complete"]), after: .milliseconds(500))
            } else {
                await link.send(Peer.result(id, ["pong": true]))
            }
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                let started = ContinuousClock.now
                do {
                    _ = try await connection.isComplete("x", timeout: .milliseconds(100))
                    Issue.record("an answer 500 ms late came within 100 ms")
                } catch ClientError.timedOut(let reason) {
                    #expect(reason.contains(Method.codeIsComplete))
                }
                #expect(ContinuousClock.now - started < .milliseconds(450))
                try await Task.sleep(for: .milliseconds(600))  // the late answer arrives, and is dropped
                #expect(try await connection.call("ping", [:] as JSONValue).message["result"]?["pong"] == true)
            }
        }
        let cancel = try #require(received.all.first { $0["method"] == .string(Method.cancelRequest) })
        #expect(cancel["params"] == ["id": received.all[0]["id"] ?? .null])
    }

    @Test func aRefusalIsARejection() async throws {
        try await ScriptedPeer.with({ message, link in
            await link.send(Peer.error(message["id"]!, code: -32004, "Rate limited"))
            return .goOn
        }) { url, _ in
            try await ProtocolConnection.connect(url: url) { connection in
                do {
                    _ = try await connection.complete("pri", timeout: .seconds(5))
                    Issue.record("a refusal was taken for an answer")
                } catch ClientError.rejected(let refusal) {
                    #expect(refusal.code == -32004)
                }
            }
        }
    }
}
