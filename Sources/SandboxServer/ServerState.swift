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
    let sessions: SessionService
    let packages: PackageService
    let logger: Logger

    /// Ends `job` with `cancelled`, wherever it is: waiting in its session,
    /// in the scheduler's queue, or running (a session's run is interrupted).
    func cancel(_ job: RunJob) async {
        if job.session?.cancelWaiting(job) == true || packages.cancelInstalling(job) { return }
        job.requestCancel()
        _ = await scheduler.cancelWaiting(job)
    }
}
