import SandboxProtocol
import SandboxRuntime
import Synchronization

/// A `SandboxSession` with no sandbox behind it, for the server's session
/// logic. It keeps `SandboxSession`'s contract as `ForkServerSession` does:
/// cells run one at a time (`start` throws while one runs, and once the
/// session has ended); every cell ends with exactly one verdict; an
/// interrupt (cancel, the wall clock) ends a cell with the interruption's
/// status, and a cell that does not stop within `limits.interruptGrace`
/// gets the session killed, its verdict keeping that status; the session
/// ends once, and `ended()` returns after the verdict of the cell running then.
///
/// A cell's code is its script:
/// - `hang`: runs until interrupted;
/// - `stubborn`: runs and ignores interrupts (a program catching KeyboardInterrupt);
/// - `fail`: exits 1;
/// - `exit`: its interpreter ends itself (`os._exit(3)`): the session `crashed`;
/// - `memory`: the session reaches its memory limit;
/// - `cpu`: the session uses its lifetime CPU time;
/// - `echo-stdin`: prints its stdin once it has ended, and exits 0;
/// - anything else: prints its code and exits 0.
/// A test ends the session as its sandbox would with `end(_:)`.
final class FakeSession: SandboxSession {
    let limits: SessionLimits
    /// Its sandbox takes its time to exit: `ended()` returns only after `finishExiting()`.
    let lingers: Bool
    private let ending = Outcome<SandboxSessionEnd>()
    private let exited = Outcome<Void>()
    private let state = Mutex(State())

    private struct State {
        var current: FakeCell?
        var end: SandboxSessionEnd?
        var closed = false
        var started: [String] = []
        var interruptions: [(code: String, reason: Interruption)] = []
    }

    /// Why a cell was interrupted (`CellInterruption` in the runtime).
    enum Interruption: Sendable, Equatable {
        case cancelled, timeout
    }

    init(limits: SessionLimits, lingers: Bool = false) {
        self.limits = limits
        self.lingers = lingers
    }

    /// The codes of the cells started, in order.
    var started: [String] { state.withLock { $0.started } }
    /// Each interrupt that reached a running cell, in order.
    var interruptions: [Interruption] { state.withLock { $0.interruptions.map(\.reason) } }
    var isClosed: Bool { state.withLock { $0.closed } }
    /// How it ended, if it has.
    var endedWith: SandboxSessionEnd? { ending.peek }
    /// Whether a cell runs now.
    var cellRunning: Bool { state.withLock { $0.current != nil } }

    func ready() async -> Bool { state.withLock { $0.end == nil } }

    func start(_ request: RunRequest) throws(InvalidRunRequest) -> any SandboxRun {
        try request.validate()
        let cell = FakeCell(request: request, session: self)
        try state.withLock { state throws(InvalidRunRequest) in
            guard state.end == nil && !state.closed else { throw InvalidRunRequest(message: "the session has ended") }
            guard state.current == nil else { throw InvalidRunRequest(message: "the session is running another cell") }
            state.current = cell
            state.started.append(request.code)
        }
        switch request.code {
        case "echo-stdin":
            break
        case "hang", "stubborn":
            let timeout = request.limits.timeout
            cell.timer = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled, let self else { return }
                self.interrupt(cell, because: .timeout)
            }
        case "fail":
            finish(cell, Verdict(status: .error, exitCode: 1))
        case "exit":
            end(.crashed("its interpreter exited with status 3"), exitCode: 3)
        case "memory":
            end(.memoryLimit)
        case "cpu":
            end(.cpuLimit)
        default:
            cell.print(request.code)
            finish(cell, Verdict(status: .ok, exitCode: 0, stdoutBytes: request.code.utf8.count))
        }
        return cell
    }

    func ended() async -> SandboxSessionEnd {
        let end = await ending.value
        if lingers { await exited.value }
        return end
    }

    /// A lingering sandbox has exited.
    func finishExiting() { exited.resolve(()) }

    func close() {
        let first = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if first { end(.closed) }
    }

    /// Its sandbox ends as `end` says (the cell running then is cut short:
    /// its verdict says how, then `ended()` returns).
    func end(_ end: SandboxSessionEnd, exitCode: Int? = nil) {
        let cell = state.withLock { state -> FakeCell?? in
            guard state.end == nil else { return .none }
            state.end = end
            return .some(state.current)
        }
        guard let cell else { return }
        if let cell {
            var verdict = Verdict(status: .cancelled)
            switch cell.interruption {
            case .cancelled?: verdict.status = .cancelled
            case .timeout?: (verdict.status, verdict.limit) = (.timeout, .wall)
            case nil:
                switch end {
                case .memoryLimit: verdict.status = .memoryLimit
                case .cpuLimit: (verdict.status, verdict.limit) = (.timeout, .cpu)
                case .closed, .killed: verdict.status = .cancelled
                case .crashed: (verdict.status, verdict.exitCode) = (exitCode == 0 ? .ok : .error, exitCode)
                case .failed(let message): (verdict.status, verdict.message) = (.internalError, message)
                }
            }
            finish(cell, verdict)
        }
        ending.resolve(end)
    }

    /// Interrupts `cell` if it runs (KeyboardInterrupt): `hang` ends with the
    /// interruption's status; `stubborn` goes on, and the session is killed
    /// `limits.interruptGrace` later.
    func interrupt(_ cell: FakeCell, because reason: Interruption) {
        let interrupted = state.withLock { state -> Bool in
            guard state.current === cell, cell.interruption == nil else { return false }
            cell.interruption = reason
            state.interruptions.append((cell.request.code, reason))
            return true
        }
        guard interrupted else { return }
        guard cell.request.code == "stubborn" else {
            finish(cell, reason == .cancelled ? Verdict(status: .cancelled) : Verdict(status: .timeout, limit: .wall))
            return
        }
        let grace = limits.interruptGrace
        Task { [weak self] in
            try? await Task.sleep(for: grace)
            guard let self, self.state.withLock({ $0.current === cell }) else { return }
            self.end(.killed)
        }
    }

    func finish(_ cell: FakeCell, _ verdict: Verdict) {
        let mine = state.withLock { state -> Bool in
            guard state.current === cell else { return false }
            state.current = nil
            return true
        }
        if mine { cell.finish(verdict) }
    }
}

