import SandboxProtocol
import Synchronization

/// Collects the stdout of a run of one of the service's helpers (the
/// editor's, the files API's, a fork's), whose stdout is its answer, up to
/// `limit` bytes, and hands it over with the verdict when the run ends: once.
final class HelperRunObserver: RunObserver {
    typealias Outcome = Result<(stdout: [UInt8], verdict: RunResult), RPCError>

    private let limit: Int
    private let ended: @Sendable (RunJob, Outcome) -> Void
    private let stdout = Mutex<[UInt8]>([])

    init(limit: Int, ended: @escaping @Sendable (RunJob, Outcome) -> Void) {
        self.limit = limit
        self.ended = ended
    }

    func queued(_ job: RunJob, position: Int) {}
    func running(_ job: RunJob) {}
    func display(_ job: RunJob, _ display: RunDisplayParams) {}

    func output(_ job: RunJob, _ output: RunOutputParams) {
        guard output.stream == .stdout else { return }
        stdout.withLock { bytes in
            if bytes.count < limit { bytes += output.text.utf8.prefix(limit - bytes.count) }
        }
    }

    func finished(_ job: RunJob, _ result: RunResult) {
        ended(job, .success((stdout.withLock { $0 }, result)))
    }

    func refused(_ job: RunJob, _ error: RPCError) {
        ended(job, .failure(error))
    }
}
