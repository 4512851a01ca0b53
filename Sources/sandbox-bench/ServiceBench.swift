import ArgumentParser
import Foundation
import SandboxClient
import SandboxProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Running servers as their clients see them, side by side in one run:
/// round trip and throughput of `print(1)` through each (sandboxd with
/// `--isolation fork`, with `--isolation exec`, a peer design), beside the
/// floor of starting a cold interpreter directly; then the scientific
/// stack's row (ScientificBench), both streams' (StreamsBench) and the
/// sessions' rows (SessionBench).
struct ServiceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Round trip and throughput of print(1) through running servers, side by side, beside a cold `python3 -I -c 'print(1)'`.")

    @Option(name: .customLong("server"), help: "A running server, LABEL=WS-URL; repeatable; ratios compare the first with the others. (default: sandboxd=ws://127.0.0.1:8765/v1/ws)")
    var serverSpecs: [String] = []

    @Option(name: .customLong("pid"), help: "LABEL=PID of a server's process, to report its CPU per run under load: its own and every descendant's (live, and reaped).")
    var pidSpecs: [String] = []

    @Option(help: "Runs one at a time, for latency, through each server (interleaved) and of the cold interpreter.")
    var runs = 300

    @Option(help: "Connections that keep runs in flight, for throughput.")
    var connections = 16

    @Option(help: "Runs each connection keeps in flight (at most the server's maxInFlight).")
    var depth = 4

    @Option(help: "Runs to complete for throughput: through each server, and by the cold-interpreter workers.")
    var throughputRuns = 2000

    @Option(help: "Warm-up runs before latency is measured (not counted).")
    var warmup = 5

    @Option(help: "Pause between latency runs in ms (0: back to back).")
    var pauseMs = 0

    @Option(help: "Interpreter started directly for the cold floor.")
    var python = "/usr/bin/python3"

    @Option(help: "Runs of the scientific-stack program (numpy, pandas, a matplotlib plot) through each server and cold, one at a time; 0 skips them.")
    var scientificRuns = 20

    @Option(help: "Runs of a program that writes 100 lines to each stream in turn, through each server one at a time; 0 skips them.")
    var streamsRuns = 100

    @Option(help: "The package set of the packages rows (comma-separated requirements, from the servers' index); none skips them.")
    var benchPackages = "tqdm"

    @Option(help: "Inputs of the tests row (print(input()) against them as one run's tests); 0 skips it.")
    var testInputs = 1000

    @Option(help: "Runs of the tests row per server.")
    var testBatches = 3

    @Flag(inversion: .prefixedNo, help: "Measure sessions too: a session's run beside a one-off run, a new session, and throughput with a session per connection.")
    var sessions = true

    static let program = "print(1)"
    static let expectedStdout = "1\n"

    /// One server under test.
    struct Server: Sendable {
        var label: String
        var url: String
        var pid: Int32?
    }

    var servers: [Server] {
        let specs = serverSpecs.isEmpty ? ["sandboxd=ws://127.0.0.1:8765/v1/ws"] : serverSpecs
        let pids = Dictionary(pidSpecs.compactMap { spec -> (String, Int32)? in
            let parts = spec.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let pid = Int32(parts[1]) else { return nil }
            return (String(parts[0]), pid)
        }, uniquingKeysWith: { $1 })
        return specs.map { spec in
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            return Server(label: parts[0], url: parts.count > 1 ? parts[1] : parts[0], pid: pids[parts[0]])
        }
    }

    func validate() throws {
        for (name, value) in [("runs", runs), ("connections", connections), ("depth", depth), ("throughput-runs", throughputRuns)] where value < 1 {
            throw ValidationError("--\(name) must be at least 1")
        }
        guard warmup >= 0, pauseMs >= 0, scientificRuns >= 0, streamsRuns >= 0 else {
            throw ValidationError("--warmup, --pause-ms, --scientific-runs and --streams-runs must not be negative")
        }
        guard FileManager.default.isExecutableFile(atPath: python) else { throw ValidationError("--python: \(python) is not executable") }
        for spec in serverSpecs where !spec.contains("=ws") {
            throw ValidationError("--server: '\(spec)' is not LABEL=ws://HOST:PORT/PATH")
        }
        for spec in pidSpecs where spec.split(separator: "=").count != 2 || Int32(spec.split(separator: "=").last ?? "") == nil {
            throw ValidationError("--pid: '\(spec)' is not LABEL=PID")
        }
    }

    func run() async throws {
        let date = ISO8601DateFormatter().string(from: Date())
        let servers = self.servers
        let latencies = try await measureLatency(servers)
        var measured: [Measured] = []
        for (server, (info, latency)) in zip(servers, latencies) {
            let before = server.pid.flatMap(ProcessCPU.init(tree:))
            let load = try await measureThroughput(server)
            var cpuPerRun: ProcessCPU?
            if let before, let after = server.pid.flatMap(ProcessCPU.init(tree:)) {
                cpuPerRun = (after - before) / max(load.completed, 1)
            }
            measured.append(Measured(server: server, info: info, latency: latency, load: load, cpuPerRun: cpuPerRun))
        }
        let coldLatency = try await onOwnThread { [python, runs] in try (0..<runs).map { _ in try timeColdInterpreter(python) } }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let coldLoad = try await measureColdThroughput(workers: cores)

        let report = Report(date: date, cores: cores, bench: self, measured: measured, coldLatency: coldLatency, coldLoad: coldLoad)
        print(report.text)
        if scientificRuns > 0 {
            let scientific = ScientificBench(runs: scientificRuns, warmup: 2, python: python)
            let outcomes = try await scientific.measure(servers)
            let cold = try await scientific.measureCold()
            let floor = try await scientific.measureWarmFloor()
            print(ScientificBench.report(outcomes, cold: cold, floor: floor, runs: scientificRuns, warmup: 2).joined(separator: "\n"))
        }
        if streamsRuns > 0 {
            let streams = StreamsBench(runs: streamsRuns, warmup: 2)
            print(streams.report(try await streams.measure(servers)).joined(separator: "\n"))
        }
        var failures = measured.map(\.load.failures).reduce(0, +)
        if testInputs > 0 {
            let bench = TestsBench(inputs: testInputs, batches: max(1, testBatches))
            let oneOff = Dictionary(measured.map { ($0.server.label, $0.load.runsPerSecond) }, uniquingKeysWith: { $1 })
            print(bench.report(try await bench.measure(servers.filter { server in
                measured.first { $0.server.label == server.label }?.info.testsOffered ?? false
            }), oneOffRunsPerSecond: oneOff).joined(separator: "\n"))
        }
        if sessions {
            let bench = SessionBench(runs: runs, warmup: warmup, connections: connections, depth: depth, throughputRuns: throughputRuns)
            let outcomes = try await bench.measure(servers)
            let oneOff = Dictionary(measured.map { ($0.server.label, $0.load.runsPerSecond) }, uniquingKeysWith: { $1 })
            print(bench.report(outcomes, oneOffRunsPerSecond: oneOff, cold: coldLatency).joined(separator: "\n"))
            failures += outcomes.map(\.load.failures).reduce(0, +)
        }
        if sessions {
            let bench = AssistBench(runs: min(runs, 200), warmup: warmup)
            print(bench.report(try await bench.measure(servers)).joined(separator: "\n"))
        }
        if benchPackages != "none" {
            let set = benchPackages.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let bench = PackageBench(
                set: set, runs: runs, warmup: warmup, connections: connections, depth: depth, throughputRuns: throughputRuns)
            let outcomes = try await bench.measure(servers)
            let installs = await PackageBench.measureInstalls(python: python)
            print(bench.report(outcomes, installs: installs).joined(separator: "\n"))
            failures += outcomes.map { $0.with.failures + $0.without.failures }.reduce(0, +)
        }
        if failures > 0 {
            throw BenchFailure("\(failures) runs under load did not end ok with stdout \"1\\n\" (see above)")
        }
    }

    // MARK: Through the servers

    /// One connection per server, one run at a time; every run must print exactly "1\n".
    private func measureLatency(_ servers: [Server]) async throws -> [(ServerInfo, Latency)] {
        try await Self.withConnections(servers.map(\.url)) { [warmup, runs, pauseMs] connections in
            var infos: [ServerInfo] = []
            for connection in connections { infos.append(try await ServerInfo.ask(connection)) }
            // One server at a time: a server's work between runs (an exec
            // server refilling its pool starts interpreters) must not land
            // in another's latency.
            var latencies = Array(repeating: Latency(), count: connections.count)
            for (position, connection) in connections.enumerated() {
                for index in -warmup..<runs {  // negative indexes are the warm-up runs
                    let reply = try await connection.run(RunParams(code: Self.program))
                    let verdict = try Self.checkedVerdict(reply)
                    if index >= 0 { latencies[position].add(reply, verdict) }
                    // The same path without a sandbox: the floor the transport and service set.
                    let bare = try await connection.call(Method.initialize, JSONValue.object([:]))
                    if index >= 0 { latencies[position].transport.append(bare.roundTrip) }
                    if pauseMs > 0 { try await Task.sleep(for: .milliseconds(pauseMs)) }
                }
                try await Task.sleep(for: .seconds(1))  // the next server starts from quiet
            }
            return Array(zip(infos, latencies))
        }
    }

    /// One open connection to each URL, for `body`'s length.
    private static func withConnections<T: Sendable>(
        _ urls: [String], opened: [ProtocolConnection] = [],
        _ body: @escaping @Sendable ([ProtocolConnection]) async throws -> T
    ) async throws -> T {
        guard let url = urls.first else { return try await body(opened) }
        return try await ProtocolConnection.connect(url: url) { connection in
            try await withConnections(Array(urls.dropFirst()), opened: opened + [connection], body)
        }
    }

    /// The verdict of a run that ended ok and printed exactly "1\n"; throws otherwise.
    static func checkedVerdict(_ reply: Reply) throws -> BenchVerdict {
        if let error = reply.error { throw BenchFailure("run refused: \(error.code) \(error.message)") }
        let verdict = try reply.result(as: BenchVerdict.self)
        guard verdict.status == "ok", reply.stdout == expectedStdout else {
            throw BenchFailure("run ended \(verdict.status) with stdout \(reply.stdout.debugDescription), stderr \(reply.stderr.debugDescription): \(reply.response.message)")
        }
        return verdict
    }

    /// `connections` connections, each keeping up to `depth` runs in flight,
    /// until `throughputRuns` runs have ended.
    private func measureThroughput(_ server: Server) async throws -> Load {
        try await Self.measureThroughput(server, RunParams(code: Self.program), connections: connections, depth: depth, runs: throughputRuns)
    }

    /// `connections` connections, each keeping up to `depth` runs of `params`
    /// in flight, until `runs` runs have ended.
    static func measureThroughput(_ server: Server, _ params: RunParams, connections: Int, depth: Int, runs: Int) async throws -> Load {
        let budget = RunBudget(runs)
        return try await withThrowingTaskGroup(of: Load.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    try await ProtocolConnection.connect(url: server.url) { connection in
                        let info = try await ServerInfo.ask(connection)
                        return try await withThrowingTaskGroup(of: Load.self) { inFlight in
                            for _ in 0..<min(depth, info.maxInFlight ?? depth) {
                                inFlight.addTask { try await Self.keepRunning(params, on: connection, budget: budget) }
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
    private static func keepRunning(_ params: RunParams, on connection: ProtocolConnection, budget: RunBudget) async throws -> Load {
        var load = Load()
        while budget.claim() {
            while try await !runOnce(params, on: connection, into: &load) {}
        }
        return load
    }

    /// Sends one run and tallies its response. Returns false when the server
    /// refused it for load (queue full, too many in flight): it is then
    /// retried after the wait the server asks for, and uses up no run.
    private static func runOnce(_ params: RunParams, on connection: ProtocolConnection, into load: inout Load) async throws -> Bool {
        let reply = try await connection.run(params)
        load.span(reply)
        guard let error = reply.error else {
            load.add(reply, try reply.result(as: BenchVerdict.self))
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

/// What the bench reads of a verdict: a peer design may send less than
/// `RunResult`, or milliseconds with fractions.
struct BenchVerdict: Decodable, Sendable {
    var status: String
    var wallMs: Double?
    var queuedMs: Double?
}

/// Round trips of sequential runs, and what the server says they cost.
struct Latency: Sendable {
    var roundTrips: [Duration] = []
    var serverWall: [Duration] = []
    /// `initialize` round trips on the same connection: no sandbox involved.
    var transport: [Duration] = []
    var serverQueued: [Duration] = []

    mutating func add(_ reply: Reply, _ verdict: BenchVerdict) {
        roundTrips.append(reply.roundTrip)
        serverWall.append(.milliseconds(verdict.wallMs ?? 0))
        serverQueued.append(.milliseconds(verdict.queuedMs ?? 0))
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

    mutating func add(_ reply: Reply, _ verdict: BenchVerdict) {
        latencies.append(reply.roundTrip)
        if verdict.status == "ok" && reply.stdout == ServiceBench.expectedStdout {
            ok += 1
        } else {
            notOK[verdict.status == "ok" ? "ok, wrong stdout \(reply.stdout.debugDescription)" : verdict.status, default: 0] += 1
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

/// One server's results.
struct Measured {
    var server: ServiceBench.Server
    var info: ServerInfo
    var latency: Latency
    var load: Load
    /// The server's process tree's CPU time per run under load (`--pid`).
    var cpuPerRun: ProcessCPU?
}

/// The results as plain text, for README.md.
struct Report {
    var date: String
    var cores: Int
    var bench: ServiceBench
    var measured: [Measured]
    var coldLatency: [Duration]
    var coldLoad: Load

    var text: String {
        let cold = "cold python3 -I -c 'print(1)'"
        var lines = [
            "sandbox-bench service, \(date)",
            "machine: \(cores) cores, shared by the bench and the servers; cold interpreter: \(bench.python)",
            "program: \(ServiceBench.program)",
        ]
        lines += measured.map { "server \($0.server.label): \($0.info.description), at \($0.server.url)" }
        lines += [
            "",
            "Latency: one run at a time over one connection per server, one server after the other; \(bench.runs) runs each",
            "after \(bench.warmup) warm-up runs, " + (bench.pauseMs == 0 ? "back to back (no pause)." : "\(bench.pauseMs) ms apart."),
            row("round trip (run -> verdict)", "p50", "p90", "p99"),
        ]
        for result in measured {
            lines.append(row(result.server.label, percentiles(result.latency.roundTrips, [0.5, 0.9, 0.99])))
            lines.append(row("  its reported wallMs", percentiles(result.latency.serverWall, [0.5, 0.9, 0.99])))
            lines.append(row("  initialize round trip", percentiles(result.latency.transport, [0.5, 0.9, 0.99])))
        }
        lines.append(row(cold, percentiles(coldLatency, [0.5, 0.9, 0.99])))
        lines += [
            "",
            "Throughput: \(bench.throughputRuns) runs per server over \(bench.connections) connections with up to \(bench.depth) runs in flight each;",
            "the cold interpreter in \(cores) parallel workers (one per core). CPU per run: the server's process tree, itself",
            "and every descendant (live and reaped), over the runs it completed.",
            row("", "runs/s", "p50", "p99", "CPU/run"),
        ]
        for result in measured {
            let cpu = result.cpuPerRun.map { String(format: "%.2f ms", milliseconds($0.total)) } ?? "-"
            lines.append(row(result.server.label, [String(format: "%.1f", result.load.runsPerSecond)]
                + percentiles(result.load.latencies, [0.5, 0.99]) + [cpu]))
        }
        lines.append(row(cold, [String(format: "%.1f", coldLoad.runsPerSecond)] + percentiles(coldLoad.latencies, [0.5, 0.99]) + ["-"]))
        for result in measured {
            lines.append("\(result.server.label) under load: \(result.load.completed) runs in \(String(format: "%.2f", milliseconds(result.load.elapsed) / 1000)) s, \(result.load.ok) ok, \(result.load.failures) not ok; \(refusalSummary(result.load))")
            if let cpu = result.cpuPerRun {
                lines.append(String(format: "  CPU per run: %.2f ms = the server process %.2f ms + its descendants %.2f ms",
                                    milliseconds(cpu.total), milliseconds(cpu.own), milliseconds(cpu.children)))
            }
            lines += result.load.notOK.sorted { $0.key < $1.key }.map { "  not ok: \($0.value) × \($0.key)" }
            lines += Dictionary(grouping: result.load.errors, by: { $0 }).sorted { $0.key < $1.key }.map { "  error: \($0.value.count) × \($0.key)" }
        }
        if let first = measured.first {
            lines += ["", "Ratios (\(first.server.label)):"]
            for other in measured.dropFirst() {
                lines.append("  runs/s, \(first.server.label) / \(other.server.label): "
                    + format(first.load.runsPerSecond / max(other.load.runsPerSecond, .leastNonzeroMagnitude)))
            }
            lines.append("  runs/s, \(first.server.label) / cold interpreter: "
                + format(first.load.runsPerSecond / max(coldLoad.runsPerSecond, .leastNonzeroMagnitude)))
            lines.append("  round-trip p50 / cold interpreter p50: "
                + format(ratio(percentile(first.latency.roundTrips, 0.5), percentile(coldLatency, 0.5))))
            lines.append("  round-trip p99 / cold interpreter p50: "
                + format(ratio(percentile(first.latency.roundTrips, 0.99), percentile(coldLatency, 0.5))))
        }
        return lines.joined(separator: "\n")
    }

    private func format(_ value: Double) -> String { String(format: "%.2f", value) }

    private func refusalSummary(_ load: Load) -> String {
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
        label.padding(toLength: 32, withPad: " ", startingAt: 0)
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

/// A process's CPU time, and that of its descendants: those alive now and
/// those reaped (each process's reaped children's time), from /proc/PID/stat.
/// A fork server's runs are its slot's grandchildren and live as long as the
/// service, so a server's reaped children alone would not see them.
struct ProcessCPU {
    var own: Duration
    var children: Duration
    var total: Duration { own + children }

    /// `pid` and every process below it.
    init?(tree pid: Int32) {
        guard let root = Stat(pid: pid) else { return nil }
        var byParent: [Int32: [Stat]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            if let other = Int32(name), let stat = Stat(pid: other) { byParent[stat.parent, default: []].append(stat) }
        }
        var descendants = Duration.zero
        var pending = byParent[pid] ?? []
        while let next = pending.popLast() {
            descendants += next.own + next.reaped
            pending += byParent[next.pid] ?? []
        }
        own = root.own
        children = root.reaped + descendants
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

    private struct Stat {
        var pid: Int32
        var parent: Int32
        var own: Duration
        var reaped: Duration

        init?(pid: Int32) {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let end = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (comm)": state is field 3, ppid 4; utime, stime, cutime, cstime are 14-17.
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            let ticks = fields.dropFirst(11).prefix(4).compactMap { Int($0) }
            guard fields.count > 2, let parent = Int32(fields[1]), ticks.count == 4 else { return nil }
            let tick = Duration.seconds(1) / sysconf(Int32(_SC_CLK_TCK))
            self.pid = pid
            self.parent = parent
            own = tick * (ticks[0] + ticks[1])
            reaped = tick * (ticks[2] + ticks[3])
        }
    }
}
