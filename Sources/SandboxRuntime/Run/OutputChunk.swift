import SandboxProtocol

/// A piece of the program's output, in the order it was read.
public struct OutputChunk: Sendable, Equatable {
    public enum Stream: String, Sendable, Codable {
        case stdout
        case stderr
    }

    public var stream: Stream
    public var bytes: [UInt8]

    public init(stream: Stream, bytes: [UInt8]) {
        self.stream = stream
        self.bytes = bytes
    }
}

/// What a run's output stream carries: the program's text, its rich
/// results and its blocking reads of stdin, in the order it wrote them.
public enum RunOutput: Sendable, Equatable {
    case text(OutputChunk)
    case display(Display)
    /// The program blocks reading stdin with nothing to read (once per chunk of stdin sent).
    case stdinWanted

    public var text: OutputChunk? {
        if case .text(let chunk) = self { return chunk }
        return nil
    }
}

/// One rich result of the program's (`display()`, `plt.show()`): a MIME
/// bundle checked against `DisplayMIME`, with `text/plain` always present.
public struct Display: Sendable, Equatable {
    public var data: [String: JSONValue]
    public var metadata: [String: JSONValue]?
    /// Its size as the program wrote it, counted toward the output limit.
    public var bytes: Int

    public init(data: [String: JSONValue], metadata: [String: JSONValue]? = nil, bytes: Int) {
        self.data = data
        self.metadata = metadata
        self.bytes = bytes
    }
}
