import SandboxProtocol
import SandboxRuntime
import Synchronization

/// Turns a run's output chunks into `run/output` messages: at most 64 KiB of
/// text each, one stream each, characters never split. After a quiet spell
/// output goes out as soon as the program pauses (`pause`, long enough to
/// keep one `print`'s separate writes together); while output keeps coming it
/// is gathered and sent every `interval`, so a tight print loop costs one
/// message per interval, not one per line. The end of the run flushes at once.
final class OutputCoalescer: Sendable {
    static let maxMessageBytes = 65536

    private struct State {
        var decoders: [RunOutputParams.Stream: UTF8Chunker] = [.stdout: UTF8Chunker(), .stderr: UTF8Chunker()]
        var pendingStream: RunOutputParams.Stream = .stdout
        var pending = ""
        var lastSent: ContinuousClock.Instant?
        var flushScheduled = false
        var seq = 0
    }

    private let interval: Duration
    private let pause: Duration
    private let emit: @Sendable (RunOutputParams.Stream, String, Int) -> Void
    private let state = Mutex(State())

    /// `emit` gets stream, text and seq, in order; it must not block.
    init(
        interval: Duration = .milliseconds(10), pause: Duration = .milliseconds(1),
        emit: @escaping @Sendable (RunOutputParams.Stream, String, Int) -> Void
    ) {
        self.interval = interval
        self.pause = pause
        self.emit = emit
    }

    /// Forwards all of `output`; returns once everything has been emitted.
    func forward(_ output: AsyncStream<OutputChunk>) async {
        await withTaskGroup(of: Void.self) { timers in
            for await chunk in output {
                if let delay = add(chunk) {
                    timers.addTask {
                        try? await Task.sleep(for: delay)
                        self.flushScheduledOutput()
                    }
                }
            }
            timers.cancelAll()
        }
        state.withLock { state in
            for stream in [RunOutputParams.Stream.stdout, .stderr] {
                let rest = state.decoders[stream]!.finish()
                append(rest, of: stream, to: &state)
            }
            send(&state)
        }
    }

    /// Takes a chunk in; returns the delay of a flush to schedule, if one is needed.
    private func add(_ chunk: OutputChunk) -> Duration? {
        state.withLock { state -> Duration? in
            let stream: RunOutputParams.Stream = chunk.stream == .stdout ? .stdout : .stderr
            let text = state.decoders[stream]!.append(chunk.bytes)
            append(text, of: stream, to: &state)
            guard !state.pending.isEmpty, !state.flushScheduled else { return nil }
            state.flushScheduled = true
            let sinceLastSent = state.lastSent.map { ContinuousClock.now - $0 } ?? interval
            return max(pause, interval - sinceLastSent)
        }
    }

    private func flushScheduledOutput() {
        state.withLock { state in
            state.flushScheduled = false
            send(&state)
        }
    }

    private func append(_ text: String, of stream: RunOutputParams.Stream, to state: inout State) {
        guard !text.isEmpty else { return }
        if stream != state.pendingStream {
            send(&state)
            state.pendingStream = stream
        }
        state.pending += text
        // Full messages go at once, whatever the interval.
        while state.pending.utf8.count >= Self.maxMessageBytes {
            let (head, tail) = UTF8Chunker.split(Substring(state.pending), atMost: Self.maxMessageBytes)
            emitMessage(String(head), &state)
            state.pending = String(tail)
        }
    }

    private func send(_ state: inout State) {
        guard !state.pending.isEmpty else { return }
        emitMessage(state.pending, &state)
        state.pending = ""
    }

    private func emitMessage(_ text: String, _ state: inout State) {
        emit(state.pendingStream, text, state.seq)
        state.seq += 1
        state.lastSent = .now
    }
}
