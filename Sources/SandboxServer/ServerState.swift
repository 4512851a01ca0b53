import Logging
import SandboxProtocol

/// What every connection and HTTP request of one server shares.
struct ServerState: Sendable {
    let configuration: ServerConfiguration
    let scheduler: RunScheduler
    let admission: RunAdmission
    let info: InitializeResult
    let limits: ClientLimits
    let metrics: ServerMetrics
    let logger: Logger

    /// Ends `job` with `cancelled`, wherever it is.
    func cancel(_ job: RunJob) async {
        job.requestCancel()
        _ = await scheduler.cancelWaiting(job)
    }
}
