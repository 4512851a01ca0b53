import HummingbirdWebSocket
import Synchronization

/// A connection's messages on their way to the client, in order. One writer
/// takes them out; the socket's back-pressure slows that writer down, so
/// messages wait here while the client does not read. They may not pile up
/// without bound: once more than `limit` bytes wait, the outbox overflows,
/// drops what it holds and takes nothing more, and the connection is ended
/// (its runs are cancelled like on any close).
final class Outbox: Sendable {
    private struct State {
        var messages: [String] = []
        var head = 0
        var bytes = 0
        var finished = false
        var overflowed = false
        var waitingWriter: CheckedContinuation<String?, Never>?
    }

    let limit: Int
    private let state = Mutex(State())
    /// Ends when the outbox overflows.
    let overflowed: AsyncStream<Void>
    private let overflowSink: AsyncStream<Void>.Continuation

    init(limit: Int) {
        self.limit = limit
        (overflowed, overflowSink) = AsyncStream.makeStream(of: Void.self)
    }

    /// How long messages still queued when the client's side ends may take to leave.
    static let drainTimeout = Duration.seconds(5)

    /// What may wait for a slow client: two runs' worth of output at the
    /// largest `maxOutputBytes` (JSON escaping may grow text) and of
    /// returned files (base64), plus room for the other messages.
    static func limit(maxOutputBytes: Int, maxReturnBytes: Int = 0) -> Int {
        2 * maxOutputBytes + 2 * (maxReturnBytes / 3 * 4 + 4) + (1 << 20)
    }

    /// Queues `message`; dropped once the outbox has finished or overflowed.
    func send(_ message: String) {
        enum Outcome { case dropped, queued, handedOver(CheckedContinuation<String?, Never>), overflowed }
        let outcome = state.withLock { state -> Outcome in
            guard !state.finished, !state.overflowed else { return .dropped }
            state.bytes += message.utf8.count
            if let writer = state.waitingWriter {
                state.waitingWriter = nil
                return .handedOver(writer)
            }
            state.messages.append(message)
            guard state.bytes > limit else { return .queued }
            state.overflowed = true
            state.messages = []
            state.head = 0
            return .overflowed
        }
        switch outcome {
        case .dropped, .queued: break
        case .handedOver(let writer): writer.resume(returning: message)
        case .overflowed: overflowSink.finish()
        }
    }

    /// Writes the messages to the WebSocket, in order, until the outbox is
    /// finished and empty, has overflowed, or this task is cancelled.
    func write(to outbound: WebSocketOutboundWriter) async {
        await write { try await outbound.write(.text($0)) }
    }

    /// Hands the messages to `deliver` in order, until the outbox is finished
    /// and empty, has overflowed, or this task is cancelled. After a failed
    /// delivery the rest is discarded: the connection is going away.
    func write(_ deliver: (String) async throws -> Void) async {
        var failed = false
        while !Task.isCancelled, let message = await next() {
            if !failed {
                do {
                    try await deliver(message)
                } catch {
                    failed = true
                }
            }
            state.withLock { $0.bytes -= message.utf8.count }
        }
    }

    /// The next message; nil once the outbox is finished and empty, has
    /// overflowed, or the task is cancelled.
    private func next() async -> String? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let message = state.withLock { state -> String?? in
                    if state.overflowed || Task.isCancelled { return .some(nil) }
                    if state.head < state.messages.count {
                        let message = state.messages[state.head]
                        state.head += 1
                        if state.head > 64 && state.head * 2 > state.messages.count {
                            state.messages.removeFirst(state.head)
                            state.head = 0
                        }
                        return .some(message)
                    }
                    if state.finished { return .some(nil) }
                    state.waitingWriter = continuation
                    return nil
                }
                if let message { continuation.resume(returning: message) }
            }
        } onCancel: {
            let writer = state.withLock { state in
                defer { state.waitingWriter = nil }
                return state.waitingWriter
            }
            writer?.resume(returning: nil)
        }
    }

    /// No more messages will come; the writer ends once it has written what is queued.
    func finish() {
        let writer = state.withLock { state -> CheckedContinuation<String?, Never>? in
            state.finished = true
            defer { state.waitingWriter = nil }
            return state.waitingWriter
        }
        writer?.resume(returning: nil)
    }

    var hasOverflowed: Bool { state.withLock { $0.overflowed } }
}
