import Logging
import NIOCore
import NIOPosix
import SandboxProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a run's sandbox starts.
enum RunStart: Sendable {
    /// `--isolation exec`: a launcher of its own, which starts a new interpreter.
    case launcher(path: String, arguments: [String])
    /// `--isolation fork`: a fork of a loaded interpreter in a fork-server slot,
    /// given the run's limit options.
    case forkServer(ForkServerSlots, limitArguments: [String])
}

/// A one-off run: a `SandboxRun` with a sandbox of its own, started by
/// the C launcher (exec) or forked in a fork-server slot (fork). `Sandbox.launch` makes it and hands it to the
/// `SandboxSupervisor`, whose task starts the sandbox and watches it to the
/// end (`supervise`); this type feeds it the program and stdin, and hands
/// out its output, readiness and verdict.
final class OneOffRun: SandboxRun {
    let output: AsyncStream<RunOutput>
    let limits: RunLimits
    private let start: RunStart
    private let logger: Logger
    private let outputSink: AsyncStream<RunOutput>.Continuation
    private let delivery: Mutex<AsyncStream<RunDelivery>.Continuation?>
    private let deliveries: AsyncStream<RunDelivery>
    private let stdinInput: AsyncStream<[UInt8]>.Continuation
    private let stdinChunks: AsyncStream<[UInt8]>
    private let readiness: EventLoopPromise<Bool>
    private let outcome: EventLoopPromise<Verdict>
    private let killer = RunKiller()
    private let stdinWanted = StdinWantedSignal()
    private let packages = PackagesRequests()

    var packageRequests: AsyncStream<PackagesWanted> { packages.stream }

    init(start: RunStart, limits: RunLimits, logger: Logger) {
        self.start = start
        self.limits = limits
        self.logger = logger
        (output, outputSink) = AsyncStream.makeStream(of: RunOutput.self)
        let (deliveries, delivery) = AsyncStream.makeStream(of: RunDelivery.self)
        self.deliveries = deliveries
        self.delivery = Mutex(delivery)
        (stdinChunks, stdinInput) = AsyncStream.makeStream(of: [UInt8].self)
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        readiness = loop.makePromise()
        outcome = loop.makePromise()
    }

