import ArgumentParser
import Foundation
import SandboxClient
import SandboxProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A running sandboxd as its clients see it: round trip and throughput of
/// `print(1)`, beside the floor of starting a cold interpreter directly.
struct ServiceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Round trip and throughput of print(1) through a running sandboxd, beside a cold `python3 -I -c 'print(1)'`.")

    @Option(help: "The running server's WebSocket URL.")
    var url = "ws://127.0.0.1:8765/v1/ws"

    @Option(help: "Runs one at a time, for latency: through the server, and of the cold interpreter.")
    var runs = 300

    @Option(help: "Connections that keep runs in flight, for throughput.")
    var connections = 16

    @Option(help: "Runs each connection keeps in flight (at most the server's maxInFlight).")
    var depth = 4

    @Option(help: "Runs to complete for throughput: through the server, and by the cold-interpreter workers.")
    var throughputRuns = 2000

    @Option(help: "Warm-up runs before latency is measured (not counted).")
    var warmup = 5

    @Option(help: "Pause between latency runs in ms, so the server's warm pool refills.")
    var pauseMs = 20

    @Option(help: "Interpreter started directly for the cold floor.")
    var python = "/usr/bin/python3"

    @Option(help: "sandboxd's pid, to report its CPU and its sandboxes' (reaped children's) per run under load.")
    var serverPid: Int32?

    static let program = "print(1)"
    static let expectedStdout = "1\n"

    func validate() throws {
        for (name, value) in [("runs", runs), ("connections", connections), ("depth", depth), ("throughput-runs", throughputRuns)] where value < 1 {
            throw ValidationError("--\(name) must be at least 1")
        }
        guard warmup >= 0, pauseMs >= 0 else { throw ValidationError("--warmup and --pause-ms must not be negative") }
        guard FileManager.default.isExecutableFile(atPath: python) else { throw ValidationError("--python: \(python) is not executable") }
    }

    func run() async throws {
        let date = ISO8601DateFormatter().string(from: Date())
        let (info, latency) = try await measureLatency()
        let cpuBefore = serverPid.flatMap(ProcessCPU.init(pid:))
        let load = try await measureThroughput()
        var cpuPerRun: ProcessCPU?
        if let before = cpuBefore, let after = serverPid.flatMap(ProcessCPU.init(pid:)) {
            cpuPerRun = (after - before) / max(load.completed, 1)
        }
        let coldLatency = try await onOwnThread { [python, runs] in try (0..<runs).map { _ in try timeColdInterpreter(python) } }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let coldLoad = try await measureColdThroughput(workers: cores)

        let report = Report(
            date: date, info: info, cores: cores, bench: self,
            latency: latency, load: load, coldLatency: coldLatency, coldLoad: coldLoad, cpuPerRun: cpuPerRun)
        print(report.text)
        if load.failures > 0 {
            throw BenchFailure("\(load.failures) runs under load did not end ok with stdout \"1\\n\" (see above)")
        }
    }

    // MARK: Through the server

    /// One connection, one run at a time; every run must print exactly "1\n".
    private func measureLatency() async throws -> (InitializeResult, Latency) {
        try await ProtocolConnection.connect(url: url) { [warmup, runs, pauseMs] connection in
            let info = try await connection.initialize(clientName: "sandbox-bench", version: PySandbox.version)
            var latency = Latency()
            for index in -warmup..<runs {  // negative indexes are the warm-up runs
                let reply = try await connection.run(RunParams(code: Self.program))
                let verdict = try Self.checkedVerdict(reply)
                if index >= 0 { latency.add(reply, verdict) }
                // The same path without a sandbox: the floor the transport and service set.
                let bare = try await connection.call(Method.initialize, JSONValue.object([:]))
                if index >= 0 { latency.transport.append(bare.roundTrip) }
                try await Task.sleep(for: .milliseconds(pauseMs))
            }
            return (info, latency)
        }
    }

    /// The verdict of a run that ended ok and printed exactly "1\n"; throws otherwise.
    static func checkedVerdict(_ reply: Reply) throws -> RunResult {
        if let error = reply.error { throw BenchFailure("run refused: \(error.code) \(error.message)") }
        let verdict = try reply.result(as: RunResult.self)
        guard verdict.status == .ok, reply.stdout == expectedStdout else {
            throw BenchFailure("run ended \(verdict.status) with stdout \(reply.stdout.debugDescription), stderr \(reply.stderr.debugDescription): \(reply.response.message)")
        }
        return verdict
    }

    /// `connections` connections, each keeping up to `depth` runs in flight,
    /// until `throughputRuns` runs have ended.
    private func measureThroughput() async throws -> Load {
        let budget = RunBudget(throughputRuns)
        return try await withThrowingTaskGroup(of: Load.self) { group in
            for _ in 0..<connections {
                group.addTask { [url, depth] in
                    try await ProtocolConnection.connect(url: url) { connection in
                        let info = try await connection.initialize(clientName: "sandbox-bench", version: PySandbox.version)
                        return try await withThrowingTaskGroup(of: Load.self) { inFlight in
                            for _ in 0..<min(depth, info.limits.maxInFlight) {
                                inFlight.addTask { try await Self.keepRunning(on: connection, budget: budget) }
                            }
                            return try await inFlight.reduce(into: Load()) { $0.merge($1) }
                        }
                    }
                }
            }
            return try await group.reduce(into: Load()) { $0.merge($1) }
        }
    }

    /// Keeps one run in flight until the budget is spent.
    private static func keepRunning(on connection: ProtocolConnection, budget: RunBudget) async throws -> Load {
        var load = Load()
        while budget.claim() {
            while try await !runOnce(on: connection, into: &load) {}
        }
        return load
    }

    /// Sends one run and tallies its response. Returns false when the server
    /// refused it for load (queue full, too many in flight): it is then
    /// retried after the wait the server asks for, and uses up no run.
    private static func runOnce(on connection: ProtocolConnection, into load: inout Load) async throws -> Bool {
        let reply = try await connection.run(RunParams(code: program))
        load.span(reply)
        guard let error = reply.error else {
            load.add(reply, try reply.result(as: RunResult.self))
            return true
        }
        load.refusals[error.code, default: 0] += 1
        switch RPCErrorCode(rawValue: error.code) {
        case .queueFull:
            try await Task.sleep(for: .milliseconds(error.data?["retryAfterMs"]?.intValue ?? 10))
            return false
        case .tooManyInFlight:
            try await Task.sleep(for: .milliseconds(10))
            return false
        case .shuttingDown:
            throw BenchFailure("the server is shutting down")
        default:
            load.errors.append("\(error.code) \(error.message)")
            return true
        }
    }

    // MARK: The cold interpreter

    /// One worker per core, each on its own thread, starting interpreters until `throughputRuns` have run.
    private func measureColdThroughput(workers: Int) async throws -> Load {
        let budget = RunBudget(throughputRuns)
        let start = ContinuousClock.now
        let samples = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<workers {
                group.addTask { [python] in
                    try await onOwnThread {
                        var samples: [Duration] = []
                        while budget.claim() { samples.append(try timeColdInterpreter(python)) }
                        return samples
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        var load = Load(latencies: samples, ok: samples.count)
        load.first = start
        load.last = ContinuousClock.now
        return load
    }
}

// MARK: Tallies

/// Round trips of sequential runs, and what the server says they cost.
struct Latency: Sendable {
    var roundTrips: [Duration] = []
    var serverWall: [Duration] = []
    /// `initialize` round trips on the same connection: no sandbox involved.
    var transport: [Duration] = []
    var serverQueued: [Duration] = []

    mutating func add(_ reply: Reply, _ verdict: RunResult) {
        roundTrips.append(reply.roundTrip)
        serverWall.append(.milliseconds(verdict.wallMs))
        serverQueued.append(.milliseconds(verdict.queuedMs))
    }
}

/// Runs under load: their round trips, how they ended, and the time they span.
struct Load: Sendable {
    var latencies: [Duration] = []
    var ok = 0
    /// Ended runs that were not ok or printed something else, by status.
    var notOK: [String: Int] = [:]
    /// JSON-RPC error responses, by code (queue full and too many in flight were retried).
    var refusals: [Int: Int] = [:]
    /// Other error responses; each uses up a run.
    var errors: [String] = []
    var first: ContinuousClock.Instant?
    var last: ContinuousClock.Instant?

    var completed: Int { latencies.count }
    var failures: Int { notOK.values.reduce(0, +) + errors.count }
    var elapsed: Duration { first.flatMap { first in last.map { $0 - first } } ?? .zero }
    var runsPerSecond: Double { Double(completed) / max(milliseconds(elapsed) / 1000, .leastNonzeroMagnitude) }

    /// Widens the measured span: from the first request sent to the last response received.
    mutating func span(_ reply: Reply) {
        first = min(first ?? reply.sentAt, reply.sentAt)
        last = max(last ?? reply.receivedAt, reply.receivedAt)
    }

    mutating func add(_ reply: Reply, _ verdict: RunResult) {
        latencies.append(reply.roundTrip)
        if verdict.status == .ok && reply.stdout == ServiceBench.expectedStdout {
            ok += 1
        } else {
            notOK[verdict.status == .ok ? "ok, wrong stdout \(reply.stdout.debugDescription)" : verdict.status.rawValue, default: 0] += 1
        }
    }

    mutating func merge(_ other: Load) {
        latencies += other.latencies
        ok += other.ok
        notOK.merge(other.notOK, uniquingKeysWith: +)
        refusals.merge(other.refusals, uniquingKeysWith: +)
        errors += other.errors
        first = [first, other.first].compactMap { $0 }.min()
        last = [last, other.last].compactMap { $0 }.max()
    }
}

/// Runs left to start, shared by concurrent workers.
final class RunBudget: Sendable {
    private let remaining: Mutex<Int>
    init(_ total: Int) { remaining = Mutex(total) }

    /// Takes one run; false once all are taken.
    func claim() -> Bool {
        remaining.withLock { remaining in
            guard remaining > 0 else { return false }
            remaining -= 1
            return true
        }
    }
}

// MARK: Report

/// The results as plain text, for README.md.
struct Report {
    var date: String
    var info: InitializeResult
    var cores: Int
    var bench: ServiceBench
    var latency: Latency
    var load: Load
    var coldLatency: [Duration]
    var coldLoad: Load
    /// sandboxd's CPU time and its reaped children's, per run under load (`--server-pid`).
    var cpuPerRun: ProcessCPU?

    var text: String {
        let cold = "python3 -I -c 'print(1)', cold"
        var lines = [
            "sandbox-bench service, \(date)",
            "server:  \(info.serverInfo.name) \(info.serverInfo.version), Python \(info.python.version), maxInFlight \(info.limits.maxInFlight), at \(bench.url)",
            "machine: \(cores) cores, shared by the bench and the server; cold interpreter: \(bench.python)",
            "program: \(ServiceBench.program)",
            "",
            "Latency: one run at a time over one connection, \(bench.runs) runs after \(bench.warmup) warm-up runs,",
            "with a \(bench.pauseMs) ms pause between runs so the server's warm pool can refill.",
            row("", "p50", "p90", "p99"),
            row("sandboxd round trip (run -> verdict)", percentiles(latency.roundTrips, [0.5, 0.9, 0.99])),
            row("  server-reported wallMs", percentiles(latency.serverWall, [0.5, 0.9, 0.99])),
            row("  server-reported queuedMs", percentiles(latency.serverQueued, [0.5, 0.9, 0.99])),
            row("initialize round trip (no sandbox)", percentiles(latency.transport, [0.5, 0.9, 0.99])),
            row(cold, percentiles(coldLatency, [0.5, 0.9, 0.99])),
            String(format: "cold interpreter p50 / sandboxd round-trip p50: %.2f", ratio(median(coldLatency), median(latency.roundTrips))),
            "",
            "Throughput: \(bench.throughputRuns) runs; sandboxd over \(bench.connections) connections with up to \(depth) runs in flight each,",
            "the cold interpreter in \(cores) parallel workers (one per core).",
            row("", "runs/s", "p50", "p99"),
            row("sandboxd", [String(format: "%.1f", load.runsPerSecond)] + percentiles(load.latencies, [0.5, 0.99])),
            row(cold, [String(format: "%.1f", coldLoad.runsPerSecond)] + percentiles(coldLoad.latencies, [0.5, 0.99])),
            // Little's law, so that a reader does not mistake queueing for slowness.
            String(format: "(sandboxd latency under load is mostly waiting: %d runs in flight / %.1f runs/s = %.0f ms)",
                   inFlight, load.runsPerSecond, Double(inFlight) / max(load.runsPerSecond, .leastNonzeroMagnitude) * 1000),
            String(format: "sandboxd runs/s / cold interpreter runs/s: %.2f", load.runsPerSecond / max(coldLoad.runsPerSecond, .leastNonzeroMagnitude)),
            "sandboxd under load: \(load.completed) runs ended in \(String(format: "%.2f", milliseconds(load.elapsed) / 1000)) s, \(load.ok) ok, \(load.failures) not ok; \(refusalSummary)",
        ]
        if let cpuPerRun {
            lines.append(String(
                format: "CPU per run under load: %.2f ms (sandboxd %.2f ms, its launchers and sandboxes %.2f ms)",
                milliseconds(cpuPerRun.own + cpuPerRun.children), milliseconds(cpuPerRun.own), milliseconds(cpuPerRun.children)))
        }
        lines += load.notOK.sorted { $0.key < $1.key }.map { "  not ok: \($0.value) × \($0.key)" }
        lines += Dictionary(grouping: load.errors, by: { $0 }).sorted { $0.key < $1.key }.map { "  error: \($0.value.count) × \($0.key)" }
        return lines.joined(separator: "\n")
    }

    private var depth: Int { min(bench.depth, info.limits.maxInFlight) }
    private var inFlight: Int { bench.connections * depth }

    private var refusalSummary: String {
        guard !load.refusals.isEmpty else { return "no requests refused" }
        let names: [Int: String] = [RPCErrorCode.queueFull.rawValue: "queue full", RPCErrorCode.tooManyInFlight.rawValue: "too many in flight"]
        let parts = load.refusals.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key) \(names[$0.key] ?? "error")" }
        return "refused: " + parts.joined(separator: ", ") + " (queue full and too many in flight retried)"
    }

    private func percentiles(_ samples: [Duration], _ fractions: [Double]) -> [String] {
        fractions.map { String(format: "%.2f ms", milliseconds(percentile(samples, $0))) }
    }

    private func ratio(_ numerator: Duration, _ denominator: Duration) -> Double {
        milliseconds(numerator) / max(milliseconds(denominator), .leastNonzeroMagnitude)
    }

    private func row(_ label: String, _ columns: String...) -> String { row(label, columns) }

    private func row(_ label: String, _ columns: [String]) -> String {
        label.padding(toLength: 38, withPad: " ", startingAt: 0)
            + columns.map { String(repeating: " ", count: max(0, 12 - $0.count)) + $0 }.joined()
    }
}

// MARK: Processes

/// Starts `python -I -c 'print(1)'` (stdout to /dev/null) and waits for it:
/// what any run costs without a sandbox or a server.
func timeColdInterpreter(_ python: String) throws -> Duration {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let arguments: [String] = [python, "-I", "-c", ServiceBench.program]
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }

    let start = ContinuousClock.now
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, python, &actions, nil, argv, environ)
    guard spawned == 0 else { throw BenchFailure("posix_spawn \(python): \(String(cString: strerror(spawned)))") }
    var status: CInt = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw BenchFailure("waitpid: \(String(cString: strerror(errno)))") }
    }
    let elapsed = ContinuousClock.now - start
    // 0 is "exited with status 0".
    guard status == 0 else { throw BenchFailure("\(python) -I -c 'print(1)' ended with wait status \(status)") }
    return elapsed
}

/// Runs blocking work on a thread of its own, keeping Swift's cooperative
/// threads (one per core) free for the rest of the bench.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result(catching: body)) }.start()
    }
}

/// A process's CPU time, and that of the children it has reaped, from /proc/PID/stat.
struct ProcessCPU {
    var own: Duration
    var children: Duration

    init?(pid: Int32) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3; utime, stime, cutime, cstime are 14-17.
        let ticks = stat[stat.index(after: end)...].split(separator: " ").dropFirst(11).prefix(4).compactMap { Int($0) }
        guard ticks.count == 4 else { return nil }
        let tick = Duration.seconds(1) / sysconf(Int32(_SC_CLK_TCK))
        own = tick * (ticks[0] + ticks[1])
        children = tick * (ticks[2] + ticks[3])
    }

    private init(own: Duration, children: Duration) {
        self.own = own
        self.children = children
    }

    static func - (after: Self, before: Self) -> Self {
        Self(own: after.own - before.own, children: after.children - before.children)
    }

    static func / (total: Self, runs: Int) -> Self {
        Self(own: total.own / runs, children: total.children / runs)
    }
}
