/// What a person (or a pipe) did at the prompt.
enum LineEvent: Equatable {
    /// A line ended with Enter (or a line break).
    case line(String)
    /// Ctrl-C at the prompt: the line and the block so far are dropped.
    case interrupt
    /// Ctrl-D at an empty line, or the end of stdin.
    case endOfInput
    /// Tab after a name, at an editor that completes names: the line up to
    /// the cursor. What to do comes back in `LineReader.apply`.
    case completion(lineBeforeCursor: String)
}

/// Turns the bytes of stdin into line events, and shows the prompts.
protocol LineReader {
    /// Starts a new line after `prompt`, with `text` already typed (a block's indentation).
    mutating func start(prompt: String, text: String)
    /// One byte of stdin; an event when it completes one.
    mutating func take(_ byte: UInt8) -> LineEvent?
    /// Stdin has ended: a line not yet ended, then the end.
    mutating func finish() -> [LineEvent]
    /// What Tab does, for the `.completion` the reader asked for last.
    mutating func apply(_ completion: LineCompletion)
}

extension LineReader {
    /// Starts a new, empty line after `prompt`.
    mutating func start(prompt: String) { start(prompt: prompt, text: "") }
}

/// Stdin that is not a terminal: lines as they come, no prompts, no echo.
struct PipedLines: LineReader {
    private var bytes: [UInt8] = []

    mutating func start(prompt: String, text: String) {}

    /// Piped lines are not completed: they come whole.
    mutating func apply(_ completion: LineCompletion) {}

    mutating func take(_ byte: UInt8) -> LineEvent? {
        guard byte == 0x0A else {
            bytes.append(byte)
            return nil
        }
        defer { bytes = [] }
        return .line(Self.text(bytes))
    }

    mutating func finish() -> [LineEvent] {
        defer { bytes = [] }
        return bytes.isEmpty ? [.endOfInput] : [.line(Self.text(bytes)), .endOfInput]
    }

    private static func text(_ bytes: [UInt8]) -> String {
        let line = bytes.last == 0x0D ? bytes.dropLast() : bytes[...]
        return String(decoding: line, as: UTF8.self)
    }
}
