import Foundation
import Logging
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

@testable import SandboxServer

/// The server's session logic (Sessions/ and the connection's part of it),
/// from `session/open` to the session's end, as PROTOCOL.md §4.8–4.10 and
/// §6.4 say it goes, on sessions of a `FakeSandboxProvider`.
@Suite("Sessions")
struct SessionServiceTests {
    // MARK: Opening

    @Test func aSessionOpensWithTheLimitsItAskedForAndTheServersOwn() async throws {
        try await SessionHarness.with({ $0.sessionInterruptGrace = .milliseconds(700) }) { harness in
            let client = harness.connect()
            let reply = try await client.call(Method.sessionOpen, ["memoryMb": 128, "idleTimeoutMs": 5000])
            #expect(reply["result"]?["session"]?.stringValue?.hasPrefix("s-") == true)
            #expect(reply["result"]?["limits"]?["memoryMb"] == .integer(128))
            #expect(reply["result"]?["limits"]?["idleTimeoutMs"] == .integer(5000))
            #expect(reply["result"]?["limits"]?["cpuTimeMs"] == .integer(Int64(harness.configuration.sessionCpuTimeMs)))
            let sandbox = try #require(harness.provider.sessions.first)
            #expect(sandbox.limits.memoryBytes == 128 << 20)
            #expect(sandbox.limits.cpuTime == .milliseconds(harness.configuration.sessionCpuTimeMs))
            #expect(sandbox.limits.interruptGrace == .milliseconds(700))
            #expect(sandbox.limits.packageLayer == nil)
        }
    }

