import Logging
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

@testable import SandboxServer

/// What a run told its observer, in order.
final class RecordingObserver: RunObserver {
    enum Event: Equatable {
        case queued(Int)
        case running
        case output(String)
        case display(seq: Int)
        case finished(String)
        case refused(Int)
    }

    private let events = Mutex<[String: [Event]]>([:])
    private let finishedRuns = AsyncStream<String>.makeStream()

    func queued(_ job: RunJob, position: Int) { record(job, .queued(position)) }
    func running(_ job: RunJob) { record(job, .running) }
    func output(_ job: RunJob, _ output: RunOutputParams) { record(job, .output(output.text)) }
    func display(_ job: RunJob, _ display: RunDisplayParams) { record(job, .display(seq: display.seq)) }
    func finished(_ job: RunJob, _ result: RunResult) {
        record(job, .finished(result.status.rawValue))
        finishedRuns.continuation.yield("\(job.id)")
    }
    func refused(_ job: RunJob, _ error: RPCError) {
        record(job, .refused(error.code))
        finishedRuns.continuation.yield("\(job.id)")
    }

    private func record(_ job: RunJob, _ event: Event) { events.withLock { $0["\(job.id)", default: []].append(event) } }

    func events(of id: Int) -> [Event] { events.withLock { $0["\(JSONValue.integer(Int64(id)))"] ?? [] } }

    /// Waits until run `id` has its sandbox.
    func waitUntilRunning(_ id: Int) async {
        while !events(of: id).contains(.running) { try? await Task.sleep(for: .milliseconds(1)) }
    }

    /// Waits until `count` runs have finished.
    func waitForFinished(_ count: Int) async {
        var seen = 0
        for await _ in finishedRuns.stream {
            seen += 1
            if seen == count { return }
        }
    }
}

@Suite("Scheduling runs on a fake provider")
struct RunSchedulingTests {
    static let logger = Logger(label: "test")

    static let defaultAccount = TenantAccount(AccessPolicy.defaultTenant)

    func job(
        _ id: Int, _ code: String, client: ClientID, observer: RecordingObserver, account: TenantAccount = Self.defaultAccount
    ) -> RunJob {
        RunJob(
            id: .integer(Int64(id)), client: client, account: account, request: RunRequest(code: code), initialStdin: nil,
            observer: observer)
    }

    /// Runs `body` with a scheduler and a warm pool on `provider`, both running.
    func withScheduler(
        workers: Int, capacity: Int, tenantShare: Int? = nil, provider: FakeSandboxProvider,
        _ body: (RunScheduler, WarmPool) async throws -> Void
    ) async rethrows {
        let metrics = ServerMetrics(node: "test")
        let pool = WarmPool(provider: provider, limits: RunLimits(), target: workers, logger: Self.logger, metrics: metrics)
        let scheduler = RunScheduler(
            workers: workers, capacity: capacity, tenantShare: tenantShare, executor: RunExecutor(pools: WarmPools(plain: pool), logger: Self.logger), metrics: metrics)
        async let refilling: Void = pool.run()
        async let scheduling: Void = scheduler.run()
        try await body(scheduler, pool)
        await scheduler.shutDown(grace: .seconds(1))
        await pool.stop()
        await scheduling
        await refilling
    }

