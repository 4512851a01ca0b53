import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

/// Thousands of runs, ordinary programs mixed with attacks, over 20
/// connections that drop in the middle of runs and come back: every run on a
/// live connection gets exactly one response with exactly its output, and
/// afterwards the server holds no more files, threads or memory than before
/// and no process of any run is left.
extension SandboxSuite {
    @Suite("Soak")
    struct SoakTests {
        static let isFullSoakEnabled = ProcessInfo.processInfo.environment["PYSANDBOX_SOAK"] == "1"

        @Test func threeHundredRunsOverTwentyConnections() async throws {
            try await Soak(runs: 300, connections: 20).run()
        }

        @Test(.enabled(if: isFullSoakEnabled, "5,000 runs take minutes; set PYSANDBOX_SOAK=1 to run them"))
        func fiveThousandRunsOverTwentyConnections() async throws {
            try await Soak(runs: 5000, connections: 20).run()
        }
    }
}

/// One soak: `runs` verified runs spread over `connections` clients.
struct Soak {
    var runs: Int
    var connections: Int
    var seed = UInt64(ProcessInfo.processInfo.environment["PYSANDBOX_SOAK_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)

    /// Fast attacks only: none that waits for a timeout, fills the disk, or
    /// burns or holds for seconds what its verdict depends on (CPU time, memory).
    static let fixtures = MaliciousFixture.loadAll().filter { fixture in
        !["01", "02", "03", "04", "05", "06", "07", "10", "11", "15", "17", "18", "70", "71", "73", "76"]
            .contains(String(fixture.name.prefix(2)))
    }

    func run() async throws {
        let host = HostTargets.shared
        _ = host.drainContacts()
        let configuration = TestServer.configuration { $0.workers = 2; $0.warm = 2 }
        let problems = Problems()
        try await TestServer.with(configuration) { (port) async throws in
            // Warm-up: every connection once, so that threads and buffers exist before counting.
            try await forEachConnection { connection in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let run = try await client.run("warm-up", ["code": "print('warm')"])
                    #expect(run.stdout == "warm\n")
                }
            }
            _ = await HostProcess.waitForInterpreters(configuration.warmSandboxes, within: .seconds(30))
            try await Task.sleep(for: .milliseconds(500))
            let before = ProcessResources.afterHeapTrim()

            let quota = (runs + connections - 1) / connections
            let tallies = try await forEachConnection { connection in
                var worker = SoakWorker(connection: connection, quota: quota, seed: seed &+ UInt64(connection), problems: problems)
                try await worker.work(port: port)
                return worker.tally
            }
            let verified = tallies.map(\.verified).reduce(0, +)
            let dropped = tallies.map(\.dropped).reduce(0, +)
            let sessions = tallies.map(\.sessions).reduce(0, +)
            #expect(verified >= runs)
            #expect(sessions > connections, "no connection was dropped and reopened")
            #expect(dropped > 0, "no connection closed with runs in flight")

            // Back to where it started, within a small bound.
            #expect(await HostProcess.waitForInterpreters(configuration.warmSandboxes, within: .seconds(30)) == configuration.warmSandboxes)
            var after = ProcessResources.afterHeapTrim()
            let deadline = ContinuousClock.now + .seconds(15)
            while !Self.isClose(after, to: before) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
                after = ProcessResources.afterHeapTrim()
            }
            #expect(abs(after.openFiles - before.openFiles) <= 16, "before: \(before); after: \(after)")
            #expect(abs(after.threads - before.threads) <= 8, "before: \(before); after: \(after)")
            #expect(after.residentKb - before.residentKb <= 64 << 10, "before: \(before); after: \(after)")
            let found = await problems.all
            #expect(found.isEmpty, "\(found.count) problems (seed \(seed)); the first: \(found.prefix(10).joined(separator: "\n"))")
            print("soak: \(verified) runs verified, \(dropped) dropped with their connection, \(sessions) sessions; before: \(before); after: \(after); seed \(seed)")
        }
        let leftovers = await HostProcesses.leftovers()
        #expect(leftovers.isEmpty, "\(leftovers)")
        #expect(host.drainContacts() == [], "a run reached a host listener")
        #expect(host.tampering() == [], "a run changed the host")
    }

    static func isClose(_ after: ProcessResources, to before: ProcessResources) -> Bool {
        abs(after.openFiles - before.openFiles) <= 16 && abs(after.threads - before.threads) <= 8
            && after.residentKb - before.residentKb <= 64 << 10
    }

