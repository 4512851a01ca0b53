import CSandboxSupport

#if canImport(Glibc)
import Glibc
#endif

/// A pipe whose both ends are close-on-exec, so a concurrent spawn never
/// inherits it: a leaked write end would keep a run's output open forever.
struct ClosingPipe {
    let readEnd: CInt
    let writeEnd: CInt

    init() throws(SpawnError) {
        var fds: [CInt] = [-1, -1]
        guard sandbox_pipe_cloexec(&fds) == 0 else { throw SpawnError(step: "pipe2", errno: errno) }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    private init(readEnd: CInt, writeEnd: CInt) {
        self.readEnd = readEnd
        self.writeEnd = writeEnd
    }

    /// A unix stream socket pair in a pipe's place: it also carries descriptors.
    static func streamSocket() throws(SpawnError) -> ClosingPipe {
        var fds: [CInt] = [-1, -1]
        guard socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SpawnError(step: "socketpair", errno: errno)
        }
        return ClosingPipe(readEnd: fds[1], writeEnd: fds[0])
    }

    func closeBoth() {
        close(readEnd)
        close(writeEnd)
    }
}

struct SpawnError: Error, CustomStringConvertible {
    var step: String
    var errno: Int32
    var description: String { "\(step) failed: \(String(cString: strerror(errno)))" }
}
