import SandboxProtocol

/// Passes a run's events on to its client, counting them on the way, and
/// writes the run's audit line when it ends.
struct MeteredObserver: RunObserver {
    let client: any RunObserver
    let metrics: ServerMetrics
    let audit: (log: AuditLog, origin: AuditOrigin)?

    func installing(_ job: RunJob) { client.installing(job) }

    func queued(_ job: RunJob, position: Int) { client.queued(job, position: position) }

    func running(_ job: RunJob) { client.running(job) }

    func output(_ job: RunJob, _ output: RunOutputParams) {
        metrics.streamed(output.text.utf8.count, stream: output.stream.rawValue)
        client.output(job, output)
    }

    func display(_ job: RunJob, _ display: RunDisplayParams) {
        metrics.displayed()
        client.display(job, display)
    }

    func stdinWanted(_ job: RunJob) { client.stdinWanted(job) }

    func tested(_ job: RunJob, _ test: RunTestParams) { client.tested(job, test) }

    func finished(_ job: RunJob, _ result: RunResult) {
        metrics.runFinished(result, tenant: job.account.name)
        client.finished(job, result)
        if let audit { audit.log.ended(job, result, origin: audit.origin) }
    }

    func refused(_ job: RunJob, _ error: RPCError) {
        metrics.rejected(RPCErrorCode(rawValue: error.code)?.phrase.lowercased() ?? "other", tenant: job.account.name)
        client.refused(job, error)
        if let audit { audit.log.refused(job, error, origin: audit.origin) }
    }
}