    @Test func limitsAboveTheMaximumAreRefusedBeforeAnySandboxOpens() async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let memory = harness.configuration.memoryMb.max + 1
            let tooMuch = try await client.call(Method.sessionOpen, ["memoryMb": .integer(Int64(memory))])
            #expect(tooMuch.errorCode == -32602)
            let tooLong = try await client.call(Method.sessionOpen, ["idleTimeoutMs": .integer(Int64(harness.configuration.sessionIdleTimeoutMs.max + 1))])
            #expect(tooLong.errorCode == -32602)
            let tooShort = try await client.call(Method.sessionOpen, ["idleTimeoutMs": 999])
            #expect(tooShort.errorCode == -32602)
            #expect(harness.provider.sessions.isEmpty)
        }
    }

    @Test func aServerWithoutSessionsSaysItHasNone() async throws {
        try await SessionHarness.with(provider: FakeSandboxProvider(offersSessions: false)) { harness in
            let reply = try await harness.connect().call(Method.sessionOpen)
            #expect(reply.errorCode == -32601)
            #expect(reply["error"]?["message"]?.stringValue?.contains("no sessions") == true)
        }
    }

    /// A sandbox that cannot be had is an internal error, and the place it
    /// would have taken is free again: the client's only place here.
    @Test func aSessionWhoseSandboxFailsToOpenGivesItsPlaceBack() async throws {
        try await SessionHarness.with({ $0.maxSessionsPerClient = 1 }) { harness in
            let client = harness.connect()
            harness.provider.refuseSessions(true)
            let failed = try await client.call(Method.sessionOpen)
            #expect(failed.errorCode == -32603)
            #expect(failed["error"]?["message"]?.stringValue?.contains("no fork server") == true)
            harness.provider.refuseSessions(false)
            _ = try await client.openSession()
        }
    }

    // MARK: Runs in a session

    /// Two workers are free, yet the session's second and third runs wait
    /// behind its first, and are told their places; they run in the order sent.
    @Test func aSessionsRunsExecuteOneAtATimeInTheOrderSent() async throws {
        try await SessionHarness.with({ $0.workers = 2 }) { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let first = await client.run("hang", in: session)
            let second = await client.run("print(2)", in: session)
            let third = await client.run("print(3)", in: session)
            let queued = try await client.replies.next { $0["params"]?["id"] == third && $0["params"]?["state"] == "queued" }
            #expect(queued["params"]?["position"] == 2)
            #expect(client.messages(about: second).first?["params"]?["position"] == 1)
            let sandbox = try #require(harness.provider.sessions.first)
            try await eventually("the first run started") { sandbox.started == ["hang"] }
            try await Task.sleep(for: .milliseconds(20))
            #expect(sandbox.started == ["hang"])
            await client.cancel(first)
            #expect(try await client.response(to: first).status == "cancelled")
            #expect(try await client.response(to: second).status == "ok")
            #expect(try await client.response(to: third).status == "ok")
            #expect(sandbox.started == ["hang", "print(2)", "print(3)"])
            #expect(sandbox.interruptions == [.cancelled])
            let output = client.messages(about: third).first { $0["method"] == .string(Method.runOutput) }
            #expect(output?["params"]?["text"] == "print(3)")
        }
    }

    @Test func aRunCancelledWhileWaitingInItsSessionNeverStarts() async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let first = await client.run("hang", in: session)
            let waiting = await client.run("print('never')", in: session)
            _ = try await client.replies.next { $0["params"]?["id"] == waiting && $0["params"]?["state"] == "queued" }
            await client.cancel(waiting)
            let cancelled = try await client.response(to: waiting)
            #expect(cancelled.status == "cancelled")
            #expect(cancelled["result"]?["exitCode"] == nil || cancelled["result"]?["exitCode"] == .null)
            await client.cancel(first)
            #expect(try await client.response(to: first).status == "cancelled")
            #expect(try await client.response(to: await client.run("after", in: session)).status == "ok")
            #expect(harness.provider.sessions.first?.started == ["hang", "after"])
            #expect(!client.messages(about: waiting).contains { $0["params"]?["state"] == "running" })
        }
    }

    /// A cell's verdict is its own: an error or a timeout ends the run, not the session.
    @Test func aCellsErrorOrTimeoutEndsTheRunAndTheSessionLivesOn() async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let failed = try await client.response(to: await client.run("fail", in: session))
            #expect(failed.status == "error")
            #expect(failed["result"]?["exitCode"] == 1)
            let late = try await client.response(to: await client.run("hang", in: session, ["timeoutMs": 50]))
            #expect(late.status == "timeout")
            #expect(late["result"]?["limit"] == "wall")
            #expect(harness.provider.sessions.first?.interruptions == [.timeout])
            #expect(try await client.response(to: await client.run("still here", in: session)).status == "ok")
            #expect(!client.replies.all.contains { $0["method"] == .string(Method.sessionEnded) })
        }
    }

    /// An interactive run's stdin reaches its cell: what came with the run,
    /// what was sent while it waited behind another run, then the rest.
    @Test func aSessionsInteractiveRunGetsItsStdinSentWhileItWaited() async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let first = await client.run("hang", in: session)
            let reader = await client.run("echo-stdin", in: session, ["interactive": true, "stdin": "given "])
            _ = try await client.replies.next { $0["params"]?["id"] == reader && $0["params"]?["state"] == "queued" }
            await client.notify(Method.runStdin, ["id": reader, "data": "early "])
            await client.cancel(first)
            _ = try await client.replies.next { $0["params"]?["id"] == reader && $0["params"]?["state"] == "running" }
            await client.notify(Method.runStdin, ["id": reader, "data": "late", "eof": true])
            #expect(try await client.response(to: reader).status == "ok")
            let output = client.messages(about: reader).compactMap { $0["params"]?["text"]?.stringValue }.joined()
            #expect(output == "given early late")
        }
    }

    @Test func aSessionsRunsRefuseTheirOwnMemoryAndPackages() async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let memory = try await client.response(to: await client.run("x", in: session, ["memoryMb": 64]))
            #expect(memory.errorCode == -32602)
            #expect(memory["error"]?["message"]?.stringValue?.contains("memoryMb") == true)
            let packages = try await client.response(to: await client.run("x", in: session, ["packages": ["six"]]))
            #expect(packages.errorCode == -32602)
            #expect(harness.provider.sessions.first?.started == [])
        }
    }

    @Test func aSessionBelongsToTheConnectionThatOpenedIt() async throws {
        try await SessionHarness.with { harness in
            let owner = harness.connect()
            let other = harness.connect()
            let session = try await owner.openSession()
            let run = try await other.response(to: await other.run("x", in: session))
            #expect(run.errorCode == -32602)
            #expect(run["error"]?["message"]?.stringValue?.contains("is not a session of this connection") == true)
            #expect(try await other.call(Method.sessionClose, ["session": .string(session)]).errorCode == -32602)
            #expect(harness.provider.sessions.first?.isClosed == false)
            #expect(try await owner.response(to: await owner.run("mine", in: session)).status == "ok")
        }
    }

    // MARK: How a session ends

    /// session/close: its waiting runs and the running one end `cancelled`,
    /// their verdicts before the response `{}`; no session/ended; a later
    /// run learns it was `closed`, and closing it again is an unknown id.
    @Test func closingASessionAnswersItsRunsFirstAndSaysNothingMore() async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let running = await client.run("hang", in: session)
            let waiting = await client.run("print(1)", in: session)
            let sandbox = try #require(harness.provider.sessions.first)
            try await eventually("the run started") { sandbox.cellRunning }
            let close = await client.send(Method.sessionClose, ["session": .string(session)])
            let closed = try await client.response(to: close)
            #expect(closed["result"] == .object([:]))
            let closedAt = try #require(client.index { $0["id"] == close })
            for run in [running, waiting] {
                #expect(try await client.response(to: run).status == "cancelled")
                #expect(try #require(client.index { $0["id"] == run && $0["method"] == nil }) < closedAt)
            }
            #expect(sandbox.isClosed)
            #expect(sandbox.started == ["hang"])
            let later = try await client.response(to: await client.run("x", in: session))
            #expect(later.errorCode == -32007)
            #expect(later["error"]?["data"]?["reason"] == "closed")
            #expect(try await client.call(Method.sessionClose, ["session": .string(session)]).errorCode == -32602)
            try await Task.sleep(for: .milliseconds(20))
            #expect(!client.replies.all.contains { $0["method"] == .string(Method.sessionEnded) })
        }
    }

    /// A session's run waiting in the server's queue for a worker (another
    /// client's run holds the only one) is cancelled by session/close at
    /// once: the close does not wait for a worker to free up.
    @Test func closingASessionDoesNotWaitForAWorkerForItsQueuedRun() async throws {
        try await SessionHarness.with { harness in
            let other = harness.connect(from: "10.0.0.9")
            let busy = await other.run("hang")
            _ = try await other.replies.next { $0["params"]?["id"] == busy && $0["params"]?["state"] == "running" }
            let client = harness.connect()
            let session = try await client.openSession()
            let queued = await client.run("print(1)", in: session)
            _ = try await client.replies.next { $0["params"]?["id"] == queued && $0["params"]?["state"] == "queued" }
            // Sent from a task of its own: a close that waited would hold up the one sending it.
            let close = Task { await client.send(Method.sessionClose, ["session": .string(session)], id: "close") }
            let closed = await Result { try await client.replies.next(within: .seconds(5)) { $0["id"] == "close" } }
            #expect((try? closed.get())?["result"] == .object([:]), "no response to session/close while the worker was busy")
            await other.cancel(busy)
            _ = await close.value
            #expect(try await client.response(to: queued).status == "cancelled")
            #expect(try #require(client.index { $0["id"] == queued && $0["method"] == nil }) < client.index { $0["id"] == "close" }!)
            #expect(harness.provider.sessions.first?.started == [])
            #expect(try await other.response(to: busy).status == "cancelled")
        }
    }

    struct SandboxEnding: Sendable, CustomTestStringConvertible {
        var script: String
        var status: String
        var limit: String?
        var reason: SessionEndReason
        var testDescription: String { script }
    }

    /// The sandbox ends during a run (its memory, its CPU time, its
    /// interpreter exiting): the run's verdict says how, then session/ended
    /// says why; a run that waited behind it ends `cancelled` saying why, and
    /// a later run is refused with the reason.
    @Test(arguments: [
        SandboxEnding(script: "memory", status: "memoryLimit", reason: .memoryLimit),
        SandboxEnding(script: "cpu", status: "timeout", limit: "cpu", reason: .cpuLimit),
        SandboxEnding(script: "exit", status: "error", reason: .crashed),
    ])
    func theSandboxEndingDuringARunReachesTheClient(_ ending: SandboxEnding) async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let blocker = await client.run("hang", in: session)
            let dying = await client.run(ending.script, in: session)
            let behind = await client.run("print('behind')", in: session)
            _ = try await client.replies.next { $0["params"]?["id"] == behind && $0["params"]?["state"] == "queued" }
            let sandbox = try #require(harness.provider.sessions.first)
            try await eventually("the first run started") { sandbox.cellRunning }
            await client.cancel(blocker)
            let verdict = try await client.response(to: dying)
            #expect(verdict.status == ending.status)
            #expect(verdict["result"]?["limit"]?.stringValue == ending.limit)
            let ended = try await client.ending(of: session)
            #expect(ended["params"]?["reason"] == .string(ending.reason.rawValue))
            let waited = try await client.response(to: behind)
            #expect(waited.status == "cancelled")
            #expect(waited["result"]?["message"]?.stringValue?.contains(ending.reason.rawValue) == true)
            let verdictAt = try #require(client.index { $0["id"] == dying && $0["method"] == nil })
            let endedAt = try #require(client.index { $0["method"] == .string(Method.sessionEnded) })
            #expect(verdictAt < endedAt)
            let later = try await client.response(to: await client.run("x", in: session))
            #expect(later.errorCode == -32007)
            #expect(later["error"]?["data"]?["reason"] == .string(ending.reason.rawValue))
            #expect(sandbox.started == ["hang", ending.script])
        }
    }

    /// An interrupted run that does not stop gets its session killed after
    /// the grace: the verdict keeps its status, then session/ended `killed`.
    @Test func aRunThatIgnoresItsInterruptGetsTheSessionKilled() async throws {
        try await SessionHarness.with({ $0.sessionInterruptGrace = .milliseconds(50) }) { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let stubborn = await client.run("stubborn", in: session, ["timeoutMs": 30])
            let verdict = try await client.response(to: stubborn)
            #expect(verdict.status == "timeout")
            #expect(verdict["result"]?["limit"] == "wall")
            let ended = try await client.ending(of: session)
            #expect(ended["params"]?["reason"] == "killed")
            #expect(harness.provider.sessions.first?.endedWith == .killed)
            #expect(try #require(client.index { $0["id"] == stubborn }) < client.index { $0["method"] == .string(Method.sessionEnded) }!)
        }
    }

    /// Between runs, the sandbox may end by itself too (a thread it left);
    /// the client hears why, and the session's place is free again.
    @Test func aSandboxThatDiesBetweenRunsIsSaidAndGivesItsPlaceBack() async throws {
        try await SessionHarness.with({ $0.maxSessionsPerClient = 1 }) { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            #expect(try await client.response(to: await client.run("x", in: session)).status == "ok")
            harness.provider.sessions[0].end(.failed("the slot ended"))
            let ended = try await client.ending(of: session)
            #expect(ended["params"]?["reason"] == "crashed")
            #expect(ended["params"]?["message"]?.stringValue?.contains("the slot ended") == true)
            let another = try await client.openSession()
            #expect(another != session)
        }
    }

    /// Closing a connection ends its sessions (a running run's sandbox
    /// too), says nothing, and gives their places back.
    @Test func aConnectionThatClosesEndsItsSessionsSilently() async throws {
        try await SessionHarness.with({ $0.maxSessionsPerClient = 2 }) { harness in
            let client = harness.connect()
            let idle = try await client.openSession()
            let busy = try await client.openSession()
            _ = await client.run("hang", in: busy)
            try await eventually("the run started") { harness.provider.sessions[1].cellRunning }
            await client.close()
            #expect(harness.provider.sessions.allSatisfy { $0.isClosed })
            #expect(!harness.provider.sessions[1].cellRunning)
            #expect(!client.replies.all.contains { $0["method"] == .string(Method.sessionEnded) })
            #expect(Set([idle, busy]).count == 2)
            let next = harness.connect()
            _ = try await next.openSession()
            _ = try await next.openSession()
        }
    }

    /// A session closed by its client, or by its connection closing, gives
    /// its place back at once, while its sandbox is still exiting.
    @Test func aClosedSessionsPlaceIsFreeBeforeItsSandboxHasExited() async throws {
        let provider = FakeSandboxProvider(sessionsLinger: true)
        try await SessionHarness.with(provider: provider, { $0.maxSessionsPerClient = 1 }) { harness in
            let client = harness.connect()
            let first = try await client.openSession()
            _ = try await client.call(Method.sessionClose, ["session": .string(first)])
            _ = try await client.openSession()
            await client.close()
            _ = try await harness.connect().openSession()
            #expect(provider.sessions.count == 3)
            #expect(provider.sessions.prefix(2).allSatisfy { $0.isClosed })
        }
    }

    /// At shutdown every open session ends `shutdown`, its client told,
    /// and no session opens after.
    @Test func shutdownEndsEverySessionAndSaysSo() async throws {
        try await SessionHarness.with { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            await harness.shutDownSessions()
            let ended = try await client.ending(of: session)
            #expect(ended["params"]?["reason"] == "shutdown")
            #expect(try await client.call(Method.sessionOpen).errorCode == -32005)
        }
    }

    // MARK: Limits and places

    /// The caps are checked in the order the protocol gives: the
    /// connection's, then the client's (its address, over all its connections).
    @Test func theConnectionsCapThenTheClientsAreEnforced() async throws {
        try await SessionHarness.with({
            $0.maxSessionsPerConnection = 2
            $0.maxSessions = 8
            $0.maxSessionsPerClient = 3
        }) { harness in
            let first = harness.connect(from: "10.0.0.1")
            let kept = try await first.openSession()
            _ = try await first.openSession()
            let third = try await first.call(Method.sessionOpen)
            #expect(third.errorCode == -32006)
            #expect(third["error"]?["data"]?["scope"] == "connection")
            #expect(third["error"]?["data"]?["limit"] == 2)
            let second = harness.connect(from: "10.0.0.1")
            _ = try await second.openSession()
            let overClient = try await second.call(Method.sessionOpen)
            #expect(overClient.errorCode == -32006)
            #expect(overClient["error"]?["data"]?["scope"] == "client")
            #expect(overClient["error"]?["message"]?.stringValue?.contains("10.0.0.1") == true)
            _ = try await harness.connect(from: "10.0.0.2").openSession()
            _ = try await first.call(Method.sessionClose, ["session": .string(kept)])
            _ = try await second.openSession()
            #expect(harness.provider.sessions.count == 5)
        }
    }

    @Test func aFullServerRefusesWhenNoSessionHasBeenIdleLongEnough() async throws {
        try await SessionHarness.with({
            $0.maxSessions = 2
            $0.maxSessionsPerClient = 2
            $0.sessionReclaimAfter = .seconds(600)
        }) { harness in
            let holder = harness.connect(from: "10.0.0.1")
            _ = try await holder.openSession()
            _ = try await holder.openSession()
            let refused = try await harness.connect(from: "10.0.0.2").call(Method.sessionOpen)
            #expect(refused.errorCode == -32006)
            #expect(refused["error"]?["data"]?["scope"] == "server")
            #expect(harness.provider.sessions.allSatisfy { !$0.isClosed })
        }
    }

    /// A full server takes the place of the idle session (idle longest) of
    /// a client holding more than the one asking: that session ends
    /// `reclaimed`, and its client is told, also at its next run.
    @Test func anIdleSessionOfAClientHoldingMoreIsReclaimed() async throws {
        try await SessionHarness.with({
            $0.maxSessions = 2
            $0.maxSessionsPerClient = 2
            $0.sessionReclaimAfter = .zero
        }) { harness in
            let holder = harness.connect(from: "10.0.0.1")
            let older = try await holder.openSession()
            try await Task.sleep(for: .milliseconds(5))
            let newer = try await holder.openSession()
            let asking = harness.connect(from: "10.0.0.2")
            _ = try await asking.openSession()
            #expect(harness.provider.sessions[0].isClosed)
            #expect(!harness.provider.sessions[1].isClosed)
            let ended = try await holder.ending(of: older)
            #expect(ended["params"]?["reason"] == "reclaimed")
            let later = try await holder.response(to: await holder.run("x", in: older))
            #expect(later["error"]?["data"]?["reason"] == "reclaimed")
            #expect(try await holder.response(to: await holder.run("x", in: newer)).status == "ok")
            // Each holds one now: neither gives a place to the other.
            let refused = try await asking.call(Method.sessionOpen)
            #expect(refused["error"]?["data"]?["scope"] == "server")
        }
    }

    /// A session with a run running is never reclaimed, however full the server.
    @Test func aSessionWithARunIsNotReclaimed() async throws {
        try await SessionHarness.with({
            $0.maxSessions = 1
            $0.maxSessionsPerClient = 1
            $0.sessionReclaimAfter = .zero
        }) { harness in
            let holder = harness.connect(from: "10.0.0.1")
            let session = try await holder.openSession()
            let run = await holder.run("hang", in: session)
            try await eventually("the run started") { harness.provider.sessions[0].cellRunning }
            // The asker holds none, the holder one: the holder holds more, but its session is busy.
            let refused = try await harness.connect(from: "10.0.0.2").call(Method.sessionOpen)
            #expect(refused["error"]?["data"]?["scope"] == "server")
            #expect(!harness.provider.sessions[0].isClosed)
            await holder.cancel(run)
            #expect(try await holder.response(to: run).status == "cancelled")
        }
    }

    // MARK: Idle expiry

    /// Idle for its timeout, a session ends `idleTimeout`: its observer is
    /// told, its sandbox closed, and its place freed.
    @Test func anIdleSessionEndsByItsTimeout() async throws {
        try await SessionHarness.with({ $0.maxSessionsPerClient = 1 }) { harness in
            let observer = EndingsHeard()
            let holder = SessionHolder(address: "10.0.0.1")
            var admitted = try harness.sessions.admit(SessionOpenParams())
            admitted.idleTimeout = .milliseconds(60)
            let session = try await harness.sessions.open(
                admitted, owner: ClientID.make(), holder: holder, account: TenantAccount(AccessPolicy.defaultTenant), observer: observer)
            try await eventually("the session ended") { !observer.heard.isEmpty }
            #expect(observer.heard.map(\.reason) == [.idleTimeout])
            #expect(observer.heard.first?.session === session)
            #expect(harness.provider.sessions.first?.isClosed == true)
            try await eventually("its place was freed") {
                (try? await harness.sessions.open(
                admitted, owner: ClientID.make(), holder: holder, account: TenantAccount(AccessPolicy.defaultTenant), observer: observer)) != nil
            }
        }
    }

    /// A session is idle only with no run queued or running: a run longer
    /// than its idle timeout keeps it, and the clock starts again at its end.
    @Test func aRunningOrQueuedRunKeepsASessionFromBeingIdle() async throws {
        let sandbox = FakeSession(limits: SessionLimits())
        let dispatched = Mutex<[RunJob]>([])
        let session = ServerSession(
            owner: ClientID.make(), sandbox: sandbox, idleTimeout: .milliseconds(250), observer: EndingsHeard(),
            dispatch: { job in dispatched.withLock { $0.append(job) } }, withdraw: { _ in })
        let observer = RunsHeard()
        func job(_ id: Int64) -> RunJob {
            RunJob(
                id: .integer(id), client: session.owner, account: TenantAccount(AccessPolicy.defaultTenant), request: RunRequest(code: "x"),
                initialStdin: nil, observer: observer, session: session)
        }
        let (first, second) = (job(1), job(2))
        guard case .schedule = try session.admit(first) else { Issue.record("the first run should go to the scheduler"); return }
        guard case .queued(position: 1) = try session.admit(second) else { Issue.record("the second run should wait"); return }
        try await Task.sleep(for: .milliseconds(300))
        #expect(!session.isIdle)
        #expect(session.reclaimableIdleTime(minimum: .zero) == nil)
        first.finishWithoutRunning(.ok)
        #expect(dispatched.withLock { $0.map(\.id) } == [.integer(2)])
        try await Task.sleep(for: .milliseconds(300))
        #expect(!session.isIdle)
        second.finishWithoutRunning(.ok)
        #expect(!session.isIdle)
        try await eventually("the session is idle") { session.isIdle }
        #expect(session.reclaimableIdleTime(minimum: .milliseconds(250)) != nil)
        #expect(observer.finished == [.integer(1), .integer(2)])
    }

    // MARK: One response per run

    /// Whatever happens to a session's runs (done, cancelled waiting,
    /// cancelled running, cut short by the sandbox's end, refused after
    /// it), each accepted run gets exactly one response, and nothing about
    /// a run follows its response.
    @Test func everyAcceptedRunGetsExactlyOneResponse() async throws {
        try await SessionHarness.with({ $0.workers = 2 }) { harness in
            let client = harness.connect()
            let session = try await client.openSession()
            let done = await client.run("a", in: session)
            let cancelledRunning = await client.run("hang", in: session)
            let cancelledWaiting = await client.run("b", in: session)
            let cutShort = await client.run("hang", in: session)
            let behind = await client.run("c", in: session)
            let aside = await client.run("hang")
            _ = try await client.replies.next { $0["params"]?["id"] == behind && $0["params"]?["state"] == "queued" }
            await client.cancel(cancelledWaiting)
            let sandbox = try #require(harness.provider.sessions.first)
            try await eventually("the first hang started") { sandbox.started.count == 2 }
            await client.cancel(cancelledRunning)
            try await eventually("the second hang started") { sandbox.started.count == 3 }
            sandbox.end(.memoryLimit)
            _ = try await client.ending(of: session)
            let refused = await client.run("d", in: session)
            await client.cancel(aside)
            await client.cancel(done)
            let all: [JSONValue] = [done, cancelledRunning, cancelledWaiting, cutShort, behind, aside, refused]
            for id in all { _ = try await client.response(to: id) }
            try await Task.sleep(for: .milliseconds(30))
            let statuses = try await all.asyncMap { try await client.response(to: $0).status ?? "error" }
            #expect(statuses == ["ok", "cancelled", "cancelled", "memoryLimit", "cancelled", "cancelled", "error"])
            for id in all {
                let messages = client.messages(about: id)
                let responses = messages.filter { $0["method"] == nil }
                #expect(responses.count == 1, "run \(id): \(responses.count) responses")
                #expect(messages.last.map { $0["method"] == nil } == true, "run \(id): a message after its response")
            }
            #expect(sandbox.started == ["a", "hang", "hang"])
        }
    }
}

/// The session endings a `SessionObserver` heard.
final class EndingsHeard: SessionObserver {
    private let endings = Mutex<[(session: ServerSession, reason: SessionEndReason)]>([])
    var heard: [(session: ServerSession, reason: SessionEndReason)] { endings.withLock { $0 } }

    func sessionEnded(_ session: ServerSession, reason: SessionEndReason, message: String?) {
        endings.withLock { $0.append((session, reason)) }
    }
}

/// The runs a `RunObserver` saw finish, in order.
final class RunsHeard: RunObserver {
    private let ids = Mutex<[JSONValue]>([])
    var finished: [JSONValue] { ids.withLock { $0 } }

    func queued(_ job: RunJob, position: Int) {}
    func running(_ job: RunJob) {}
    func output(_ job: RunJob, _ output: RunOutputParams) {}
    func display(_ job: RunJob, _ display: RunDisplayParams) {}
    func finished(_ job: RunJob, _ result: RunResult) { ids.withLock { $0.append(job.id) } }
    func refused(_ job: RunJob, _ error: RPCError) { ids.withLock { $0.append(job.id) } }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
