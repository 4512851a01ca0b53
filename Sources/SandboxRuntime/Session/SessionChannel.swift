import NIOCore
import NIOPosix
import SandboxSteps

#if canImport(Glibc)
import Glibc
#endif

/// The service's end of a session's request channel (fd 3 in the
/// sandbox), a unix stream socket: first `session` and `rollback` or `end`, then each cell as
/// `length LF`, with the cell's stdin, pip-answer and request descriptors
/// attached (the bootstrap's `serve_session`).
struct SessionChannel: Sendable {
    let fd: CInt

    struct Failure: Error, CustomStringConvertible {
        var errno: CInt
        var description: String { "the session's request channel: \(String(cString: strerror(errno)))" }
    }

    /// The session's first words: that it is one, and what a failed cell does to it.
    func open(rollsBack: Bool) {
        let word = Array((rollsBack ? "session\nrollback\n" : "session\nend\n").utf8)
        _ = word.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
    }

    /// Sends one cell: its length line with `descriptors` (closed here: its
    /// stdin, and the pipe pip's answers come on) and a pipe the request
    /// comes on, written from the thread pool (it may be megabytes) while
    /// the bootstrap reads it. On a pipe of its own, a request the cell's
    /// rollback cuts short leaves nothing on the channel.
    func send(_ body: [UInt8], descriptors: [CInt]) async throws {
        let channel = fd
        let bodyPipe: ClosingPipe
        do {
            bodyPipe = try ClosingPipe()
        } catch {
            descriptors.forEach { Glibc.close($0) }
            throw Failure(errno: EMFILE)
        }
        let passed = descriptors + [bodyPipe.readEnd]
        let header = Array("\(body.count)\n".utf8)
        let sent = header.withUnsafeBytes { bytes in
            passed.withUnsafeBufferPointer { send_with_fds(channel, bytes.baseAddress, bytes.count, $0.baseAddress, CInt($0.count)) }
        }
        let sendError = errno
        passed.forEach { Glibc.close($0) }
        guard sent == 0 else { throw Failure(errno: sendError) }
        await PipeIO.writeAll(body, to: bodyPipe.writeEnd)
    }

    func close() {
        Glibc.close(fd)
    }
}
