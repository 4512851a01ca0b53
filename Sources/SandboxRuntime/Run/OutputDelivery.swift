import Logging

/// Passes one run's output on within its budget: text, displays, returned
/// files, and the frames that end the run at its output limit (`exceeded`
/// is how it is ended there). Used by a run's and a session cell's supervision.
struct OutputDelivery: Sendable {
    let sink: AsyncStream<RunOutput>.Continuation
    let budget: OutputBudget
    let exceeded: @Sendable () -> Void

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
        case .frame(.files, let payload):
            frames.received(filesFrame: payload)
        case .frame(.end, let payload):
            return Int(String(decoding: payload, as: UTF8.self)) ?? 1
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
}
