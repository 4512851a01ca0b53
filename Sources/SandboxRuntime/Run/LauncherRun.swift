import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `SandboxRun` in a sandbox of the C launcher's: the launcher is started
/// by `Sandbox.launch`, and this type feeds it the program and stdin, reads
/// its output and report, and enforces the wall clock and the output limit
/// (`Supervision`).
final class LauncherRun: SandboxRun {
    let output: AsyncStream<OutputChunk>
    let limits: RunLimits
    private let delivery: Mutex<AsyncStream<RunDelivery>.Continuation?>
    private let stdinInput: AsyncStream<[UInt8]>.Continuation
    private let readiness: Task<Bool, Never>
    private let killer: RunKiller
    private let outcome: Task<Verdict, Never>

    init(
        launcher: String, arguments: [String], limits: RunLimits, census: LauncherCensus, cgroupParents: [String],
        logger: Logger
    ) throws {
        let pipes = try (0..<5).map { _ in try ClosingPipe() }
        let (stdin, stdout, stderr, requestPipe, status) = (pipes[0], pipes[1], pipes[2], pipes[3], pipes[4])
        // The launcher's fds 0-4, in order; the other ends stay here.
        let childEnds = [stdin.readEnd, stdout.writeEnd, stderr.writeEnd, requestPipe.readEnd, status.writeEnd]
        let pid: pid_t
        do {
            pid = try Spawner.spawn(path: launcher, arguments: arguments, environment: [], descriptors: childEnds)
        } catch {
            pipes.forEach { $0.closeBoth() }
            throw error
        }
        childEnds.forEach { close($0) }

        let (output, outputSink) = AsyncStream.makeStream(of: OutputChunk.self)
        let (stdinChunks, stdinInput) = AsyncStream.makeStream(of: [UInt8].self)
        let (deliveries, delivery) = AsyncStream.makeStream(of: RunDelivery.self)
        let (readySignal, readySink) = AsyncStream.makeStream(of: Bool.self)
        let killer = RunKiller(pid: pid, census: census, cgroupParents: cgroupParents, logger: logger)
        let descriptors = RunDescriptors(
            stdin: stdin.writeEnd, stdout: stdout.readEnd, stderr: stderr.readEnd,
            request: requestPipe.writeEnd, status: status.readEnd)
        self.output = output
        self.limits = limits
        self.delivery = Mutex(delivery)
        self.stdinInput = stdinInput
        self.killer = killer
        self.readiness = Task {
            for await ready in readySignal { return ready }
            return false
        }
        self.outcome = Task {
            await Supervision(
                descriptors: descriptors, limits: limits, killer: killer, outputSink: outputSink,
                readySink: readySink, logger: logger
            ).run(deliveries: deliveries, stdinChunks: stdinChunks)
        }
    }

    func ready() async -> Bool {
        await readiness.value
    }

    func start(_ request: RunRequest) throws(InvalidRunRequest) {
        try request.validate()
        guard request.limits.fits(launchedWith: limits) else {
            throw InvalidRunRequest(message: "the request's limits differ from those the sandbox was launched with")
        }
        let continuation = delivery.withLock { current in
            defer { current = nil }
            return current
        }
        guard let continuation else {
            throw InvalidRunRequest(message: "this sandbox has already been given a program")
        }
        switch request.stdin {
        case .none: stdinInput.finish()
        case .bytes(let bytes): stdinInput.yield(bytes); stdinInput.finish()
        case .interactive: break
        }
        continuation.yield(RunDelivery(
            body: Bootstrap.request(code: request.code, files: request.files),
            wallTimeout: request.limits.wallTimeout, maxOutputBytes: request.limits.maxOutputBytes))
        continuation.finish()
    }

    func verdict() async -> Verdict {
        await outcome.value
    }

    /// Queued output is delivered too.
    func cancel() {
        killer.kill(.cancelled)
    }

    func writeStdin(_ bytes: [UInt8]) {
        stdinInput.yield(bytes)
    }

    func closeStdin() {
        stdinInput.finish()
    }
}

/// What a launched sandbox learns when its program arrives.
struct RunDelivery: Sendable {
    var body: [UInt8]
    var wallTimeout: Duration
    var maxOutputBytes: Int
}

struct RunDescriptors: Sendable {
    var stdin: CInt
    var stdout: CInt
    var stderr: CInt
    var request: CInt
    var status: CInt
}
