import Foundation
import SandboxClient
import SandboxProtocol
import Synchronization

/// The sessions' rows: `print(1)` as a cell of a session beside the same
/// program as a one-off run, interleaved on one connection, one at a time,
/// through each server that offers sessions; what a new session costs until
/// its first run has answered; and throughput with one session per
/// connection, beside the same server's one-off throughput.
struct SessionBench: Sendable {
    let runs: Int
    let warmup: Int
    let connections: Int
    let depth: Int
    let throughputRuns: Int
    /// New sessions opened one after the other (each closed before the next).
    let opens = 10

    /// One server's results, or why it has none (it offers no sessions).
    struct Outcome: Sendable {
        var label: String
        var skipped: String?
        var open: [Duration] = []
        var firstRun: [Duration] = []
        var cells: [Duration] = []
        var oneOffs: [Duration] = []
        var load = Load()
        var cpuPerRun: ProcessCPU?
    }

    func measure(_ servers: [ServiceBench.Server]) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for server in servers {
            var outcome = try await measureLatency(server)
            if outcome.skipped == nil {
                try await Task.sleep(for: .seconds(1))
                (outcome.load, outcome.cpuPerRun) = try await measureThroughput(server)
            }
            outcomes.append(outcome)
            try await Task.sleep(for: .seconds(1))  // the next starts from quiet
        }
        return outcomes
    }

    private func measureLatency(_ server: ServiceBench.Server) async throws -> Outcome {
        try await ProtocolConnection.connect(url: server.url) { [runs, warmup, opens] connection in
            var outcome = Outcome(label: server.label)
            let params: JSONValue = ["clientInfo": ["name": "sandbox-bench", "version": .string(PySandbox.version)]]
            let initialize = try await connection.call(Method.initialize, params)
            if let error = initialize.error { throw BenchFailure("initialize refused: \(error.code) \(error.message)") }
            guard (try? initialize.result(as: InitializeResult.self))?.capabilities.sessions == true else {
                outcome.skipped = "offers no sessions"
                return outcome
            }
            // A new session: session/open's answer, and until its first run's
            // verdict (the server keeps one session's sandbox started ahead;
            // the pause lets it start the next).
            for _ in 0..<opens {
                let start = ContinuousClock.now
                let session = try await connection.openSession().session
                outcome.open.append(ContinuousClock.now - start)
                _ = try ServiceBench.checkedVerdict(try await connection.run(RunParams(code: ServiceBench.program, session: session)))
                outcome.firstRun.append(ContinuousClock.now - start)
                try await connection.closeSession(session)
                try await Task.sleep(for: .milliseconds(1500))
            }
            let session = try await connection.openSession().session
            for index in -warmup..<runs {  // negative indexes are the warm-up runs
                let cell = try await connection.run(RunParams(code: ServiceBench.program, session: session))
                _ = try ServiceBench.checkedVerdict(cell)
                let oneOff = try await connection.run(RunParams(code: ServiceBench.program))
                _ = try ServiceBench.checkedVerdict(oneOff)
                if index >= 0 {
                    outcome.cells.append(cell.roundTrip)
                    outcome.oneOffs.append(oneOff.roundTrip)
                }
            }
            try await connection.closeSession(session)
            return outcome
        }
    }

    /// `connections` connections with a session each, every session with up
    /// to `depth` runs sent (they run one at a time, in order), until
    /// `throughputRuns` runs have ended. Every session has answered a run
    /// before the clock starts: their sandboxes start ahead of it.
    private func measureThroughput(_ server: ServiceBench.Server) async throws -> (Load, ProcessCPU?) {
        let budget = RunBudget(throughputRuns)
        // The server's CPU time from when every session is ready: starting
        // their sandboxes is not the runs' cost.
        let cpuBefore = Mutex<ProcessCPU?>(nil)
        let ready = Countdown(connections) { cpuBefore.withLock { $0 = server.pid.flatMap(ProcessCPU.init(tree:)) } }
        let load = try await withThrowingTaskGroup(of: Load.self) { group in
            for _ in 0..<connections {
                group.addTask { [depth] in
                    try await ProtocolConnection.connect(url: server.url) { connection in
                        let session: String
                        do {
                            session = try await connection.openSession().session
                            _ = try ServiceBench.checkedVerdict(try await connection.run(RunParams(code: ServiceBench.program, session: session)))
                        } catch {
                            await ready.fail()
                            throw error
                        }
                        try await ready.arriveAndWait()
                        let load = try await withThrowingTaskGroup(of: Load.self) { inFlight in
                            for _ in 0..<depth {
                                inFlight.addTask { try await Self.keepRunning(in: session, on: connection, budget: budget) }
                            }
                            return try await inFlight.reduce(into: Load()) { $0.merge($1) }
                        }
                        try await connection.closeSession(session)
                        return load
                    }
                }
            }
            return try await group.reduce(into: Load()) { $0.merge($1) }
        }
        guard let before = cpuBefore.withLock({ $0 }), let after = server.pid.flatMap(ProcessCPU.init(tree:)) else { return (load, nil) }
        return (load, (after - before) / max(load.completed, 1))
    }

    private static func keepRunning(in session: String, on connection: ProtocolConnection, budget: RunBudget) async throws -> Load {
        var load = Load()
        while budget.claim() {
            let reply = try await connection.run(RunParams(code: ServiceBench.program, session: session))
            load.span(reply)
            if let error = reply.error {
                load.errors.append("\(error.code) \(error.message)")
            } else {
                load.add(reply, try reply.result(as: BenchVerdict.self))
            }
        }
        return load
    }

    /// The rows for README.md; `oneOffRunsPerSecond` is each server's one-off
    /// throughput from the same bench run, `cold` the cold interpreter's round trips.
    func report(_ outcomes: [Outcome], oneOffRunsPerSecond: [String: Double], cold: [Duration]) -> [String] {
        let ms = BenchTable.ms
        let row = BenchTable(labelWidth: 32).row
        let spread = BenchTable.spread
        func ratio(_ numerator: [Duration], _ denominator: [Duration]) -> String {
            String(format: "%.2f", milliseconds(percentile(numerator, 0.5)) / max(milliseconds(percentile(denominator, 0.5)), .leastNonzeroMagnitude))
        }
        var lines = [
            "",
            "Sessions: \(ServiceBench.program) as a session's run beside a one-off run, interleaved on one connection,",
            "one at a time, \(runs) each after \(warmup) warm-up pairs; \(opens) new sessions one after the other (1.5 s apart),",
            "the first apart: the server may not have started a session's sandbox ahead yet.",
            row("round trip (run -> verdict)", ["p50", "p90", "p99"]),
        ]
        for outcome in outcomes {
            if let skipped = outcome.skipped {
                lines.append(row(outcome.label, []) + "skipped: \(skipped)")
                continue
            }
            lines.append(row("\(outcome.label), a session's run", spread(outcome.cells)))
            lines.append(row("\(outcome.label), a one-off run", spread(outcome.oneOffs)))
            lines.append(row("  session/open", spread(Array(outcome.open.dropFirst()))))
            lines.append(row("  open to its first verdict", spread(Array(outcome.firstRun.dropFirst()))))
            if let open = outcome.open.first, let first = outcome.firstRun.first {
                lines.append("  the first session of the bench: open \(ms(open)), to its first verdict \(ms(first))")
            }
            lines.append("  p50, a session's run / a one-off run: \(ratio(outcome.cells, outcome.oneOffs))")
            lines.append("  p50, a session's run / cold interpreter: \(ratio(outcome.cells, cold))")
        }
        let measured = outcomes.filter { $0.skipped == nil }
        guard !measured.isEmpty else { return lines }
        lines += [
            "",
            "Sessions under load: \(throughputRuns) runs over \(connections) connections with a session each, up to \(depth) runs sent per session.",
            row("", ["runs/s", "p50", "p99", "CPU/run"]),
        ]
        for outcome in measured {
            let cpu = outcome.cpuPerRun.map { ms($0.total) } ?? "-"
            lines.append(row(outcome.label, [String(format: "%.1f", outcome.load.runsPerSecond)]
                + [0.5, 0.99].map { ms(percentile(outcome.load.latencies, $0)) } + [cpu]))
        }
        for outcome in measured {
            lines.append("\(outcome.label) sessions under load: \(outcome.load.completed) runs, \(outcome.load.ok) ok, \(outcome.load.failures) not ok")
            lines += outcome.load.notOK.sorted { $0.key < $1.key }.map { "  not ok: \($0.value) × \($0.key)" }
            lines += Dictionary(grouping: outcome.load.errors, by: { $0 }).sorted { $0.key < $1.key }.map { "  error: \($0.value.count) × \($0.key)" }
            if let oneOff = oneOffRunsPerSecond[outcome.label] {
                lines.append(String(format: "  runs/s, sessions / one-off runs (%@): %.2f", outcome.label, outcome.load.runsPerSecond / max(oneOff, .leastNonzeroMagnitude)))
            }
        }
        return lines
    }
}

/// Lets `count` tasks wait for one another; one that fails instead of
/// arriving lets the others go with an error, rather than waiting forever.
actor Countdown {
    private var remaining: Int
    private var failed = false
    private var waiting: [CheckedContinuation<Void, any Error>] = []
    /// Called once, when the last arrives, before any goes on.
    private let onRelease: @Sendable () -> Void

    init(_ count: Int, onRelease: @escaping @Sendable () -> Void = {}) {
        remaining = count
        self.onRelease = onRelease
    }

    func arriveAndWait() async throws {
        remaining -= 1
        if failed { throw BenchFailure("another connection failed before the measurement began") }
        if remaining <= 0 {
            onRelease()
            release(with: nil)
            return
        }
        try await withCheckedThrowingContinuation { waiting.append($0) }
    }

    func fail() {
        failed = true
        release(with: BenchFailure("another connection failed before the measurement began"))
    }

    private func release(with error: (any Error)?) {
        for continuation in waiting {
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
        waiting = []
    }
}
