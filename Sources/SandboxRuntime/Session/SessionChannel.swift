import NIOCore
import NIOPosix
import SandboxSteps

#if canImport(Glibc)
import Glibc
#endif

/// The service's end of a session's request channel (fd 3 in the
/// sandbox), a unix stream socket: first `session`, then each cell as
/// `length LF request`, with the cell's stdin and pip-answer descriptors
/// attached to its length line (the bootstrap's `serve_session`).
struct SessionChannel: Sendable {
    let fd: CInt

    struct Failure: Error, CustomStringConvertible {
        var errno: CInt
        var description: String { "the session's request channel: \(String(cString: strerror(errno)))" }
    }

    func open() {
        let word = Array("session\n".utf8)
        _ = word.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
    }

    /// Sends one cell and hands it `descriptors` (closed here): its stdin,
    /// and the pipe pip's answers come on. The body may be megabytes:
    /// written from the thread pool, the bootstrap reading it.
    func send(_ body: [UInt8], descriptors: [CInt]) async throws {
        let channel = fd
        let header = Array("\(body.count)\n".utf8)
        let sent = header.withUnsafeBytes { bytes in
            descriptors.withUnsafeBufferPointer { send_with_fds(channel, bytes.baseAddress, bytes.count, $0.baseAddress, CInt($0.count)) }
        }
        let sendError = errno
        descriptors.forEach { Glibc.close($0) }
        guard sent == 0 else { throw Failure(errno: sendError) }
        try await NIOThreadPool.singleton.runIfActive {
            var written = 0
            while written < body.count {
                let count = body[written...].withUnsafeBytes { Glibc.send(channel, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw Failure(errno: errno)
                }
                written += count
            }
        }
    }

    func close() {
        Glibc.close(fd)
    }
}
