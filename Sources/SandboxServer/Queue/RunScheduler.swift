import Logging
import SandboxRuntime
import SandboxProtocol

/// Admits runs and starts them on free workers, round-robin between
/// tenants and, within a tenant, between its clients, with a bounded
/// number waiting; a tenant's runs beyond its `maxConcurrentRuns` wait in
/// its lane, which holds at most the tenant's share of the queue. On shutdown it stops admitting,
/// lets what was admitted finish within a grace period, and cancels the rest.
actor RunScheduler {
    private let workers: Int
    private let capacity: Int
    /// The places of the queue one tenant's runs may hold when its own
    /// `maxQueuedRuns` does not say: with several tenants, half of them.
    private let tenantShare: Int
    private let executor: RunExecutor
    private let metrics: ServerMetrics
    private var queue = TenantQueue<String, ClientID, RunJob>()
    private var running: [ObjectIdentifier: RunJob] = [:]
    /// Runs holding a worker, by tenant, against each tenant's cap (as its latest run brought it).
    private var runningByTenant: [String: Int] = [:]
    private var caps: [String: Int] = [:]
    private var accepting = true
    /// `run()` takes started jobs; once it has stopped, a job that would start ends `cancelled`.
    private var dispatching = true
    private var dispatched: Set<ObjectIdentifier> = []
    /// A job ended or was dropped: a shutdown waiting for the queue to drain looks again.
    private let jobsChanged = EventCount()
    /// Recent run durations (exponentially weighted), for retry hints.
    private var averageRunMs = 100.0
    private let starts: AsyncStream<RunJob>.Continuation
    private let startStream: AsyncStream<RunJob>

    init(workers: Int, capacity: Int, tenantShare: Int? = nil, executor: RunExecutor, metrics: ServerMetrics) {
        self.metrics = metrics
        self.workers = workers
        self.capacity = capacity
        self.tenantShare = tenantShare ?? capacity
        self.executor = executor
        let (stream, continuation) = AsyncStream.makeStream(of: RunJob.self)
        startStream = stream
        starts = continuation
    }

    var isAccepting: Bool { accepting }
    /// A run submitted now would be refused.
    var isFull: Bool { running.count >= workers && queue.count >= capacity }

    /// Admits `job` or says why not. A queued job learns its position before
    /// this returns. `admittedEarlier`: a session's run that was accepted
    /// while another of its session ran, and now reaches the queue: the
    /// queue's capacity does not refuse it.
    func submit(_ job: RunJob, admittedEarlier: Bool = false) throws(RPCError) {
        guard accepting else { throw RPCError(.shuttingDown, "no new runs are accepted") }
        if job.cancelRequested {
            // Cancelled on its way here (a session's run, as its session closed): it waits for no worker.
            job.finishWithoutRunning(.cancelled)
            return
        }
        let tenant = job.account.name
        caps[tenant] = job.account.maxConcurrentRuns
        // Whatever waits while a worker is free waits for its tenant's cap, which is not this run's (`dispatch`).
        if running.count < workers && !isAtCap(tenant) && queue.waiting(of: tenant) == 0 {
            begin(job)
            return
        }
        guard !admittedEarlier else { return enqueue(job) }
        guard queue.count < capacity else {
            throw RPCError(.queueFull, "\(queue.count) runs are waiting; retry later", data: .object(["retryAfterMs": retryAfter(queue.count)]))
        }
        let share = job.account.maxQueuedRuns ?? tenantShare
        let waiting = queue.waiting(of: tenant)
        guard waiting < share else {
            throw RPCError(
                .queueFull, "tenant \(tenant) has \(waiting) runs waiting, its share of the queue; retry later",
                data: .object(["retryAfterMs": retryAfter(waiting), "scope": .string("tenant \(tenant)"), "limit": .integer(Int64(share))]))
        }
        enqueue(job)
    }

    private func enqueue(_ job: RunJob) {
        let position = queue.push(job, tenant: job.account.name, client: job.client)
        metrics.queueDepth(queue.count)
        job.observer.queued(job, position: position)
    }

    /// Ends a waiting job with `cancelled`; false if it is not waiting (any more).
    func cancelWaiting(_ job: RunJob) -> Bool {
        guard queue.remove(tenant: job.account.name, client: job.client, where: { $0 === job }) != nil else { return false }
        metrics.queueDepth(queue.count)
        job.finishWithoutRunning(.cancelled)
        jobsChanged.notifyAll()
        return true
    }

    /// Executes started jobs, each as a child task, until `shutDown` is
    /// done. Cancelled, it stops taking jobs and its running jobs are
    /// cancelled (each kills its sandbox); every job still gets its verdict.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await job in startStream {
                dispatched.insert(ObjectIdentifier(job))
                group.addTask {
                    let started = ContinuousClock.now
                    await self.executor.execute(job)
                    await self.jobEnded(job, after: milliseconds(since: started))
                }
            }
            stopDispatching()
        }
    }

    /// Stops admitting; waits up to `grace` for admitted runs, then cancels
    /// what is left and waits for those verdicts.
    func shutDown(grace: Duration) async {
        accepting = false
        await withTaskGroup(of: Void.self) { deadline in
            deadline.addTask {
                try? await Task.sleep(for: grace)
                await self.cancelRemaining()
            }
            await idle()
            deadline.cancelAll()
        }
        starts.finish()
    }

    /// About how long `waiting` runs take to clear the workers, for a refusal's hint.
    private func retryAfter(_ waiting: Int) -> JSONValue {
        .integer(Int64(Int(averageRunMs * Double(waiting) / Double(workers)).clamped(to: 100...30_000)))
    }

    private func begin(_ job: RunJob) {
        guard dispatching else {
            job.finishWithoutRunning(.cancelled)
            return
        }
        running[ObjectIdentifier(job)] = job
        runningByTenant[job.account.name, default: 0] += 1
        starts.yield(job)
    }

    private func isAtCap(_ tenant: String) -> Bool {
        guard let cap = caps[tenant] else { return false }
        return runningByTenant[tenant, default: 0] >= cap
    }

    private func jobEnded(_ job: RunJob, after durationMs: Int) {
        forget(job)
        dispatched.remove(ObjectIdentifier(job))
        averageRunMs = averageRunMs * 0.9 + Double(durationMs) * 0.1
        dispatch()
        metrics.queueDepth(queue.count)
        jobsChanged.notifyAll()
    }

    private func forget(_ job: RunJob) {
        guard running.removeValue(forKey: ObjectIdentifier(job)) != nil else { return }
        let left = runningByTenant[job.account.name, default: 1] - 1
        runningByTenant[job.account.name] = left > 0 ? left : nil
    }

    /// Starts waiting runs on the free workers, passing over tenants at their cap.
    private func dispatch() {
        while running.count < workers, let next = queue.pop(passingOver: isAtCap) { begin(next) }
    }

    /// Ends what `run()` will never execute: the jobs started but not taken.
    private func stopDispatching() {
        dispatching = false
        starts.finish()
        for (key, job) in running where !dispatched.contains(key) {
            forget(job)
            job.finishWithoutRunning(.cancelled)
        }
        jobsChanged.notifyAll()
    }

    private func cancelRemaining() {
        for job in queue.removeAll() { job.finishWithoutRunning(.cancelled) }
        metrics.queueDepth(queue.count)
        for job in running.values { job.requestCancel() }
        jobsChanged.notifyAll()
    }

    private var isIdle: Bool { running.isEmpty && queue.isEmpty }

    /// Returns once nothing is queued or running.
    private func idle() async {
        await jobsChanged.wait(until: { isIdle })
    }
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
