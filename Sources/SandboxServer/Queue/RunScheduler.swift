import Logging
import SandboxProtocol

/// Admits runs and starts them on free workers, round-robin between
/// clients, with a bounded number waiting. On shutdown it stops admitting,
/// lets what was admitted finish within a grace period, and cancels the rest.
actor RunScheduler {
    private let workers: Int
    private let capacity: Int
    private let executor: RunExecutor
    private let metrics: ServerMetrics
    private var queue = FairQueue<ClientID, RunJob>()
    private var running: [ObjectIdentifier: RunJob] = [:]
    private var accepting = true
    /// Recent run durations (exponentially weighted), for retry hints.
    private var averageRunMs = 100.0
    private let starts: AsyncStream<RunJob>.Continuation
    private let startStream: AsyncStream<RunJob>

    init(workers: Int, capacity: Int, executor: RunExecutor, metrics: ServerMetrics) {
        self.metrics = metrics
        self.workers = workers
        self.capacity = capacity
        self.executor = executor
        let (stream, continuation) = AsyncStream.makeStream(of: RunJob.self)
        startStream = stream
        starts = continuation
    }

    var isAccepting: Bool { accepting }
    /// A run submitted now would be refused.
    var isFull: Bool { running.count >= workers && queue.count >= capacity }

    /// Admits `job` or says why not. A queued job learns its position before this returns.
    func submit(_ job: RunJob) throws(RPCError) {
        guard accepting else { throw RPCError(.shuttingDown, "no new runs are accepted") }
        if running.count < workers && queue.isEmpty {
            begin(job)
            return
        }
        guard queue.count < capacity else {
            let retryAfterMs = Int(averageRunMs * Double(queue.count) / Double(workers)).clamped(to: 100...30_000)
            throw RPCError(.queueFull, "\(queue.count) runs are waiting; retry later", data: .object(["retryAfterMs": .integer(Int64(retryAfterMs))]))
        }
        let position = queue.push(job, owner: job.client)
        metrics.queueDepth(queue.count)
        job.observer.queued(job, position: position)
    }

    /// Ends a waiting job with `cancelled`; false if it is not waiting (any more).
    func cancelWaiting(_ job: RunJob) -> Bool {
        guard queue.remove(owner: job.client, where: { $0 === job }) != nil else { return false }
        metrics.queueDepth(queue.count)
        job.finishWithoutRunning(.cancelled)
        return true
    }

    /// Starts admitted jobs until `shutDown` is done. Every started job runs as a child task.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await job in startStream {
                group.addTask {
                    let started = ContinuousClock.now
                    await self.executor.execute(job)
                    await self.jobEnded(job, after: milliseconds(since: started))
                }
            }
        }
    }

    /// Stops admitting; waits up to `grace` for admitted runs, then cancels
    /// what is left and waits for those verdicts.
    func shutDown(grace: Duration) async {
        accepting = false
        await waitUntilIdle(deadline: .now + grace)
        for job in queue.removeAll() { job.finishWithoutRunning(.cancelled) }
        for job in running.values { job.requestCancel() }
        await waitUntilIdle(deadline: .now + .seconds(30))
        starts.finish()
    }

    private func begin(_ job: RunJob) {
        running[ObjectIdentifier(job)] = job
        starts.yield(job)
    }

    private func jobEnded(_ job: RunJob, after durationMs: Int) {
        running[ObjectIdentifier(job)] = nil
        averageRunMs = averageRunMs * 0.9 + Double(durationMs) * 0.1
        if let next = queue.pop() { begin(next) }
        metrics.queueDepth(queue.count)
    }

    /// Returns when nothing is queued or running, or at `deadline`. Polls:
    /// this happens once, at shutdown.
    private func waitUntilIdle(deadline: ContinuousClock.Instant) async {
        while !(running.isEmpty && queue.isEmpty) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