    private func forEachConnection<T: Sendable>(_ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: T.self) { group in
            for connection in 0..<connections { group.addTask { try await body(connection) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }
}

/// What went wrong, over all connections.
actor Problems {
    private(set) var all: [String] = []
    func add(_ problem: String) { all.append(problem) }
}

/// One connection's share of a soak: sessions of runs, some of which end by
/// closing the connection while runs are in flight.
struct SoakWorker {
    struct Tally: Sendable {
        var verified = 0
        var dropped = 0
        var sessions = 0
    }

    let connection: Int
    let quota: Int
    var random: SplitMix
    let problems: Problems
    var tally = Tally()
    private var next: Int64 = 0

    init(connection: Int, quota: Int, seed: UInt64, problems: Problems) {
        self.connection = connection
        self.quota = quota
        self.random = SplitMix(seed: seed)
        self.problems = problems
    }

    mutating func work(port: Int) async throws {
        while tally.verified < quota {
            tally.sessions += 1
            // Several sessions per connection, half of them (and every first one
            // of an even connection) ending with runs in flight.
            let longest = max(3, min(40, quota / 2))
            let length = min(quota - tally.verified, Int.random(in: 3...longest, using: &random))
            let window = Int.random(in: 1...8, using: &random)
            let dropsMidRun = Bool.random(using: &random) || (tally.sessions == 1 && connection % 2 == 0)
            var programs: [Int64: SoakProgram] = [:]
            for _ in 0..<(length + 4) {
                next += 1
                programs[next] = SoakProgram.random(tag: "c\(connection)r\(next)", using: &random)
            }
            let ids = programs.keys.sorted()
            let sleeperCount = Int.random(in: 1...3, using: &random)
            let (verified, dropped) = try await session(port: port, ids: Array(ids.prefix(length)), programs: programs,
                                                       window: window, sleepers: dropsMidRun ? sleeperCount : 0)
            tally.verified += verified
            tally.dropped += dropped
        }
    }

    /// Runs `ids` on one connection, at most `window` in flight, checking each
    /// transcript; then starts `sleepers` runs and closes while they run.
    private func session(
        port: Int, ids: [Int64], programs: [Int64: SoakProgram], window: Int, sleepers: Int
    ) async throws -> (verified: Int, dropped: Int) {
        let problems = self.problems
        let result = Counter()
        try await ProtocolClient.connect(port: port) { (client) async throws in
            var waiting: [Int64] = []
            var pending = ids[...]
            while !pending.isEmpty || !waiting.isEmpty {
                while waiting.count < window, let id = pending.popFirst() {
                    try await programs[id]!.submit(id: .integer(id), on: client)
                    waiting.append(id)
                }
                let id = waiting.removeFirst()
                let transcript = try await client.transcript(of: .integer(id), within: .seconds(120))
                for problem in programs[id]!.check(transcript) { await problems.add("run \(id) of \(programs[id]!.name): \(problem)") }
                await result.add(verified: 1)
            }
            // Nothing more arrives: exactly one response per run, no stray notifications.
            try await Task.sleep(for: .milliseconds(20))
            let stray = await client.inbox.pending
            if !stray.isEmpty { await problems.add("messages after the last response: \(stray.prefix(3))") }
            let log = await client.inbox.log
            for id in ids where log.filter({ $0["id"] == .integer(id) && $0["method"] == nil }).count != 1 {
                await problems.add("run \(id) did not get exactly one response")
            }
            guard sleepers > 0 else { return }
            // Close in the middle of runs: they have no response to check.
            let first = (ids.last ?? 0) + 1
            for id in first..<(first + Int64(sleepers)) {
                try await client.request(.integer(id), Method.run, ["code": "print('started', flush=True)\nimport time\ntime.sleep(30)"])
            }
            // (print's text and its newline may come in two messages)
            _ = try await client.inbox.take(within: .seconds(120)) { $0["params"]?["text"]?.stringValue?.hasPrefix("started") == true }
            await result.add(dropped: sleepers)
        }
        return await (result.verified, result.dropped)
    }
}

actor Counter {
    private(set) var verified = 0
    private(set) var dropped = 0
    func add(verified count: Int) { verified += count }
    func add(dropped count: Int) { dropped += count }
}

/// A program of the soak and what it must produce.
struct SoakProgram: Sendable {
    var name: String
    var params: [String: JSONValue]
    /// Sent after the request (interactive runs).
    var stdinData: String?
    var expectedStatus: Set<String>
    var exitCode: Int?
    var stdout: String?
    var stderrSuffix: String?
    var required: [String] = []

    func submit(id: JSONValue, on client: ProtocolClient) async throws {
        try await client.request(id, Method.run, params)
        if let stdinData { try await client.notify(Method.runStdin, ["id": id, "data": .string(stdinData), "eof": true]) }
    }

    func check(_ run: RunTranscript) -> [String] {
        var problems: [String] = []
        let status = run.status ?? "none"
        if !expectedStatus.contains(status) { problems.append("status \(status), expected \(expectedStatus): \(run.response)") }
        if let exitCode, run.result?["exitCode"]?.intValue != exitCode { problems.append("exit code \(String(describing: run.result?["exitCode"]))") }
        if let stdout, run.stdout != stdout { problems.append("stdout \(run.stdout.prefix(200).debugDescription)") }
        if let stderrSuffix, !run.stderr.hasSuffix(stderrSuffix) { problems.append("stderr \(run.stderr.suffix(200).debugDescription)") }
        let output = run.stdout + run.stderr
        for text in required where !output.contains(text) { problems.append("no '\(text)' in \(output.prefix(300).debugDescription)") }
        if output.contains("ESCAPED") { problems.append("ESCAPED: \(output.prefix(300))") }
        let host = HostTargets.shared
        if output.contains(host.fileSecret) || output.contains(host.environmentSecret) { problems.append("a host secret leaked") }
        if run.states.last != "running" { problems.append("run/status: \(run.states)") }
        let seqs = run.outputs.compactMap { $0["params"]?["seq"]?.intValue }
        if seqs != Array(0..<run.outputs.count) { problems.append("seq \(seqs.prefix(20))") }
        if let result = run.result, result["truncated"] == false {
            let counted = (result["stdoutBytes"]?.intValue ?? -1) + (result["stderrBytes"]?.intValue ?? -1)
            if counted != output.utf8.count, !output.contains("\u{FFFD}") { problems.append("byte counts \(counted) for \(output.utf8.count) bytes") }
        }
        return problems
    }

    static func random(tag: String, using random: inout SplitMix) -> SoakProgram {
        if Int.random(in: 0..<4, using: &random) == 0, let fixture = Soak.fixtures.randomElement(using: &random) {
            return attack(fixture)
        }
        switch Int.random(in: 0..<7, using: &random) {
        case 0:
            let lines = Int.random(in: 1...50, using: &random)
            return SoakProgram(
                name: "lines", params: ["code": .string("for i in range(\(lines)): print('\(tag)', i)")],
                expectedStatus: ["ok"], exitCode: 0, stdout: (0..<lines).map { "\(tag) \($0)\n" }.joined())
        case 1:
            return SoakProgram(
                name: "exit status", params: ["code": .string("import sys\nprint('\(tag) out')\nprint('\(tag) err', file=sys.stderr)\nsys.exit(3)")],
                expectedStatus: ["error"], exitCode: 3, stdout: "\(tag) out\n", stderrSuffix: "\(tag) err\n")
        case 2:
            return SoakProgram(
                name: "stdin", params: ["code": "import sys\nprint(sys.stdin.read()[::-1], end='')", "stdin": .string("\(tag)\nsecond\n")],
                expectedStatus: ["ok"], exitCode: 0, stdout: String("\(tag)\nsecond\n".reversed()))
        case 3:
            return SoakProgram(
                name: "exception", params: ["code": .string("raise ValueError('\(tag)')")],
                expectedStatus: ["error"], exitCode: 1, stdout: "", stderrSuffix: "ValueError: \(tag)\n",
                required: [#"File "main.py", line 1"#])
        case 4:
            return SoakProgram(
                name: "unicode", params: ["code": .string("print('€\(tag)' * 3000)")],
                expectedStatus: ["ok"], exitCode: 0, stdout: String(repeating: "€\(tag)", count: 3000) + "\n")
        case 5:
            return SoakProgram(
                name: "files",
                params: ["code": .string("print(open('data/\(tag).txt').read(), end='')"), "files": ["data/\(tag).txt": .string("payload \(tag)\n")]],
                expectedStatus: ["ok"], exitCode: 0, stdout: "payload \(tag)\n")
        default:
            return SoakProgram(
                name: "interactive", params: ["code": "print(input().upper())", "interactive": true], stdinData: "\(tag)\n",
                expectedStatus: ["ok"], exitCode: 0, stdout: tag.uppercased() + "\n")
        }
    }

    static func attack(_ fixture: MaliciousFixture) -> SoakProgram {
        let files = MaliciousFixture.supportFiles.merging(["host.json": HostTargets.shared.descriptionFile]) { $1 }
        let limits = fixture.limits(preloaded: false)
        var params: [String: JSONValue] = [
            "code": .string(fixture.code), "files": .object(files.mapValues { .string($0) }),
            "timeoutMs": 3000, "maxOutputBytes": .integer(Int64(limits.maxOutputBytes)),
            // The memory the fixtures' verdicts assume (MaliciousFixture.limits).
            "memoryMb": .integer(Int64(limits.memoryBytes >> 20)),
        ]
        if !fixture.returnFiles.isEmpty { params["returnFiles"] = .array(fixture.returnFiles.map { .string($0) }) }
        return SoakProgram(
            name: fixture.name,
            params: params,
            expectedStatus: Set(fixture.expected.map(\.rawValue)), required: fixture.required)
    }
}

/// A small seeded generator, so that a failing soak can be replayed (PYSANDBOX_SOAK_SEED).
struct SplitMix: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1330_11EB
        return z ^ (z >> 31)
    }
}
