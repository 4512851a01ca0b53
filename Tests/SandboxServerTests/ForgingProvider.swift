import SandboxProtocol
import SandboxRuntime
import ServiceLifecycle
import Synchronization

/// A `SandboxProvider` whose every run ends `ok` with a verdict listing
/// `files`, whatever the run asked for: what a program that forged its files
/// frame makes a verdict say, without depending on the sandbox still letting
/// it. For the CLI's tests of `--save` (the client must not believe it).
final class ForgingProvider: SandboxProvider {
    let files: [ReturnedFile]
    let pythonVersion = "3.0.forged"
    let cgroupsActive = false
    let preload: [String] = []
    let offersSessions = false

    init(files: [ReturnedFile]) { self.files = files }

    func wantsPreload(_ request: RunRequest) -> Bool { false }

    func launch(limits: RunLimits) throws -> any SandboxRun { ForgedRun(limits: limits, files: files) }

    func openSession(limits: SessionLimits) throws -> any SandboxSession {
        throw SandboxUnavailable(description: "the forging provider has no sessions")
    }

    func run() async throws {
        try? await gracefulShutdown()
    }
}

final class ForgedRun: SandboxRun {
    let output: AsyncStream<RunOutput>
    let limits: RunLimits
    private let files: [ReturnedFile]
    private let outputSink: AsyncStream<RunOutput>.Continuation
    private let ending: Mutex<AsyncStream<Verdict>.Continuation?>
    private let outcome: Task<Verdict, Never>

    init(limits: RunLimits, files: [ReturnedFile]) {
        self.limits = limits
        self.files = files
        (output, outputSink) = AsyncStream.makeStream(of: RunOutput.self)
        let (endings, ending) = AsyncStream.makeStream(of: Verdict.self)
        self.ending = Mutex(ending)
        outcome = Task {
            for await verdict in endings { return verdict }
            return Verdict(status: .internalError)
        }
    }

    func ready() async -> Bool { true }

    func start(_ request: RunRequest) throws(InvalidRunRequest) {
        end(Verdict(status: .ok, exitCode: 0, files: files, omittedFiles: []))
    }

    func verdict() async -> Verdict { await outcome.value }

    func cancel() { end(Verdict(status: .cancelled)) }

    func writeStdin(_ bytes: [UInt8]) {}

    func closeStdin() {}

    private func end(_ verdict: Verdict) {
        guard let ending = ending.withLock({ ending in defer { ending = nil }; return ending }) else { return }
        outputSink.finish()
        ending.yield(verdict)
        ending.finish()
    }
}
