import Foundation
import Synchronization

/// The CLI's stdout and stderr. Writes are whole (one lock), so lines from
/// concurrent tasks never interleave.
enum Console {
    enum Stream: Sendable {
        case stdout, stderr
    }

    /// Whether a status line (`status(_:)`) is on stderr's last row now.
    private static let lock = Mutex(false)

    /// Status lines are shown only where a person sees them go away again.
    static let stderrIsTerminal = isatty(STDERR_FILENO) != 0

    static func write(_ text: String, to stream: Stream = .stdout) {
        guard !text.isEmpty else { return }
        let handle = stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError
        lock.withLock { statusShown in
            if statusShown {
                FileHandle.standardError.write(Data(eraseLine.utf8))
                statusShown = false
            }
            handle.write(Data(text.utf8))
        }
    }

    /// A diagnostic of the CLI's own, on stderr.
    static func note(_ text: String) {
        write("sandbox: \(text)\n", to: .stderr)
    }

    /// At a terminal, shows `text` on stderr's last row until the next write
    /// (or `status(nil)`) erases it, as a progress line does ("installing
    /// packages: tinytop"); elsewhere, nothing: scripts see no status lines.
    static func status(_ text: String?) {
        guard stderrIsTerminal else { return }
        lock.withLock { statusShown in
            guard let text else {
                if statusShown { FileHandle.standardError.write(Data(eraseLine.utf8)) }
                statusShown = false
                return
            }
            FileHandle.standardError.write(Data((eraseLine + "sandbox: " + text).utf8))
            statusShown = true
        }
    }

    /// Back to the row's start, and clear it.
    private static let eraseLine = "\r\u{1B}[K"
}
