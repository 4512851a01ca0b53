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
    /// Each tenant's rate, quota and usage on this node.
    let accounts: TenantAccounts
    /// With `--tenants`: the tenants as the last (re)load of the file has them.
    let tenants: TenantBook?
    /// `--audit-log`: a line per run ended or refused.
    let audit: AuditLog?
    let logger: Logger

    /// Passes a run's events to `client`, counting them, and writes its audit line when it ends.
    func observer(for client: any RunObserver, origin: AuditOrigin) -> MeteredObserver {
        MeteredObserver(client: client, metrics: metrics, audit: audit.map { ($0, origin) })
    }

    /// A run refused before it was accepted, for the audit log: `code` when its params had one.
    func refused(run: JSONValue, code: String?, tenant: Tenant, origin: AuditOrigin, _ error: RPCError) {
        audit?.refused(run: run, code: code, tenant: tenant.name, origin: origin, error)
    }

    /// Ends `job` with `cancelled`, wherever it is: waiting in its session,
    /// in the scheduler's queue, or running (a session's run is interrupted).
    func cancel(_ job: RunJob) async {
        if job.session?.cancelWaiting(job) == true || packages.cancelInstalling(job) { return }
        job.requestCancel()
        _ = await scheduler.cancelWaiting(job)
    }
}