    @Test func aRunGoesFromRunningThroughOutputToOneVerdict() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        try await withScheduler(workers: 1, capacity: 4, provider: provider) { scheduler, _ in
            try await scheduler.submit(job(1, "print('hi')", client: .make(), observer: observer))
            await observer.waitForFinished(1)
        }
        #expect(observer.events(of: 1) == [.running, .output("print('hi')"), .finished("ok")])
    }

    @Test func runsBeyondTheWorkersWaitTheirTurnAndAFullQueueRefuses() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        try await withScheduler(workers: 1, capacity: 1, provider: provider) { scheduler, _ in
            let client = ClientID.make()
            let hanging = job(1, "hang", client: client, observer: observer)
            try await scheduler.submit(hanging)
            try await scheduler.submit(job(2, "second", client: client, observer: observer))
            await #expect(throws: RPCError.self) { try await scheduler.submit(job(3, "third", client: client, observer: observer)) }
            #expect(observer.events(of: 2) == [.queued(0)])
            await observer.waitUntilRunning(1)
            hanging.requestCancel()
            await observer.waitForFinished(2)
        }
        #expect(observer.events(of: 1).last == .finished("cancelled"))
        #expect(observer.events(of: 2) == [.queued(0), .running, .output("second"), .finished("ok")])
    }

    /// A tenant's runs beyond its `maxConcurrentRuns` wait in its lane
    /// while free workers serve other tenants; its next starts when one of its own ends.
    @Test func aTenantAtItsConcurrencyCapWaitsWhileOthersUseTheFreeWorkers() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        let capped = TenantAccount(Tenant(name: "capped", tokenDigests: [], maxConcurrentRuns: 1))
        let other = TenantAccount(Tenant(name: "other", tokenDigests: []))
        try await withScheduler(workers: 3, capacity: 8, provider: provider) { scheduler, _ in
            let first = job(1, "hang", client: .make(), observer: observer, account: capped)
            try await scheduler.submit(first)
            try await scheduler.submit(job(2, "second", client: .make(), observer: observer, account: capped))
            try await scheduler.submit(job(3, "other", client: .make(), observer: observer, account: other))
            await observer.waitForFinished(1)
            #expect(observer.events(of: 3) == [.running, .output("other"), .finished("ok")], "a free worker served the other tenant")
            #expect(observer.events(of: 2) == [.queued(0)], "the capped tenant's second run waits for its first")
            first.requestCancel()
            await observer.waitForFinished(2)
        }
        #expect(observer.events(of: 2) == [.queued(0), .running, .output("second"), .finished("ok")])
    }

    /// A tenant's waiting runs hold at most its share of the queue (half by
    /// default, or its `maxQueuedRuns`): past it, its runs are refused with
    /// the tenant as the scope, and other tenants' runs still find places.
    @Test func aTenantFillsOnlyItsShareOfTheQueue() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        let greedy = TenantAccount(Tenant(name: "greedy", tokenDigests: [], maxConcurrentRuns: 1))
        let narrow = TenantAccount(Tenant(name: "narrow", tokenDigests: [], maxQueuedRuns: 1))
        let other = TenantAccount(Tenant(name: "other", tokenDigests: []))
        try await withScheduler(workers: 1, capacity: 6, tenantShare: 3, provider: provider) { scheduler, _ in
            let hanging = job(1, "hang", client: .make(), observer: observer, account: greedy)
            try await scheduler.submit(hanging)
            await observer.waitUntilRunning(1)
            for id in 2...4 { try await scheduler.submit(job(id, "greedy", client: .make(), observer: observer, account: greedy)) }
            do throws(RPCError) {
                try await scheduler.submit(job(5, "greedy", client: .make(), observer: observer, account: greedy))
                Issue.record("a fourth waiting run of one tenant was taken past its share of 3")
            } catch {
                #expect(error.code == RPCErrorCode.queueFull.rawValue)
                #expect(error.data?["scope"] == .string("tenant greedy") && error.data?["limit"] == .integer(3), "\(error)")
                #expect(error.message.contains("tenant greedy has 3 runs waiting"), "\(error.message)")
            }
            try await scheduler.submit(job(6, "narrow", client: .make(), observer: observer, account: narrow))
            await #expect(throws: RPCError.self, "its own maxQueuedRuns of 1") {
                try await scheduler.submit(job(7, "narrow", client: .make(), observer: observer, account: narrow))
            }
            try await scheduler.submit(job(8, "other", client: .make(), observer: observer, account: other))
            for id in [6, 8] { #expect(observer.events(of: id).first.map { if case .queued = $0 { true } else { false } } == true) }
            hanging.requestCancel()
            await observer.waitForFinished(6)  // the hanging run, then the five that waited
        }
        #expect(observer.events(of: 5).isEmpty && observer.events(of: 7).isEmpty, "refused runs are never queued")
        for id in [2, 3, 4, 6, 8] { #expect(observer.events(of: id).last == .finished("ok"), "run \(id)") }
    }

    @Test func cancellingAWaitingRunAnswersAtOnceWithoutASandbox() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        try await withScheduler(workers: 1, capacity: 4, provider: provider) { scheduler, _ in
            let client = ClientID.make()
            let hanging = job(1, "hang", client: client, observer: observer)
            try await scheduler.submit(hanging)
            let waiting = job(2, "never", client: client, observer: observer)
            try await scheduler.submit(waiting)
            await observer.waitUntilRunning(1)
            #expect(await scheduler.cancelWaiting(waiting))
            #expect(observer.events(of: 2) == [.queued(0), .finished("cancelled")])
            hanging.requestCancel()
            await observer.waitForFinished(2)
        }
        #expect(provider.launches.filter(\.started).count == 1)  // only the hanging run got a program
    }

    /// A run cancelled before it reached the scheduler (a session's run on
    /// its way there as its session closed) is answered at once: it waits
    /// for no worker, and queues behind nobody.
    @Test func aRunCancelledBeforeItIsSubmittedWaitsForNoWorker() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        try await withScheduler(workers: 1, capacity: 4, provider: provider) { scheduler, _ in
            let client = ClientID.make()
            let hanging = job(1, "hang", client: client, observer: observer)
            try await scheduler.submit(hanging)
            await observer.waitUntilRunning(1)
            let cancelled = job(2, "never", client: client, observer: observer)
            cancelled.requestCancel()
            try await scheduler.submit(cancelled, admittedEarlier: true)
            #expect(observer.events(of: 2) == [.finished("cancelled")])
            hanging.requestCancel()
            await observer.waitForFinished(2)
        }
        #expect(provider.launches.filter(\.started).count == 1)
    }

    /// A run that uses the preloaded modules takes a sandbox from the
    /// preloading pool, which keeps one ready; every other run, the plain pool's.
    @Test func runsThatUsePreloadTakeAWarmPreloadedSandbox() async throws {
        let provider = FakeSandboxProvider()
        let pools = WarmPools(provider: provider, limits: RunLimits(), target: 2, logger: Self.logger, metrics: ServerMetrics(node: "test"))
        let preloaded = try #require(pools.preloaded)
        async let plainRefilling: Void = pools.plain.run()
        async let preloadedRefilling: Void = preloaded.run()
        while await pools.plain.readyCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
        while await preloaded.readyCount < 1 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(provider.launches.filter(\.limits.usesPreload).count == 1)
        var limits = RunLimits()
        limits.usesPreload = true
        let sandbox = try await pools.pool(for: limits).take(for: limits)
        #expect(sandbox.limits.usesPreload)
        #expect(provider.launches.count == 3, "the warm one, not a new one")
        let plain = try await pools.pool(for: RunLimits()).take(for: RunLimits())
        #expect(!plain.limits.usesPreload)
        sandbox.cancel()
        plain.cancel()
        await pools.plain.stop()
        await preloaded.stop()
        await plainRefilling
        await preloadedRefilling
    }

    @Test func theWarmPoolHandsOutReadySandboxesAndLaunchesOthersForOtherLimits() async throws {
        let provider = FakeSandboxProvider()
        try await withScheduler(workers: 2, capacity: 4, provider: provider) { _, pool in
            while await pool.readyCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
            let warm = try await pool.take(for: RunLimits())
            #expect(provider.launches.count == 2)
            #expect(provider.launches.contains { $0 === warm as AnyObject })
            var other = RunLimits()
            other.memoryBytes = 64 << 20
            let fresh = try await pool.take(for: other)
            #expect(fresh.limits.memoryBytes == 64 << 20)
            #expect(provider.launches.count == 3)
            warm.cancel()
            fresh.cancel()
            await pool.runEnded()
            while provider.launches.count < 4 { try await Task.sleep(for: .milliseconds(1)) }
        }
    }

    @Test func shutdownLetsRunsFinishWithinTheGraceThenCancelsTheRestAndRefusesNewOnes() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        try await withScheduler(workers: 1, capacity: 4, provider: provider) { scheduler, _ in
            let client = ClientID.make()
            try await scheduler.submit(job(1, "hang", client: client, observer: observer))
            try await scheduler.submit(job(2, "never", client: client, observer: observer))
            await observer.waitUntilRunning(1)
            let started = ContinuousClock.now
            await scheduler.shutDown(grace: .milliseconds(200))
            #expect(ContinuousClock.now - started >= .milliseconds(200))
            await #expect(throws: RPCError.self) { try await scheduler.submit(job(3, "late", client: client, observer: observer)) }
        }
        #expect(observer.events(of: 1).last == .finished("cancelled"))
        #expect(observer.events(of: 2).last == .finished("cancelled"))
        #expect(observer.events(of: 3) == [])
    }

    @Test func shutdownReturnsAsSoonAsTheLastRunHasEnded() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        try await withScheduler(workers: 1, capacity: 4, provider: provider) { scheduler, _ in
            let hanging = job(1, "hang", client: .make(), observer: observer)
            try await scheduler.submit(hanging)
            await observer.waitUntilRunning(1)
            async let stopped: Void = scheduler.shutDown(grace: .seconds(60))
            hanging.requestCancel()
            await stopped  // long before the grace is over: idle is an event, not a poll
        }
        #expect(observer.events(of: 1).last == .finished("cancelled"))
    }

    /// A hard stop: the scheduler's task is cancelled. Running runs are
    /// cancelled, waiting ones too, and each still gets exactly one verdict.
    @Test func cancellingTheSchedulerEndsEveryRunWithOneVerdict() async throws {
        let provider = FakeSandboxProvider()
        let observer = RecordingObserver()
        let metrics = ServerMetrics(node: "test")
        let pool = WarmPool(provider: provider, limits: RunLimits(), target: 2, logger: Self.logger, metrics: metrics)
        let scheduler = RunScheduler(
            workers: 2, capacity: 8, executor: RunExecutor(pools: WarmPools(plain: pool), logger: Self.logger), metrics: metrics)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            group.addTask { await scheduler.run() }
            let client = ClientID.make()
            for id in 1...5 { try? await scheduler.submit(job(id, "hang", client: client, observer: observer)) }
            await observer.waitUntilRunning(1)
            await observer.waitUntilRunning(2)
            group.cancelAll()
            await scheduler.shutDown(grace: .zero)
        }
        for id in 1...5 {
            #expect(observer.events(of: id).filter { if case .finished = $0 { true } else { false } } == [.finished("cancelled")], "run \(id)")
        }
    }
}
