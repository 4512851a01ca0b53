import Foundation
import Synchronization

/// The CLI's stdout and stderr. Writes are whole (one lock), so lines from
/// concurrent tasks never interleave.
enum Console {
    enum Stream: Sendable {
        case stdout, stderr
    }

    private static let lock = Mutex(())

    static func write(_ text: String, to stream: Stream = .stdout) {
        guard !text.isEmpty else { return }
        let handle = stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError
        lock.withLock { _ in handle.write(Data(text.utf8)) }
    }

    /// A diagnostic of the CLI's own, on stderr.
    static func note(_ text: String) {
        write("sandbox: \(text)\n", to: .stderr)
    }
}
