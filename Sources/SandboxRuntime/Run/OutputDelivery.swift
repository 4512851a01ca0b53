import Logging
import Synchronization

/// Passes one run's output on within its budget: text (stderr's in
/// frames on stdout too), blocking reads of stdin, displays, returned files, and the frames that end the run at its output limit (`exceeded`
/// is how it is ended there). Used by a run's and a session cell's supervision.
struct OutputDelivery: Sendable {
    let sink: AsyncStream<RunOutput>.Continuation
    let budget: OutputBudget
    let stdinWanted: StdinWantedSignal
    /// Where a `packages` frame goes; nil where none is served (stderr).
    var packages: PackagesRequests? = nil
    let exceeded: @Sendable () -> Void

    init(
        sink: AsyncStream<RunOutput>.Continuation, budget: OutputBudget, stdinWanted: StdinWantedSignal,
        packages: PackagesRequests? = nil, exceeded: @escaping @Sendable () -> Void
    ) {
        (self.sink, self.budget, self.stdinWanted, self.packages, self.exceeded) = (sink, budget, stdinWanted, packages, exceeded)
    }

    /// What a frame that carries no output (a `stdin_wanted`, an empty
    /// `stderr`) counts toward the output limit: the program could
    /// otherwise write such frames forever within any budget.
    static let emptyFrameCost = 64

    func passOn(_ bytes: some Collection<UInt8>, of stream: OutputChunk.Stream) {
        let allowed = budget.admit(bytes.count, from: stream)
        if allowed > 0 {
            sink.yield(.text(OutputChunk(stream: stream, bytes: Array(bytes.prefix(allowed)))))
        }
        // Past the limit, keep draining so the program never blocks on a full pipe before it ends.
        if allowed < bytes.count { exceeded() }
    }

    /// Handles a piece of stdout; returns the exit status an `end` frame carries (a session's cell).
    func handle(_ piece: StdoutFrames.Piece, frames: FrameReader, logger: Logger) -> Int? {
        switch piece {
        case .text(let bytes):
            passOn(bytes, of: .stdout)
        case .frame(.display, let payload):
            // A display that does not decode is dropped, but its bytes still count.
            guard budget.admitDisplay(payload.count) else {
                exceeded()
                return nil
            }
            if let display = FrameDecoding.display(payload) { sink.yield(.display(display)) }
        case .frame(.stderr, let payload):
            if payload.isEmpty {
                chargeEmptyFrame()
            } else {
                passOn(payload, of: .stderr)
            }
        case .frame(.stdinWanted, _):
            chargeEmptyFrame()
            if stdinWanted.take() { sink.yield(.stdinWanted) }
        case .frame(.files, let payload):
            // A repeated one is forged: it costs its size, so forging them in a loop ends at the limit.
            if !frames.received(filesFrame: payload), !budget.admitOverhead(payload.count + Self.emptyFrameCost) {
                exceeded()
            }
        case .frame(.end, let payload):
            // Only a session's cell has one; in a one-off run, or repeated, it is forged and costs as an empty frame.
            if !frames.receivedEndFrame() { chargeEmptyFrame() }
            return Int(String(decoding: payload, as: UTF8.self)) ?? 1
        case .frame(.packages, let payload):
            // It carries no output, but the program could write them forever: each costs its size.
            guard budget.admitOverhead(payload.count + Self.emptyFrameCost) else {
                exceeded()
                return nil
            }
            packages?.received(payload)
        case .frame(.displayTooLarge, _):
            budget.cutShort()
            exceeded()
        case .oversized(let kind, let length):
            logger.debug("oversized frame", metadata: ["kind": "\(kind)", "bytes": "\(length)"])
            budget.cutShort()
            exceeded()
        case .malformed:
            budget.cutShort()
            exceeded()
        }
        return nil
    }

    private func chargeEmptyFrame() {
        if !budget.admitOverhead(Self.emptyFrameCost) { exceeded() }
    }
}

/// Whether the program's next blocking read of stdin is news to the client:
/// once per chunk of stdin it sent, so a program cannot flood it.
final class StdinWantedSignal: Sendable {
    private let armed = Mutex(true)

    /// Stdin is about to get a chunk: the next blocking read is worth telling.
    func arm() {
        armed.withLock { $0 = true }
    }

    /// A run whose stdin is given whole (or closed) never waits for more:
    /// its reads are not worth telling, even one that finds the pipe still
    /// empty because the bytes were written after the program started.
    func disarm() {
        armed.withLock { $0 = false }
    }

    /// Whether to tell the client now; disarms.
    func take() -> Bool {
        armed.withLock { armed in
            defer { armed = false }
            return armed
        }
    }
}
