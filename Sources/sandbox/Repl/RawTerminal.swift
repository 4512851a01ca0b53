#if canImport(Glibc)
import Glibc
#endif

/// The terminal on stdin in raw mode, for the line editor: no echo, no
/// line buffering, and Ctrl-C arrives as a byte (0x03) instead of SIGINT.
/// Output processing stays on, so "\n" still starts a new row.
final class RawTerminal {
    private var saved = termios()

    /// nil when stdin is not a terminal.
    init?() {
        guard isatty(STDIN_FILENO) != 0, tcgetattr(STDIN_FILENO, &saved) == 0 else { return nil }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { characters in
            characters[Int(VMIN)] = 1
            characters[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return nil }
    }

    /// Puts the terminal back as it was.
    func restore() {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
    }

    deinit { restore() }
}
