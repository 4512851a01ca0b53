import SandboxProtocol
import Synchronization

/// What a run printed and displayed, kept in the order the service sent it
/// (`seq`), for the tool's result.
public final class RunTranscript: Sendable {
    public enum Piece: Sendable, Equatable {
        case stdout(String)
        case stderr(String)
        case display(RunDisplayParams)
    }

    private let state = Mutex<[(seq: Int, piece: Piece)]>([])

    public init() {}

    /// For `CodeRunner.run`'s `record`.
    public func record(_ event: RunEvent) {
        let entry: (Int, Piece) = switch event {
        case .output(let output): (output.seq, output.stream == .stdout ? .stdout(output.text) : .stderr(output.text))
        case .display(let display): (display.seq, .display(display))
        }
        state.withLock { $0.append(entry) }
    }

    /// The pieces in `seq` order, each stream's adjacent text joined.
    public var pieces: [Piece] {
        let entries = state.withLock { $0 }.sorted { $0.seq < $1.seq }
        var pieces: [Piece] = []
        for (_, piece) in entries {
            switch (pieces.last, piece) {
            case (.stdout(let before)?, .stdout(let text)): pieces[pieces.count - 1] = .stdout(before + text)
            case (.stderr(let before)?, .stderr(let text)): pieces[pieces.count - 1] = .stderr(before + text)
            default: pieces.append(piece)
            }
        }
        return pieces
    }
}
