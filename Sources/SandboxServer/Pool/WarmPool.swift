import Logging
import SandboxRuntime

/// Sandboxes launched ahead of demand, each with its interpreter loaded and
/// waiting for a program. Each serves one run and is then gone; the pool
/// launches a replacement in the background. Runs whose limits differ from
/// the pool's get a sandbox launched for them.
actor WarmPool {
    let provider: any SandboxProvider
    /// What warm sandboxes are launched with.
    let limits: RunLimits
    private let target: Int
    private let logger: Logger
    private let metrics: ServerMetrics
    /// Whether this pool's count is `pysandbox_warm_sandboxes_ready` (the plain pool's).
    private let reportsReady: Bool
    private var ready: [any SandboxRun] = []
    private var launching = 0
    private var stopped = false
    private var consecutiveFailures = 0
    private let refills: AsyncStream<Void>.Continuation
    private let refillRequests: AsyncStream<Void>

    /// A sandbox that is not ready this long after launch is discarded.
    static let readyTimeout = Duration.seconds(10)

    init(
        provider: any SandboxProvider, limits: RunLimits, target: Int, logger: Logger, metrics: ServerMetrics,
        reportsReady: Bool = true
    ) {
        self.metrics = metrics
        self.reportsReady = reportsReady
        self.provider = provider
        self.limits = limits
        self.target = target
        self.logger = logger
        let (requests, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        refillRequests = requests
        refills = continuation
    }

    /// A sandbox for a run with `runLimits`: a warm one when the limits fit
    /// and one is ready, otherwise one launched now (it loads while the run
    /// waits). The replacement is launched when the run has ended
    /// (`runEnded`): launching takes kernel locks (cgroup migration) that
    /// would slow the run down.
    func take(for runLimits: RunLimits) throws -> any SandboxRun {
        guard runLimits.fits(launchedWith: limits) else { return try provider.launch(limits: runLimits) }
        if !ready.isEmpty {
            defer { if reportsReady { metrics.warmReady(ready.count) } }
            return ready.removeFirst()
        }
        return try provider.launch(limits: limits)
    }

    /// Sandboxes ready to be taken now.
    var readyCount: Int { ready.count }

    /// A run has ended: time to launch its replacement.
    func runEnded() {
        refills.yield()
    }

    /// Keeps `target` sandboxes ready until `stop`.
    func run() async {
        refills.yield()
        await withDiscardingTaskGroup { group in
            for await _ in refillRequests {
                while !stopped && ready.count + launching < target {
                    let launched: any SandboxRun
                    do {
                        launched = try provider.launch(limits: limits)
                    } catch {
                        logger.error("could not launch a warm sandbox", metadata: ["error": "\(error)"])
                        break
                    }
                    launching += 1
                    group.addTask { await self.waitUntilReady(launched) }
                }
            }
        }
        // Reap what is left, so no launcher outlives the service.
        let discarded = ready
        ready = []
        for sandbox in discarded { sandbox.cancel() }
        for sandbox in discarded { _ = await sandbox.verdict() }
    }

    /// Stops refilling and discards the sandboxes that are ready.
    func stop() {
        stopped = true
        refills.finish()
    }

    private func waitUntilReady(_ launched: any SandboxRun) async {
        let launchedAt = ContinuousClock.now
        let isReady = await withTaskGroup(of: Bool?.self) { group in
            group.addTask { await launched.ready() }
            group.addTask {
                try? await Task.sleep(for: Self.readyTimeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? false
        }
        if isReady {
            metrics.sandboxStarted(after: .now - launchedAt)
            if !arrived(launched) {
                launched.cancel()
                _ = await launched.verdict()
            }
            return
        }
        launched.cancel()
        let verdict = await launched.verdict()
        if stopped || Task.isCancelled {
            launching -= 1  // discarded at shutdown, not a failure
            return
        }
        let backoff = failed(message: verdict.message ?? "the sandbox did not become ready (\(verdict.status.rawValue))")
        try? await Task.sleep(for: backoff)
        refills.yield()
    }

    /// Keeps a sandbox that became ready; false once the pool has stopped.
    private func arrived(_ launched: any SandboxRun) -> Bool {
        launching -= 1
        consecutiveFailures = 0
        guard !stopped else { return false }
        ready.append(launched)
        if reportsReady { metrics.warmReady(ready.count) }
        return true
    }

    /// Counts a failed launch; returns how long to wait before the next (doubling, at most 5 s).
    private func failed(message: String) -> Duration {
        launching -= 1
        consecutiveFailures += 1
        logger.error("warm sandbox failed to start", metadata: ["message": "\(message)", "failures": "\(consecutiveFailures)"])
        return .milliseconds(min(5000, 50 << min(consecutiveFailures, 7)))
    }
}
