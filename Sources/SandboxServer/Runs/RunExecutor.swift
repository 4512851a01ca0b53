import Logging
import SandboxProtocol
import SandboxRuntime

/// Runs one admitted job in a sandbox from the pool and reports to its observer.
struct RunExecutor: Sendable {
    let pools: WarmPools
    /// Answers the program's `pip install`; nil: packages are off, and the sandbox's pip says so.
    var pip: PipInstaller?
    let logger: Logger
    /// How long a run with tests may go on starting tests (`TestBatch.budget`).
    var testsBudget: Duration = .seconds(60)

    /// Cancelling the calling task cancels the run; it still ends with its verdict.
    func execute(_ job: RunJob) async {
        await withTaskCancellationHandler {
            await takeSandbox(for: job)
        } onCancel: {
            job.requestCancel()
        }
    }

    private func takeSandbox(for job: RunJob) async {
        if job.cancelRequested {
            job.finishWithoutRunning(.cancelled)
            return
        }
        if let session = job.session {
            await run(job, in: session)
            return
        }
        if !job.tests.isEmpty {
            job.finish(await TestBatch(job: job, pools: pools, budget: testsBudget).run())
            return
        }
        let limits = job.request.limits
        let pool = await pools.pool(for: limits)
        let sandbox: any SandboxRun
        do {
            sandbox = try await pool.take(for: limits)
        } catch {
            logger.error("could not launch a sandbox", metadata: ["error": "\(error)"])
            job.finishWithoutRunning(.internalError, message: "could not launch a sandbox: \(error)")
            return
        }
        await run(job, in: sandbox)
        await pool.runEnded()
    }

    /// A session's run: a cell of its sandbox, started at once (the session
    /// is warm); a session that has ended runs nothing more.
    private func run(_ job: RunJob, in session: ServerSession) async {
        let cell: any SandboxRun
        do {
            cell = try session.sandbox.start(request(of: job))
        } catch {
            job.finishWithoutRunning(.cancelled, message: "the session ended")
            return
        }
        guard job.attach(cell) else {
            cell.cancel()
            _ = await cell.verdict()
            job.finishWithoutRunning(.cancelled)
            return
        }
        await deliver(job, from: cell)
    }

    private func run(_ job: RunJob, in sandbox: any SandboxRun) async {
        guard job.attach(sandbox) else {
            sandbox.cancel()
            job.finishWithoutRunning(.cancelled)
            return
        }
        do {
            try sandbox.start(request(of: job))
        } catch {
            sandbox.cancel()
            _ = await sandbox.verdict()
            job.finishWithoutRunning(.internalError, message: error.message)
            return
        }
        await deliver(job, from: sandbox)
    }

    private func request(of job: RunJob) -> RunRequest {
        var request = job.request
        request.answersPip = pip != nil
        return request
    }

    /// Streams a started run's output to its observer, then its verdict.
    /// Meanwhile its `pip install`s are served; the layers they mounted in a
    /// one-off run are given back after the verdict (a session's, when it ends).
    private func deliver(_ job: RunJob, from sandbox: any SandboxRun) async {
        let queuedMs = milliseconds(since: job.accepted)
        job.observer.running(job)
        let coalescer = OutputCoalescer { message in
            switch message {
            case .output(let stream, let text, let seq):
                job.observer.output(job, RunOutputParams(id: job.id, stream: stream, text: text, seq: seq))
            case .display(let display, let seq):
                job.observer.display(job, RunDisplayParams(id: job.id, seq: seq, data: display.data, metadata: display.metadata))
            case .stdinWanted:
                job.observer.stdinWanted(job)
            }
        }
        let holding = job.session?.packages ?? job.packages
        await withDiscardingTaskGroup { group in
            if let pip {
                group.addTask { await pip.serve(sandbox.packageRequests, holding: holding, run: "\(job.id)", tenant: job.account.tenant) }
            }
            await coalescer.forward(sandbox.output)
            let verdict = await sandbox.verdict()
            job.finish(RunResult(verdict, queuedMs: queuedMs))
            // An install still under way for it is no one's now: the worker is not held for it.
            group.cancelAll()
        }
        if job.session == nil { await pip?.release(holding) }
    }
}