    func ready() async -> Bool {
        (try? await readiness.futureResult.get()) ?? false
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
        case .none: stdinWanted.disarm(); stdinInput.finish()
        case .bytes(let bytes): stdinWanted.disarm(); stdinInput.yield(bytes); stdinInput.finish()
        case .interactive: break
        }
        let marker = Bootstrap.frameMarker()
        var request = request
        // A layer is mounted into a running program through its fork-server slot; exec has none.
        if case .launcher = start { request.answersPip = false }
        continuation.yield(RunDelivery(
            body: Bootstrap.request(request, frameMarker: marker),
            timeout: request.limits.timeout, maxOutputBytes: request.limits.maxOutputBytes,
            maxDisplayBytes: request.limits.maxDisplayBytes, maxReturnBytes: request.limits.maxReturnBytes,
            returnFiles: request.returnFiles, frameMarker: marker))
        continuation.finish()
    }

    /// Waits for the verdict; not cut short by cancellation, since every run ends with one.
    func verdict() async -> Verdict {
        (try? await outcome.futureResult.get()) ?? Verdict(status: .internalError, message: "the run was never supervised")
    }

    /// Queued output is delivered too.
    func cancel() {
        killer.kill(.cancelled)
    }

    func writeStdin(_ bytes: [UInt8]) {
        stdinWanted.arm()
        stdinInput.yield(bytes)
    }

    func closeStdin() {
        stdinInput.finish()
    }

    /// Spawns the launcher, watches it until it has been reaped, and returns
    /// its pid if a signal killed it (its run's cgroups are then left over).
    /// The verdict is out before the launcher has cleaned up and exited.
    /// Cancelling the calling task kills the run.
    func supervise() async -> pid_t? {
        await withTaskCancellationHandler {
            await spawnAndWatch()
        } onCancel: {
            killer.kill(.cancelled)
        }
    }

    /// Ends a run that will never be supervised, so its waiters return.
    func abandon(_ message: String) {
        end(Verdict(status: .internalError, message: message))
    }

    private func spawnAndWatch() async -> pid_t? {
        if let reason = killer.reason {
            end(OneOffRun.verdict(killedBeforeSpawn: reason, limits: limits))
            return nil
        }
        switch start {
        case .launcher(let path, let arguments):
            let launched: SpawnedLauncher
            do {
                launched = try SpawnedLauncher(path: path, arguments: arguments)
            } catch {
                logger.error("could not start the launcher", metadata: ["error": "\(error)"])
                end(Verdict(status: .internalError, message: "could not start the launcher: \(error)"))
                return nil
            }
            killer.spawned(.launcher(launched.pid))
            packages.channel.attach(answers: launched.descriptors.request, stop: nil)
            let killedBySignal = await watch(launched.descriptors, missingReport: "the launcher ended without a report")
            return killedBySignal ? launched.pid : nil
        case .forkServer(let slots, let limitArguments):
            await forkAndWatch(slots: slots, limitArguments: limitArguments)
            return nil
        }
    }

    private func forkAndWatch(slots: ForkServerSlots, limitArguments: [String]) async {
        var attempts = 0
        var slot: ForkServerSlot
        var started: (descriptors: RunDescriptors, stop: CInt)
        repeat {
            attempts += 1
            do {
                slot = try await slots.acquire()
            } catch {
                logger.error("no fork server", metadata: ["error": "\(error)"])
                end(Verdict(status: .internalError, message: "no fork server: \(error)"))
                return
            }
            if let reason = killer.reason {  // cancelled while the slot started
                slots.release(slot)
                end(OneOffRun.verdict(killedBeforeSpawn: reason, limits: limits))
                return
            }
            do {
                started = try slot.startRun(arguments: limitArguments)
                break
            } catch {
                // A slot that ended while idle took nothing of the run: another one can.
                slot.kill()
                slots.release(slot)
                guard attempts < 3 else {
                    logger.error("could not start a run in the fork server", metadata: ["error": "\(error)"])
                    end(Verdict(status: .internalError, message: "could not start a run in the fork server: \(error)"))
                    return
                }
            }
        } while true
        killer.spawned(.forkServerRun(stop: started.stop, slot: slot))
        let stop = dup(started.stop)
        packages.channel.attach(answers: started.descriptors.request, stop: stop >= 0 ? stop : nil)
        _ = await watch(started.descriptors, missingReport: "the fork server's slot ended without reporting the run (the fork server died or was killed)")
        slots.release(slot)
    }

    private func watch(_ descriptors: RunDescriptors, missingReport: String) async -> Bool {
        var supervision = Supervision(
            descriptors: descriptors, limits: limits, killer: killer, outputSink: outputSink,
            stdinWanted: stdinWanted, packages: packages, readiness: readiness, logger: logger)
        supervision.missingReport = missingReport
        return await supervision.run(deliveries: deliveries, stdinChunks: stdinChunks) { verdict in
            outcome.succeed(verdict)
        }
    }

    private func end(_ verdict: Verdict) {
        delivery.withLock { $0 = nil }
        packages.finish()
        outputSink.finish()
        readiness.succeed(false)
        outcome.succeed(verdict)
    }

    private static func verdict(killedBeforeSpawn reason: KillReason, limits: RunLimits) -> Verdict {
        let (status, limit, message) = classify(report: LauncherReport(), killReason: reason, limits: limits)
        return Verdict(status: status, limit: limit, message: message)
    }
}

/// A launcher process and the service's ends of its fds 0-4.
struct SpawnedLauncher {
    let pid: pid_t
    let descriptors: RunDescriptors

    init(path: String, arguments: [String]) throws(SpawnError) {
        var pipes: [ClosingPipe] = []
        do throws(SpawnError) {
            for _ in 0..<5 { pipes.append(try ClosingPipe()) }
        } catch {
            pipes.forEach { $0.closeBoth() }
            throw error
        }
        let (stdin, stdout, stderr, request, status) = (pipes[0], pipes[1], pipes[2], pipes[3], pipes[4])
        // The launcher's fds 0-4, in order; the other ends stay here.
        let childEnds = [stdin.readEnd, stdout.writeEnd, stderr.writeEnd, request.readEnd, status.writeEnd]
        do throws(SpawnError) {
            pid = try Spawner.spawn(path: path, arguments: arguments, environment: [], descriptors: childEnds)
        } catch {
            pipes.forEach { $0.closeBoth() }
            throw error
        }
        childEnds.forEach { close($0) }
        descriptors = RunDescriptors(
            stdin: stdin.writeEnd, stdout: stdout.readEnd, stderr: stderr.readEnd,
            request: request.writeEnd, status: status.readEnd)
    }
}

/// What a launched sandbox learns when its program arrives.
struct RunDelivery: Sendable {
    var body: [UInt8]
    var timeout: Duration
    var maxOutputBytes: Int
    var maxDisplayBytes: Int
    var maxReturnBytes: Int
    var returnFiles: [String]
    /// What starts each frame the bootstrap writes on stdout (`StdoutFrames`).
    var frameMarker: [UInt8]
}

struct RunDescriptors: Sendable {
    var stdin: CInt
    var stdout: CInt
    var stderr: CInt
    var request: CInt
    var status: CInt
}
