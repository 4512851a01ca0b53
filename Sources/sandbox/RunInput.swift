import Foundation
import SandboxProtocol

#if canImport(Glibc)
import Glibc
#endif

/// What the CLI gives a run on stdin (its `stdin` or `interactive` param).
enum RunInput {
    /// Nothing: `input()` raises EOFError at once.
    case none
    /// This text, then end of file.
    case text(String)
    /// The CLI's own stdin, forwarded as it arrives (`run/stdin`), then end of file.
    case forwarded

    /// A terminal, pipe or socket is forwarded as it arrives; a regular file
    /// is sent whole; anything else (e.g. /dev/null) gives nothing.
    static func ofStandardInput() -> RunInput {
        var status = stat()
        guard fstat(STDIN_FILENO, &status) == 0 else { return .none }
        let kind = status.st_mode & S_IFMT
        if isatty(STDIN_FILENO) != 0 || kind == S_IFIFO || kind == S_IFSOCK { return .forwarded }
        if kind == S_IFREG {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            return .text(String(decoding: data, as: UTF8.self))
        }
        return .none
    }
}

/// Reads the CLI's stdin on a thread of its own (reads block) and hands it
/// on in UTF-8 text pieces that never split a character.
enum StandardInputReader {
    static func chunks() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let thread = Thread {
            var chunker = UTF8Chunker()
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                let text = chunker.append(Array(buffer[..<count]))
                if !text.isEmpty { continuation.yield(text) }
            }
            let rest = chunker.finish()
            if !rest.isEmpty { continuation.yield(rest) }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}
