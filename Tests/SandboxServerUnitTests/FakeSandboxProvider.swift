import SandboxProtocol
import SandboxRuntime
import ServiceLifecycle
import Synchronization

@testable import SandboxServer

/// A `SandboxProvider` with no sandbox behind it, for the server's unit
/// tests. A program's code is its script: it prints the code back on
/// stdout and exits 0, except `hang`, which runs until cancelled, and
/// `fail`, which exits 1. Its sessions are `FakeSession`s.
final class FakeSandboxProvider: SandboxProvider {
    let pythonVersion = "3.0.fake"
    let cgroupsActive = false
    private let launched = Mutex<[FakeRun]>([])

    let preload = ["numpy"]
    func wantsPreload(_ request: RunRequest) -> Bool { request.code.contains("numpy") }

    func launch(limits: RunLimits) throws -> any SandboxRun {
        let run = FakeRun(limits: limits)
        launched.withLock { $0.append(run) }
        return run
    }

    /// Whether it offers sessions (`--isolation fork`); without, as `--isolation exec`.
    let offersSessions: Bool
    private let sessionState = Mutex<(opened: [FakeSession], refusing: Bool)>(([], false))

    /// Whether its sessions' sandboxes take their time to exit (`FakeSession.lingers`).
    let sessionsLinger: Bool

    init(offersSessions: Bool = true, sessionsLinger: Bool = false) {
        self.offersSessions = offersSessions
        self.sessionsLinger = sessionsLinger
    }

    /// A `FakeSession` (FakeSandboxSession.swift); throws while `refuseSessions` is set.
    func openSession(limits: SessionLimits) throws -> any SandboxSession {
        guard offersSessions else { throw SandboxUnavailable(description: "the fake provider has no sessions") }
        return try sessionState.withLock { state in
            if state.refusing { throw SandboxUnavailable(description: "no fork server") }
            let session = FakeSession(limits: limits, lingers: sessionsLinger)
            state.opened.append(session)
            return session
        }
    }

    /// The sessions opened, in order.
    var sessions: [FakeSession] { sessionState.withLock { $0.opened } }

    /// Makes `openSession` fail (as with no fork server to be had) until set back.
    func refuseSessions(_ refusing: Bool) { sessionState.withLock { $0.refusing = refusing } }

    /// Nothing to supervise: fake runs need no task.
    func run() async throws {
        try? await gracefulShutdown()
    }

    var launches: [FakeRun] { launched.withLock { $0 } }
}

final class FakeRun: SandboxRun {
    let output: AsyncStream<RunOutput>
    let limits: RunLimits
    private let outputSink: AsyncStream<RunOutput>.Continuation
    private let ending: AsyncStream<Verdict>.Continuation
    private let outcome: Task<Verdict, Never>
    private let state = Mutex<(started: Bool, stdin: [UInt8], stdinClosed: Bool)>((false, [], false))

    init(limits: RunLimits) {
        self.limits = limits
        (output, outputSink) = AsyncStream.makeStream(of: RunOutput.self)
        let (endings, ending) = AsyncStream.makeStream(of: Verdict.self)
        self.ending = ending
        outcome = Task {
            for await verdict in endings { return verdict }
            return Verdict(status: .internalError)
        }
    }

    var started: Bool { state.withLock { $0.started } }
    var stdin: [UInt8] { state.withLock { $0.stdin } }

    func ready() async -> Bool { true }

    func start(_ request: RunRequest) throws(InvalidRunRequest) {
        let first = state.withLock { state -> Bool in
            defer { state.started = true }
            return !state.started
        }
        guard first else { throw InvalidRunRequest(message: "this sandbox has already been given a program") }
        switch request.code {
        case "hang":
            return
        case "fail":
            end(Verdict(status: .error, exitCode: 1))
        case "display":
            outputSink.yield(.text(OutputChunk(stream: .stdout, bytes: Array("before\n".utf8))))
            outputSink.yield(.display(Display(data: ["text/plain": "<plot>", "image/png": "iVBORw0KGgo="], bytes: 40)))
            outputSink.yield(.text(OutputChunk(stream: .stdout, bytes: Array("after\n".utf8))))
            end(Verdict(status: .ok, exitCode: 0, stdoutBytes: 13, displayBytes: 40))
        default:
            outputSink.yield(.text(OutputChunk(stream: .stdout, bytes: Array(request.code.utf8))))
            end(Verdict(status: .ok, exitCode: 0, stdoutBytes: request.code.utf8.count))
        }
    }

    func verdict() async -> Verdict { await outcome.value }

    func cancel() { end(Verdict(status: .cancelled)) }

    func writeStdin(_ bytes: [UInt8]) { state.withLock { $0.stdin += bytes } }

    func closeStdin() { state.withLock { $0.stdinClosed = true } }

    private func end(_ verdict: Verdict) {
        outputSink.finish()
        ending.yield(verdict)
        ending.finish()
    }
}

/// Messages an emitter produced, in order.
final class EmittedMessages: Sendable {
    private let messages = Mutex<[OutputMessage]>([])
    var all: [OutputMessage] { messages.withLock { $0 } }
    @Sendable func append(_ message: OutputMessage) { messages.withLock { $0.append(message) } }
}
