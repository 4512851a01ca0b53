import SandboxProtocol
import SandboxRuntime

/// Turns a run's output into `run/output` and `run/display` messages, which
/// share one `seq`: a display first sends the text before it. Text goes in
/// `run/output` messages of at most 64 KiB of
/// text each, one stream each, characters never split. After a quiet spell
/// output goes out as soon as the program pauses (`pause`, long enough to
/// keep one `print`'s separate writes together); while output keeps coming it
/// is gathered and sent every `interval`, so a tight print loop costs one
/// message per interval, not one per line. The end of the run flushes at once.
///
/// One task owns the state (`OutputCoalescing`): chunks and due flushes
/// arrive as events, and whatever the state returns is emitted by that task,
/// in order, with no lock held.
struct OutputCoalescer: Sendable {
    let interval: Duration
    let pause: Duration
    let emit: @Sendable (OutputMessage) -> Void

    /// `emit` gets each message in order; it must not block.
    init(
        interval: Duration = .milliseconds(10), pause: Duration = .milliseconds(1),
        emit: @escaping @Sendable (OutputMessage) -> Void
    ) {
        self.interval = interval
        self.pause = pause
        self.emit = emit
    }

    private enum Event: Sendable {
        case output(RunOutput)
        case flushDue
        case ended
    }

    /// Forwards all of `output`; returns once everything has been emitted.
    func forward(_ output: AsyncStream<RunOutput>) async {
        let (events, sink) = AsyncStream.makeStream(of: Event.self)
        var coalescing = OutputCoalescing(interval: interval, pause: pause)
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await item in output { sink.yield(.output(item)) }
                sink.yield(.ended)
            }
            loop: for await event in events {
                switch event {
                case .output(.display(let display)):
                    coalescing.add(display, now: .now).forEach(emit)
                case .output(.stdinWanted):
                    coalescing.stdinWanted(now: .now).forEach(emit)
                case .output(.text(let chunk)):
                    let (messages, flushAfter) = coalescing.add(chunk, now: .now)
                    messages.forEach(emit)
                    if let flushAfter {
                        tasks.addTask {
                            try? await Task.sleep(for: flushAfter)
                            sink.yield(.flushDue)
                        }
                    }
                case .flushDue:
                    coalescing.flushDue(now: .now).forEach(emit)
                case .ended:
                    coalescing.finish(now: .now).forEach(emit)
                    break loop
                }
            }
            sink.finish()
            tasks.cancelAll()
        }
    }
}

/// One `run/output`, `run/display` or `run/stdinWanted` message before its run id is attached.
enum OutputMessage: Sendable, Equatable {
    case output(RunOutputParams.Stream, String, seq: Int)
    case display(Display, seq: Int)
    /// Not numbered: it carries no output.
    case stdinWanted

    init(stream: RunOutputParams.Stream, text: String, seq: Int) {
        self = .output(stream, text, seq: seq)
    }

    var seq: Int? {
        switch self {
        case .output(_, _, let seq), .display(_, let seq): seq
        case .stdinWanted: nil
        }
    }

    /// A `run/output`'s text; empty for a display.
    var text: String {
        if case .output(_, let text, _) = self { return text }
        return ""
    }

    var stream: RunOutputParams.Stream? {
        if case .output(let stream, _, _) = self { return stream }
        return nil
    }
}

/// What `OutputCoalescer` holds between events: pending text, the streams'
/// UTF-8 decoders, when a message last went out. Each step returns the
/// messages to emit and, for `add`, the delay of a flush to schedule.
struct OutputCoalescing {
    static let maxMessageBytes = 65536

    let interval: Duration
    let pause: Duration
    private var decoders: [RunOutputParams.Stream: UTF8Chunker] = [.stdout: UTF8Chunker(), .stderr: UTF8Chunker()]
    private var pendingStream: RunOutputParams.Stream = .stdout
    private var pending = ""
    private var lastSent: ContinuousClock.Instant?
    private var flushScheduled = false
    private var seq = 0

    init(interval: Duration, pause: Duration) {
        self.interval = interval
        self.pause = pause
    }

    /// Takes a chunk in: full messages to emit now, and when to flush the rest (if a flush is not already due).
    mutating func add(_ chunk: OutputChunk, now: ContinuousClock.Instant) -> ([OutputMessage], Duration?) {
        let stream: RunOutputParams.Stream = chunk.stream == .stdout ? .stdout : .stderr
        let text = decoders[stream]!.append(chunk.bytes)
        let messages = append(text, of: stream, now: now)
        guard !pending.isEmpty, !flushScheduled else { return (messages, nil) }
        flushScheduled = true
        let sinceLastSent = lastSent.map { now - $0 } ?? interval
        return (messages, max(pause, interval - sinceLastSent))
    }

    /// A display: the text before it goes first, then the display, each with the next `seq`.
    mutating func add(_ display: Display, now: ContinuousClock.Instant) -> [OutputMessage] {
        var messages = send(now: now)
        messages.append(.display(display, seq: seq))
        seq += 1
        lastSent = now
        return messages
    }

    /// The program waits for stdin: the text before it (a prompt) goes first.
    mutating func stdinWanted(now: ContinuousClock.Instant) -> [OutputMessage] {
        send(now: now) + [.stdinWanted]
    }

    /// The scheduled flush is due.
    mutating func flushDue(now: ContinuousClock.Instant) -> [OutputMessage] {
        flushScheduled = false
        return send(now: now)
    }

    /// The end of the output: everything left, an incomplete character replaced.
    mutating func finish(now: ContinuousClock.Instant) -> [OutputMessage] {
        var messages: [OutputMessage] = []
        for stream in [RunOutputParams.Stream.stdout, .stderr] {
            let rest = decoders[stream]!.finish()
            messages += append(rest, of: stream, now: now)
        }
        return messages + send(now: now)
    }

    private mutating func append(_ text: String, of stream: RunOutputParams.Stream, now: ContinuousClock.Instant) -> [OutputMessage] {
        guard !text.isEmpty else { return [] }
        var messages: [OutputMessage] = []
        if stream != pendingStream {
            messages += send(now: now)
            pendingStream = stream
        }
        pending += text
        // Full messages go at once, whatever the interval.
        while pending.utf8.count >= Self.maxMessageBytes {
            let (head, tail) = UTF8Chunker.split(Substring(pending), atMost: Self.maxMessageBytes)
            messages.append(message(String(head), now: now))
            pending = String(tail)
        }
        return messages
    }

    private mutating func send(now: ContinuousClock.Instant) -> [OutputMessage] {
        guard !pending.isEmpty else { return [] }
        defer { pending = "" }
        return [message(pending, now: now)]
    }

    private mutating func message(_ text: String, now: ContinuousClock.Instant) -> OutputMessage {
        defer {
            seq += 1
            lastSent = now
        }
        return .output(pendingStream, text, seq: seq)
    }
}