/// One cell of a `FakeSession`, as a `SandboxRun`; its `cancel` interrupts it.
final class FakeCell: SandboxRun {
    let output: AsyncStream<RunOutput>
    let limits: RunLimits
    let request: RunRequest
    private let outputSink: AsyncStream<RunOutput>.Continuation
    private let outcome = Outcome<Verdict>()
    private let session: FakeSession
    private let state = Mutex<(interruption: FakeSession.Interruption?, timer: Task<Void, Never>?)>((nil, nil))
    private let stdin = Mutex<[UInt8]>([])

    /// Why it was interrupted, if it was.
    var interruption: FakeSession.Interruption? {
        get { state.withLock { $0.interruption } }
        set { state.withLock { $0.interruption = newValue } }
    }

    /// Its wall clock, cancelled once it has its verdict.
    var timer: Task<Void, Never>? {
        get { state.withLock { $0.timer } }
        set { state.withLock { $0.timer = newValue } }
    }

    init(request: RunRequest, session: FakeSession) {
        self.request = request
        limits = request.limits
        self.session = session
        (output, outputSink) = AsyncStream.makeStream(of: RunOutput.self)
    }

    func ready() async -> Bool { true }

    func start(_ request: RunRequest) throws(InvalidRunRequest) {
        throw InvalidRunRequest(message: "a session's run is started by its session")
    }

    func verdict() async -> Verdict { await outcome.value }

    func cancel() { session.interrupt(self, because: .cancelled) }

    func writeStdin(_ bytes: [UInt8]) { stdin.withLock { $0 += bytes } }

    func closeStdin() {
        guard request.code == "echo-stdin" else { return }
        let bytes = stdin.withLock { $0 }
        print(String(decoding: bytes, as: UTF8.self))
        session.finish(self, Verdict(status: .ok, exitCode: 0, stdoutBytes: bytes.count))
    }

    func print(_ text: String) {
        outputSink.yield(.text(OutputChunk(stream: .stdout, bytes: Array(text.utf8))))
    }

    /// Its output is all out: the verdict follows.
    func finish(_ verdict: Verdict) {
        timer?.cancel()
        outputSink.finish()
        outcome.resolve(verdict)
    }
}

/// A value set once, for any number of waiters.
final class Outcome<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiters: [CheckedContinuation<Value, Never>])>((nil, []))

    var peek: Value? { state.withLock { $0.value } }

    /// Sets the value; false (and ignored) if it was set already.
    @discardableResult
    func resolve(_ value: Value) -> Bool {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, Never>]? in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters?.forEach { $0.resume(returning: value) }
        return waiters != nil
    }

    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let value = state.withLock { state -> Value? in
                    if state.value == nil { state.waiters.append(continuation) }
                    return state.value
                }
                if let value { continuation.resume(returning: value) }
            }
        }
    }
}
