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
