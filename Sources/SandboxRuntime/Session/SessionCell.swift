import NIOCore
import NIOPosix
import SandboxProtocol
import Synchronization

/// One run of a session, as a `SandboxRun`: its output and verdict, its
/// stdin, and a cancel that interrupts it (`ForkServerSession.interrupt`).
/// Started by `SandboxSession.start`, never by `start(_:)`.
final class SessionCell: SandboxRun {
    let output: AsyncStream<RunOutput>
    let limits: RunLimits
    let request: RunRequest
    let outputSink: AsyncStream<RunOutput>.Continuation
    let stdinChunks: AsyncStream<[UInt8]>
    let stdinWanted = StdinWantedSignal()
    /// Its number in the session's control (`SessionControl.beginCell`); 0 until it begins.
    let number = Atomic<Int>(0)
    /// Its `pip install`s; the channel's answers pipe is the cell's own.
    let packages = PackagesRequests()
    var packageRequests: AsyncStream<PackagesWanted> { packages.stream }
    private let stdinInput: AsyncStream<[UInt8]>.Continuation
    private let outcome: EventLoopPromise<Verdict>
    private let session: ForkServerSession

    init(request: RunRequest, session: ForkServerSession) {
        self.request = request
        limits = request.limits
        self.session = session
        (output, outputSink) = AsyncStream.makeStream(of: RunOutput.self)
        (stdinChunks, stdinInput) = AsyncStream.makeStream(of: [UInt8].self)
        outcome = MultiThreadedEventLoopGroup.singleton.any().makePromise()
        switch request.stdin {
        case .none: stdinWanted.disarm(); stdinInput.finish()
        case .bytes(let bytes): stdinWanted.disarm(); stdinInput.yield(bytes); stdinInput.finish()
        case .interactive: break
        }
    }

    func ready() async -> Bool { true }

    func start(_ request: RunRequest) throws(InvalidRunRequest) {
        throw InvalidRunRequest(message: "a session's run is started by its session")
    }

    func verdict() async -> Verdict {
        (try? await outcome.futureResult.get()) ?? Verdict(status: .internalError, message: "the cell never ended")
    }

    func cancel() {
        session.interrupt(self, because: .cancelled)
    }

    func writeStdin(_ bytes: [UInt8]) {
        stdinWanted.arm()
        stdinInput.yield(bytes)
    }

    func closeStdin() { stdinInput.finish() }

    /// Its output has all been delivered: the verdict goes out.
    func finish(_ verdict: Verdict) {
        packages.finish()
        outputSink.finish()
        stdinInput.finish()
        outcome.succeed(verdict)
    }
}
