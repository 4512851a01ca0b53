import SandboxProtocol
import Synchronization

/// What a run printed and displayed, as its result will show it: bounded by
/// a `ResultBudget` while the run streams (a head, a tail, and counts of what
/// fell between), so a run that prints 20 MB holds about the budget here.
public final class RunTranscript: Sendable {
    public let budget: ResultBudget
    private let buffer: Mutex<TranscriptBuffer>

    public init(budget: ResultBudget = .default) {
        self.budget = budget
        buffer = Mutex(TranscriptBuffer(budget: budget))
    }

    /// For `CodeRunner.run`'s `record`. Runners call it in the order the
    /// service sent the events, which is `seq` order (PROTOCOL.md §4.6).
    public func record(_ event: RunEvent) {
        let item: TranscriptItem = switch event {
        case .output(let output): output.stream == .stdout ? .stdout(output.text) : .stderr(output.text)
        case .display(let display): Self.item(of: display)
        }
        buffer.withLock { $0.append(item) }
    }

    /// What the result shows, in the order it was made.
    public var items: [TranscriptItem] {
        buffer.withLock { $0.items }
    }

    /// What the result has left for returned files: the image budget less
    /// what the run's own images took.
    public var fileRoom: Int {
        buffer.withLock { budget.imageBytes - $0.imageBytesUsed }
    }

    /// The richest form an agent can take: an image, else the plain text every display has.
    static func item(of display: RunDisplayParams) -> TranscriptItem {
        for mime in [DisplayMIME.png, DisplayMIME.jpeg] {
            if case .string(let base64)? = display.data[mime] { return .image(mimeType: mime, base64: base64) }
        }
        return .displayText(display.data[DisplayMIME.plainText]?.stringValue ?? "(a display with no text form)")
    }
}
