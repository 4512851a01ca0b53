import SandboxProtocol
import SandboxRuntime
import Synchronization

/// Who a run reports to: a WebSocket connection or an HTTP request.
protocol RunObserver: Sendable {
    /// The run's package set is being installed (`PackageService`).
    func installing(_ job: RunJob)
    func queued(_ job: RunJob, position: Int)
    func running(_ job: RunJob)
    func output(_ job: RunJob, _ output: RunOutputParams)
    func display(_ job: RunJob, _ display: RunDisplayParams)
    /// The program blocks reading stdin with nothing to read.
    func stdinWanted(_ job: RunJob)
    /// One of the run's `tests` has ended (in the order given).
    func tested(_ job: RunJob, _ test: RunTestParams)
    /// Called exactly once per accepted run, after every other call, unless `refused` is.
    func finished(_ job: RunJob, _ result: RunResult)
    /// The run never started, and its response is this error (its package
    /// set could not be had, or the queue was full after the install).
    /// Called instead of `finished`.
    func refused(_ job: RunJob, _ error: RPCError)
}

extension RunObserver {
    /// Most observers have no one to tell: only an interactive client does.
    func stdinWanted(_ job: RunJob) {}
    func installing(_ job: RunJob) {}
    /// An HTTP request's tests come back in its one answer.
    func tested(_ job: RunJob, _ test: RunTestParams) {}
}

/// Identifies the client a run belongs to, for fairness and per-client limits.
struct ClientID: Hashable, Sendable, CustomStringConvertible {
    let value: UInt64
    var description: String { "c\(value)" }

    private static let next = Atomic<UInt64>(1)
    static func make() -> ClientID { ClientID(value: next.wrappingAdd(1, ordering: .relaxed).oldValue) }
}

/// One accepted run, from admission to its one verdict.
final class RunJob: Sendable {
    let id: JSONValue
    let client: ClientID
    /// What it runs; its package layer is set once the layer is leased (`use`).
    var request: RunRequest { state.withLock { $0.request } }
    /// Fed before the interactive stdin stays open.
    let initialStdin: [UInt8]?
    let observer: any RunObserver
    /// The session it runs in; nil for a run in a sandbox of its own.
    let session: ServerSession?
    /// Whose run it is: its tenant's lane, cap and quota; its verdict's CPU is charged there.
    let account: TenantAccount
    /// A `run` the client asked for, counted in its tenant's runs; false
    /// for the service's helpers (completion, session files, forks), whose CPU still counts.
    let countsAsRun: Bool
    /// Inputs the program runs against, each in a sandbox of its own (`TestBatch`); empty for a plain run.
    let tests: [RunTest]
    let accepted = ContinuousClock.now
    /// Its package sets: the one it named, and what `pip install` added in it.
    let packages = PackageHolding()

    private enum Phase {
        case waiting
        case running(any SandboxRun)
        case finished
    }

    private enum StdinEvent {
        case data([UInt8])
        case eof
    }

    private struct State {
        var request: RunRequest
        var phase = Phase.waiting
        var cancelRequested = false
        /// run/stdin that arrived before the sandbox did.
        var pendingStdin: [StdinEvent] = []
    }

    private let state: Mutex<State>
    /// Finished when the run has had its response (`ended()`).
    private let end = AsyncStream<Never>.makeStream()

    init(
        id: JSONValue, client: ClientID, account: TenantAccount, request: RunRequest, initialStdin: [UInt8]?,
        observer: any RunObserver, session: ServerSession? = nil, countsAsRun: Bool = true, tests: [RunTest] = []
    ) {
        self.tests = tests
        self.session = session
        self.account = account
        self.countsAsRun = countsAsRun
        self.id = id
        self.client = client
        state = Mutex(State(request: request))
        self.initialStdin = initialStdin
        self.observer = observer
    }

    var isInteractive: Bool { request.stdin == .interactive }
    var cancelRequested: Bool { state.withLock { $0.cancelRequested } }

    /// Asks the run to end with `cancelled`. A running sandbox is killed; a
    /// waiting run is ended by whoever holds it (the scheduler or the executor).
    func requestCancel() {
        let sandbox = state.withLock { state -> (any SandboxRun)? in
            state.cancelRequested = true
            if case .running(let sandbox) = state.phase { return sandbox }
            return nil
        }
        sandbox?.cancel()
    }

    /// Gives the run its sandbox; false if it was cancelled meanwhile (the caller discards the sandbox).
    func attach(_ sandbox: any SandboxRun) -> Bool {
        let pending = state.withLock { state -> [StdinEvent]? in
            guard case .waiting = state.phase, !state.cancelRequested else { return nil }
            state.phase = .running(sandbox)
            defer { state.pendingStdin = [] }
            return state.pendingStdin
        }
        guard let pending else { return false }
        if let initialStdin { sandbox.writeStdin(initialStdin) }
        for event in pending { apply(event, to: sandbox) }
        return true
    }

    /// Gives the next of the run's tests its sandbox, in the last test's
    /// place; false if the run was cancelled or answered meanwhile.
    func attachTest(_ sandbox: any SandboxRun) -> Bool {
        state.withLock { state in
            guard !state.cancelRequested else { return false }
            if case .finished = state.phase { return false }
            state.phase = .running(sandbox)
            return true
        }
    }

    func writeStdin(_ bytes: [UInt8]) { deliver(.data(bytes)) }
    func closeStdin() { deliver(.eof) }

    private func deliver(_ event: StdinEvent) {
        guard isInteractive else { return }
        let sandbox = state.withLock { state -> (any SandboxRun)? in
            switch state.phase {
            case .waiting: state.pendingStdin.append(event); return nil
            case .running(let sandbox): return sandbox
            case .finished: return nil
            }
        }
        if let sandbox { apply(event, to: sandbox) }
    }

    private func apply(_ event: StdinEvent, to sandbox: any SandboxRun) {
        switch event {
        case .data(let bytes): sandbox.writeStdin(bytes)
        case .eof: sandbox.closeStdin()
        }
    }

    /// Gives the run the package layer it imports from; false if it has
    /// been cancelled or answered meanwhile (the caller gives the layer back).
    func use(_ layer: PackageLayer) -> Bool {
        state.withLock { state in
            guard case .waiting = state.phase, !state.cancelRequested else { return false }
            state.request.limits.packageLayer = layer
            return true
        }
    }

    /// Reports the verdict; only the first call (of this or `refuse`) counts.
    func finish(_ result: RunResult) {
        guard markFinished() else { return }
        account.charge(cpuMs: result.cpuMs, run: countsAsRun)
        let release = session?.release(self)
        observer.finished(self, result)
        release.map { session?.perform($0) }
        end.continuation.finish()
    }

    /// Answers a run that never started with an error instead of a verdict.
    func refuse(_ error: RPCError) {
        guard markFinished() else { return }
        let release = session?.release(self)
        observer.refused(self, error)
        release.map { session?.perform($0) }
        end.continuation.finish()
    }

    /// Returns once the run has had its response.
    func ended() async {
        for await _ in end.stream {}
    }

    private func markFinished() -> Bool {
        state.withLock { state -> Bool in
            if case .finished = state.phase { return false }
            state.phase = .finished
            return true
        }
    }

    /// The verdict of a run that never reached a program.
    func finishWithoutRunning(_ status: RunStatus, message: String? = nil) {
        finish(RunResult(Verdict(status: status, message: message), queuedMs: milliseconds(since: accepted)))
    }
}

func milliseconds(since instant: ContinuousClock.Instant) -> Int {
    Int((ContinuousClock.now - instant) / .milliseconds(1))
}
