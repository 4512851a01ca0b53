import Foundation
import SandboxProtocol
import SandboxRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A chaos soak (issue 23): a real sandboxd on a loopback port, and for 20
/// minutes a seeded random mix of one-off runs (ok, errors, timeouts, memory
/// and output limits, attacks), sessions (open, cells, close, idle),
/// cancels, connections dropped mid-run (closed, or reset), fork-server slot
/// processes killed from outside and sandbox processes killed from outside.
/// Every accepted run gets exactly one verdict; a run's processes end with
/// it; sandboxd's descriptors and memory stay flat; the service still
/// answers at the end. Opt-in: `PYSANDBOX_CHAOS=1`; `PYSANDBOX_CHAOS_SECONDS`
/// shortens it, `PYSANDBOX_CHAOS_SEED` replays a seed's choices (not its timing).
extension SandboxSuite {
    @Suite("Chaos")
    struct ChaosTests {
        static let environment = ProcessInfo.processInfo.environment
        static let isEnabled = environment["PYSANDBOX_CHAOS"] == "1"

        @Test(.enabled(if: isEnabled, "the chaos soak takes 20 minutes; set PYSANDBOX_CHAOS=1 to run it (PYSANDBOX_CHAOS_SECONDS to shorten it)"))
        func chaosSoak() async throws {
            let seconds = Double(Self.environment["PYSANDBOX_CHAOS_SECONDS"] ?? "") ?? 1200
            let seed = UInt64(Self.environment["PYSANDBOX_CHAOS_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
            print("chaos: seed \(seed) (PYSANDBOX_CHAOS_SEED=\(seed) replays its choices), \(Int(seconds)) s")
            try await Chaos(seconds: seconds, seed: seed).run()
        }
    }
}

/// One chaos soak.
struct Chaos {
    var seconds: Double
    var seed: UInt64
    /// Concurrent clients; each opens connection after connection.
    var clients = 6
    static let warm = 2
    /// How far sandboxd's descriptors, threads and resident memory may grow
    /// from the sample after the warm-up to the one at the end (both taken
    /// with no run in flight and the pool full).
    static let fdTolerance = 16
    static let threadTolerance = 8
    static let residentToleranceKb = 64 << 10

    func run() async throws {
        let host = HostTargets.shared
        _ = host.drainContacts()
        let ledger = ChaosLedger()
        let server = try await ChaosServer.start(warm: Self.warm)
        var stopped = false
        defer { if !stopped { server.kill() } }
        let started = ContinuousClock.now

        // Warm-up: the same chaos, long enough that every path has run once.
        let warmUp = min(120, max(10, seconds / 10))
        try await phase(seconds: warmUp, server: server, ledger: ledger, seedOffset: 0)
        let before = try await quiesce(server, ledger: ledger)

        try await phase(seconds: max(0, seconds - warmUp), server: server, ledger: ledger, seedOffset: 1000)
        var after = try await quiesce(server, ledger: ledger)
        let deadline = ContinuousClock.now + .seconds(30)
        while !Self.isClose(after, to: before) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            after = server.resources()
        }

        // The service still answers a plain run correctly.
        try await ProtocolClient.connect(port: server.port) { (client) async throws in
            let run = try await client.run("last", ["code": "print(6 * 7)"], within: .seconds(60))
            #expect(run.status == "ok" && run.stdout == "42\n", "the last run: \(run.response)")
        }

        let status = try await server.stop()
        stopped = true
        let duration = ContinuousClock.now - started
        #expect(status == 0, "sandboxd exited with \(status); its log: \(server.logTail())")
        let leftovers = await HostProcesses.leftovers(within: .seconds(5))
        #expect(leftovers.isEmpty, "sandbox processes outlived sandboxd: \(leftovers)")
        let slots = HostProcess.all().filter { $0.name.hasPrefix("pysandbox-") || $0.uid == OrdinaryUser.id }
        #expect(slots.isEmpty, "processes outlived sandboxd: \(slots)")
        let cgroups = server.cgroupParents().filter { FileManager.default.fileExists(atPath: $0) }
        #expect(cgroups.isEmpty, "cgroups outlived sandboxd: \(cgroups)")
        #expect(host.drainContacts() == [], "a run reached a host listener")
        #expect(host.tampering() == [], "a run changed the host")

        #expect(abs(after.openFiles - before.openFiles) <= Self.fdTolerance, "sandboxd's descriptors: \(before) -> \(after)")
        #expect(abs(after.threads - before.threads) <= Self.threadTolerance, "sandboxd's threads: \(before) -> \(after)")
        #expect(after.residentKb - before.residentKb <= Self.residentToleranceKb, "sandboxd's memory: \(before) -> \(after)")

        let figures = await ledger.figures(duration: duration, before: before, after: after, seed: seed)
        print(figures)
        let problems = await ledger.problems
        #expect(problems.isEmpty, "\(problems.count) problems (seed \(seed)); the first: \(problems.prefix(12).joined(separator: "\n"))")
        let counts = await ledger.counts
        #expect((counts["runs"] ?? 0) > 0 && (counts["sessions"] ?? 0) > 0 && (counts["cancels"] ?? 0) > 0)
        #expect((counts["drops"] ?? 0) > 0 && (counts["kills.slot"] ?? 0) > 0 && (counts["kills.sandbox"] ?? 0) > 0)
    }

    static func isClose(_ after: ServerResources, to before: ServerResources) -> Bool {
        abs(after.openFiles - before.openFiles) <= fdTolerance && abs(after.threads - before.threads) <= threadTolerance
            && after.residentKb - before.residentKb <= residentToleranceKb
    }

    /// `clients` clients, the killer and the watcher, for `seconds`.
    private func phase(seconds: Double, server: ChaosServer, ledger: ChaosLedger, seedOffset: UInt64) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<clients {
                // Each phase's clients have indices of their own, so that no two runs share a tag.
                let client = ChaosClient(
                    index: Int(seedOffset / 100) + index, port: server.port, ledger: ledger, deadline: deadline,
                    seed: seed &+ seedOffset &+ UInt64(index) &* 7919)
                group.addTask { await client.work() }
            }
            let killer = ChaosKiller(server: server, ledger: ledger, deadline: deadline, seed: seed &+ seedOffset &+ 104_729)
            group.addTask { await killer.work() }
            group.addTask { await ChaosWatcher(server: server, ledger: ledger, deadline: deadline).work() }
        }
    }

    /// Waits until nothing runs: the pool is full again and no process of a
    /// run is left; then samples sandboxd.
    private func quiesce(_ server: ChaosServer, ledger: ChaosLedger) async throws -> ServerResources {
        let interpreters = await HostProcess.waitForInterpreters(Self.warm, within: .seconds(60))
        #expect(interpreters == Self.warm, "\(interpreters) sandboxed interpreters once every run ended, not \(Self.warm)")
        let deadline = ContinuousClock.now + .seconds(15)
        var stray = ChaosWatcher.runProcesses()
        while !stray.isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            stray = ChaosWatcher.runProcesses()
        }
        #expect(stray.isEmpty, "processes of runs that ended: \(stray)")
        let orphans = ChaosWatcher.orphans(of: server.pid)
        #expect(orphans.isEmpty, "sandbox processes outside sandboxd's tree: \(orphans)")
        try await Task.sleep(for: .seconds(1))
        return server.resources()
    }
}

/// sandboxd's open descriptors, threads and resident memory.
struct ServerResources: CustomStringConvertible {
    var openFiles: Int
    var threads: Int
    var residentKb: Int

    var description: String { "\(openFiles) fds, \(threads) threads, \(residentKb / 1024) MiB resident" }
}

/// The sandboxd executable, started for the soak, its log in a file.
final class ChaosServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let logPath: String
    var pid: pid_t { process.processIdentifier }

    private init(process: Process, port: Int, logPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
    }

    static func start(warm: Int) async throws -> ChaosServer {
        let logPath = NSTemporaryDirectory() + "pysandbox-chaos-\(getpid()).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ChildProcess.executable("sandboxd"))
        process.arguments = [
            "--port", "0", "--workers", "2", "--warm", "\(warm)", "--preload", "none",
            "--runs-per-minute", "100000", "--shutdown-grace", "5",
        ]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try log.close()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"websocket=ws://127\.0\.0\.1:(\d+)/v1/ws"#, options: .regularExpression),
               let port = Int(text[range].split(separator: ":").last?.split(separator: "/").first ?? "") {
                return ChaosServer(process: process, port: port, logPath: logPath)
            }
            guard process.isRunning else { throw TestFailure("sandboxd exited: \(text)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TestFailure("sandboxd did not say where it listens")
    }

    func resources() -> ServerResources {
        let openFiles = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? -1
        }
        return ServerResources(openFiles: openFiles, threads: field("Threads"), residentKb: field("VmRSS"))
    }

    /// Where sandboxd keeps its runs' cgroups.
    func cgroupParents() -> [String] {
        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        return ["/sys/fs/cgroup/pysandbox-\(pid)"] + hierarchies.flatMap {
            ["/sys/fs/cgroup/\($0)/pysandbox-\(pid)", "/sys/fs/cgroup/\($0)/pysandbox/pysandbox-\(pid)"]
        }
    }

    /// SIGTERM, then its exit status.
    func stop() async throws -> Int32 {
        Glibc.kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        guard !process.isRunning else {
            kill()
            throw TestFailure("sandboxd did not exit within 60 s of SIGTERM")
        }
        return process.terminationStatus
    }

    func kill() {
        if process.isRunning { Glibc.kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    func logTail() -> String {
        String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(4000))
    }
}

/// The host's processes, by parent.
struct ProcessTree {
    let processes: [pid_t: HostProcess]
    let children: [pid_t: [pid_t]]

    init() {
        var processes: [pid_t: HostProcess] = [:]
        var children: [pid_t: [pid_t]] = [:]
        for process in HostProcess.all() {
            processes[process.pid] = process
            children[process.parent, default: []].append(process.pid)
        }
        self.processes = processes
        self.children = children
    }

    /// `root`'s descendants, not `root`.
    func descendants(of root: pid_t) -> [HostProcess] {
        var found: [HostProcess] = []
        var pending = children[root] ?? []
        while let pid = pending.popLast() {
            if let process = processes[pid] { found.append(process) }
            pending += children[pid] ?? []
        }
        return found
    }

    /// The run tags (`r3x17`) that `pid` and its descendants carry as their names.
    func tags(under pid: pid_t) -> [String] {
        ([processes[pid]].compactMap { $0 } + descendants(of: pid)).map(\.name).filter(ChaosTag.isTag)
    }
}

/// Each program first names its process after its run (`/proc/self/comm`),
/// so that a killed process can be traced to its run, and a process to a run
/// that has ended.
enum ChaosTag {
    static func isTag(_ name: String) -> Bool {
        name.first == "r" && name.contains("x") && name.dropFirst().allSatisfy { $0.isNumber || $0 == "x" }
    }

    /// `code`, naming its process `tag` first: on its first line (tracebacks
    /// keep their line numbers), or on a line of its own before a compound statement.
    static func tagged(_ code: String, _ tag: String) -> String {
        let naming = "open('/proc/self/comm', 'w').write('\(tag)')"
        let compound = ["for ", "while ", "if ", "with ", "def ", "class ", "try:", "async ", "@"]
        return compound.contains { code.hasPrefix($0) } ? naming + "\n" + code : naming + "; " + code
    }
}

/// What the soak saw: its figures, what went wrong, which runs were killed,
/// and when each run ended.
actor ChaosLedger {
    private(set) var problems: [String] = []
    private(set) var counts: [String: Int] = [:]
    private var statuses: [String: Int] = [:]
    private var sessionEnds: [String: Int] = [:]
    private var killedTags: Set<String> = []
    /// Kills of processes that carried no tag (warm sandboxes, slots, a session before its first cell).
    private var untaggedKills: [ContinuousClock.Instant] = []
    /// When each tagged run (or session of cells) ended; absent while it lives.
    private var ended: [String: ContinuousClock.Instant] = [:]
    private var reported: Set<pid_t> = []
    /// sandboxd's resident memory in MiB, once a minute while the chaos runs (a trend, not a bound).
    private var residentMiB: [Int] = []

    func sample(_ resources: ServerResources) { residentMiB.append(resources.residentKb / 1024) }

    func problem(_ text: String) {
        if problems.count < 1000 { problems.append(text) }
    }

    func count(_ key: String, _ amount: Int = 1) { counts[key, default: 0] += amount }
    func verdict(_ status: String) { statuses[status, default: 0] += 1 }
    func sessionEnded(_ reason: String) { sessionEnds[reason, default: 0] += 1 }

    func killing(_ tags: [String], kind: String) {
        count("kills.\(kind)")
        if tags.isEmpty { untaggedKills.append(.now) }
        killedTags.formUnion(tags)
    }

    func wasKilled(_ tags: [String]) -> Bool { tags.contains { killedTags.contains($0) } }

    /// Whether a process without a tag was killed within `window` before now
    /// (a warm sandbox or a slot, which a later run may have been given).
    func untaggedKill(since start: ContinuousClock.Instant) -> Bool {
        untaggedKills.contains { $0 >= start }
    }

    private var kinds: [String: String] = [:]
    func label(_ tag: String, _ kind: String) { kinds[tag] = kind }

    func end(_ tags: [String]) {
        let now = ContinuousClock.now
        for tag in tags where ended[tag] == nil { ended[tag] = now }
    }

    /// A process of a run that ended more than `grace` ago, reported once.
    func outlived(_ process: HostProcess, grace: Duration) -> Duration? {
        guard let end = ended[process.name], ContinuousClock.now - end > grace, !reported.contains(process.pid) else { return nil }
        reported.insert(process.pid)
        return ContinuousClock.now - end
    }

    func kind(of tag: String) -> String { kinds[tag] ?? "?" }

    func figures(duration: Duration, before: ServerResources, after: ServerResources, seed: UInt64) -> String {
        func n(_ key: String) -> Int { counts[key] ?? 0 }
        func list(_ values: [String: Int]) -> String {
            values.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        let kills = n("kills.slot") + n("kills.sandbox")
        return """
            chaos figures: \(Int(duration / .seconds(1))) s, seed \(seed); \
            runs \(n("runs")) accepted (\(n("refused")) refused), sessions \(n("sessions")) (\(n("sessionsRefused")) refused) with \(n("cells")) cells, \
            cancels \(n("cancels")), drops \(n("drops")) connections (\(n("resets")) reset) with \(n("droppedRuns")) runs in flight, \
            kills \(kills) (fork-server slots \(n("kills.slot")), sandbox processes \(n("kills.sandbox"))), \
            verdicts \(statuses.values.reduce(0, +)): \(list(statuses)); killed runs' verdicts \(n("disturbed")); \
            session ends: \(list(sessionEnds)); \
            sandboxd fds \(before.openFiles) -> \(after.openFiles), threads \(before.threads) -> \(after.threads), \
            RSS \(before.residentKb / 1024) -> \(after.residentKb / 1024) MiB (under load, a minute apart: \(residentMiB.map(String.init).joined(separator: " ")))
            """
    }
}

/// Kills, at random intervals, a process of a fork-server slot (its
/// supervisor, skeleton init or fork server) or a sandbox process (a run's
/// pid 1 or interpreter, warm or running, or a session's) of sandboxd's.
struct ChaosKiller: Sendable {
    let server: ChaosServer
    let ledger: ChaosLedger
    let deadline: ContinuousClock.Instant
    let seed: UInt64

    func work() async {
        var random = SplitMix(seed: seed)
        while true {
            let pause = Duration.milliseconds(Int.random(in: 1000...6000, using: &random))
            guard ContinuousClock.now + pause < deadline else { return }
            try? await Task.sleep(for: pause)
            let tree = ProcessTree()
            let descendants = tree.descendants(of: server.pid)
            let slotMembers = descendants.filter { ForkServerProcesses.isSlotMember($0.pid) }
            let sandboxed = descendants.filter {
                !ForkServerProcesses.isSlotMember($0.pid) && ($0.uid == OrdinaryUser.id || $0.name == "pysandbox-pid1")
            }
            let slot = Int.random(in: 0..<5, using: &random) < 2
            let candidates = slot ? slotMembers : sandboxed
            guard !candidates.isEmpty else { continue }
            let victim = candidates[Int.random(in: 0..<candidates.count, using: &random)]
            await ledger.killing(tree.tags(under: victim.pid), kind: slot ? "slot" : "sandbox")
            Glibc.kill(victim.pid, SIGKILL)
        }
    }
}

/// Looks every few seconds for processes that outlive their run, and for
/// sandbox processes outside sandboxd's tree.
struct ChaosWatcher: Sendable {
    let server: ChaosServer
    let ledger: ChaosLedger
    let deadline: ContinuousClock.Instant

    /// A run's processes are gone within a second of its end (PROTOCOL.md
    /// §6.3); this much longer and one has outlived its run.
    static let grace = Duration.seconds(10)

    func work() async {
        var suspects: Set<pid_t> = []
        var sampled = ContinuousClock.now
        while ContinuousClock.now + .seconds(3) < deadline {
            try? await Task.sleep(for: .seconds(3))
            if ContinuousClock.now - sampled >= .seconds(60) {
                sampled = .now
                await ledger.sample(server.resources())
            }
            for process in ProcessTree().descendants(of: server.pid) where ChaosTag.isTag(process.name) {
                if let late = await ledger.outlived(process, grace: Self.grace) {
                    let parent = HostProcess(pid: process.parent).map { "\($0)" } ?? "gone"
                    await ledger.problem("a process of run \(process.name) (\(await ledger.kind(of: process.name))) outlived it by \(late): \(process); its parent \(parent)")
                }
            }
            // An orphan seen twice, 3 s apart, is not one on its way out.
            let orphans = Set(Self.orphans(of: server.pid).map(\.pid))
            for pid in orphans.intersection(suspects) {
                await ledger.problem("a sandbox process outside sandboxd's tree: \(HostProcess(pid: pid).map { "\($0)" } ?? "\(pid)")")
            }
            suspects = orphans
        }
    }

    /// Sandbox processes (the sandbox's user, or the launcher's names) that are not sandboxd's descendants.
    static func orphans(of server: pid_t) -> [HostProcess] {
        let tree = ProcessTree()
        let ours = Set(tree.descendants(of: server).map(\.pid))
        return tree.processes.values.filter {
            !ours.contains($0.pid) && ($0.uid == OrdinaryUser.id || $0.name.hasPrefix("pysandbox-"))
        }
    }

    /// Processes that carry a run's tag: every one of them belongs to a run or session that has ended, once all have.
    static func runProcesses() -> [HostProcess] {
        HostProcess.all().filter { ChaosTag.isTag($0.name) }
    }
}

/// One connection's bookkeeping.
final class ChaosConnection: @unchecked Sendable {
    /// Runs accepted and answered, and runs in flight when the test dropped the connection.
    var answered: [JSONValue] = []
    var inFlightAtDrop: [JSONValue] = []
    var liveTags: [String] = []
    var sessions: [ChaosSession] = []
    var dropped = false
}

final class ChaosSession: @unchecked Sendable {
    let id: String
    let opened = ContinuousClock.now
    var tags: [String] = []
    var ended = false
    init(id: String) { self.id = id }
}

/// One client of the soak: connection after connection, each a random
/// sequence of actions, until the deadline.
final class ChaosClient: @unchecked Sendable {
    let index: Int
    let port: Int
    let ledger: ChaosLedger
    let deadline: ContinuousClock.Instant
    var random: SplitMix
    private var next: Int64 = 0

    init(index: Int, port: Int, ledger: ChaosLedger, deadline: ContinuousClock.Instant, seed: UInt64) {
        self.index = index
        self.port = port
        self.ledger = ledger
        self.deadline = deadline
        random = SplitMix(seed: seed)
    }

    private func nextRun() -> (id: JSONValue, tag: String) {
        next += 1
        return (.integer(next), "r\(index)x\(next)")
    }

    private func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }

    func work() async {
        while ContinuousClock.now < deadline {
            do {
                if chance(5) {
                    try await reset()
                } else {
                    try await connection()
                }
            } catch {
                await ledger.problem("client \(index): \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// One connection: a few actions, then a close (or a drop mid-run).
    private func connection() async throws {
        let connection = ChaosConnection()
        let actions = Int.random(in: 1...12, using: &random)
        try await ProtocolClient.connect(port: port) { (client) async throws in
            for _ in 0..<actions where ContinuousClock.now < self.deadline {
                try await self.action(client, connection)
                if connection.dropped { break }
            }
            await self.checkConversation(client, connection)
        }
        // Sessions still open end with their connection, and runs in flight with it.
        for session in connection.sessions where !session.ended {
            session.ended = true
            await ledger.sessionEnded("with the connection")
        }
        await ledger.end(connection.liveTags + connection.sessions.flatMap(\.tags))
    }

    private func action(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<40: try await oneOffs(client, connection)
        case 40..<65: try await session(client, connection)
        case 65..<80: try await cancel(client, connection)
        case 80..<90: try await drop(client, connection)
        default: try await Task.sleep(for: .milliseconds(Int.random(in: 50...1000, using: &random)))
        }
    }

    // MARK: one-off runs

    /// One to six runs sent at once, then their transcripts.
    private func oneOffs(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        var sent: [(JSONValue, String, SoakProgram, ContinuousClock.Instant)] = []
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            let (id, tag) = nextRun()
            let program = randomProgram(tag: tag)
            connection.liveTags.append(tag)
            sent.append((id, tag, program, .now))
            await ledger.label(tag, program.name)
            await ledger.count("runs")
            try await program.submit(id: id, on: client)
        }
        for (id, tag, program, start) in sent {
            let run = try await transcript(client, id, tag: tag)
            connection.answered.append(id)
            await ledger.end([tag])
            await judge(run, program, tag: tag, tags: [tag], start: start)
        }
    }

    private func transcript(_ client: ProtocolClient, _ id: JSONValue, tag: String) async throws -> RunTranscript {
        do {
            return try await client.transcript(of: id, within: .seconds(120))
        } catch {
            throw TestFailure("run \(tag): no verdict within 120 s: \(error)")
        }
    }

    /// Checks a verdict against what the program should produce. A run whose
    /// processes (or its session's) the killer killed may end any way, with a verdict.
    private func judge(
        _ run: RunTranscript, _ program: SoakProgram, tag: String, tags: [String], start: ContinuousClock.Instant,
        problems check: ((RunTranscript) -> [String])? = nil
    ) async {
        if let error = run.response["error"] {
            await ledger.count("refused")
            await ledger.problem("run \(tag) (\(program.name)) refused: \(error)")
            return
        }
        guard let status = run.status else {
            await ledger.problem("run \(tag) (\(program.name)): no status in \(run.response)")
            return
        }
        await ledger.verdict(status)
        let problems = check?(run) ?? program.check(run)
        guard !problems.isEmpty else { return }
        if await ledger.wasKilled(tags) {
            await ledger.count("disturbed")
            return
        }
        let untagged = await ledger.untaggedKill(since: start - .seconds(30))
        let message = run.result?["message"]?.stringValue ?? ""
        // A kill the killer could not trace to a run (a slot, a warm sandbox, a
        // session before its first cell named it): a run near it may have been
        // its victim, and may end killed, cancelled with its session, or with a
        // message saying what failed; never otherwise.
        let clear = status == "killed" || (["internalError", "cancelled"].contains(status) && !message.isEmpty)
        if untagged && clear {
            await ledger.count("disturbed")
            return
        }
        await ledger.problem(
            "run \(tag) (\(program.name))\(untagged ? ", after a kill of a warm sandbox or slot" : ""): \(problems.joined(separator: "; ")) \(message)")
    }

    private func randomProgram(tag: String) -> SoakProgram {
        var program: SoakProgram
        switch Int.random(in: 0..<10, using: &random) {
        case 0:
            program = SoakProgram(
                name: "timeout", params: ["code": .string("import time\nprint('\(tag)', flush=True)\nwhile True: time.sleep(0.02)"),
                                          "timeoutMs": .integer(Int64(Int.random(in: 200...800, using: &random)))],
                expectedStatus: ["timeout"], stdout: "\(tag)\n")
        case 1:
            program = SoakProgram(
                name: "cpu time", params: ["code": "while True: pass", "cpuTimeMs": 300, "timeoutMs": 20000],
                expectedStatus: ["timeout"], stdout: "")
        case 2:
            program = SoakProgram(
                name: "memory", params: ["code": "b = bytearray(200 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('ESCAPED')", "memoryMb": 48],
                expectedStatus: ["memoryLimit"])
        case 3:
            program = SoakProgram(
                name: "output limit", params: ["code": "for i in range(100000): print('x' * 99)", "maxOutputBytes": 5000],
                expectedStatus: ["outputLimit"])
        default:
            program = SoakProgram.random(tag: tag, using: &random)
        }
        program.params["code"] = .string(ChaosTag.tagged(program.params["code"]?.stringValue ?? "", tag))
        return program
    }

    // MARK: cancels and drops

    /// A long run cancelled at once (queued, perhaps) or once it has started.
    private func cancel(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        let (id, tag) = nextRun()
        let start = ContinuousClock.now
        connection.liveTags.append(tag)
        try await client.request(id, Method.run, ["code": .string(ChaosTag.tagged(Self.sleeper, tag))])
        await ledger.count("runs")
        await ledger.label(tag, "cancel")
        if chance(70) { await waitForStart(client, id) }
        try await client.notify(Method.cancelRequest, ["id": id])
        await ledger.count("cancels")
        let run = try await transcript(client, id, tag: tag)
        connection.answered.append(id)
        await ledger.end([tag])
        // Cancelled while queued, it never ran: only its status says so.
        await judge(run, SoakProgram(name: "cancelled", params: [:], expectedStatus: ["cancelled"]), tag: tag, tags: [tag], start: start) {
            $0.status == "cancelled" ? [] : ["status \($0.status ?? "none"): \($0.response)"]
        }
    }

    static let sleeper = "import time\nprint('started', flush=True)\ntime.sleep(30)"

    /// Until the run has printed, or has its verdict (killed before it printed).
    private func waitForStart(_ client: ProtocolClient, _ id: JSONValue, within timeout: Duration = .seconds(60)) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let seen = await client.inbox.contains {
                ($0["params"]?["id"] == id && $0["params"]?["text"]?.stringValue?.hasPrefix("started") == true)
                    || ($0["id"] == id && $0["method"] == nil)
            }
            let closed = await client.inbox.closed
            if seen || closed { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Long runs (and perhaps a session's cell) started, then the connection closed under them.
    private func drop(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        var ids: [JSONValue] = []
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let (id, tag) = nextRun()
            connection.liveTags.append(tag)
            try await client.request(id, Method.run, ["code": .string(ChaosTag.tagged(Self.sleeper, tag))])
            await ledger.count("runs")
            await ledger.label(tag, "dropped run")
            ids.append(id)
        }
        if let session = connection.sessions.last(where: { !$0.ended }) {
            let (id, tag) = nextRun()
            session.tags.append(tag)
            await ledger.label(tag, "dropped cell")
            try await client.request(id, Method.run, ["code": .string(ChaosTag.tagged(Self.sleeper, tag)), "session": .string(session.id)])
            ids.append(id)
        }
        await waitForStart(client, ids[0])
        connection.inFlightAtDrop = ids
        connection.dropped = true
        await ledger.count("drops")
        await ledger.count("droppedRuns", ids.count)
    }

    /// A connection reset (no close frame) while its run runs.
    private func reset() async throws {
        let (id, tag) = nextRun()
        let socket = try await RawWebSocket.connect(port: port)
        let request: JSONValue = ["jsonrpc": "2.0", "id": id, "method": "run", "params": ["code": .string(ChaosTag.tagged(Self.sleeper, tag))]]
        try await socket.sendText(request.description)
        await ledger.count("runs")
        await ledger.label(tag, "reset")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, let frame = try await socket.readFrame(within: deadline - ContinuousClock.now) {
            if frame.text.contains("started") || frame.json?["id"] == id { break }
        }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(socket.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        // The socket's deinit closes it: with a zero linger, a reset.
        await ledger.count("drops")
        await ledger.count("resets")
        await ledger.count("droppedRuns")
        await ledger.end([tag])
    }

    // MARK: sessions

    /// A session: cells (a counter kept across them, errors, timeouts, cancels,
    /// output limits), then a close, its idle timeout, or its connection's end.
    private func session(_ client: ProtocolClient, _ connection: ChaosConnection) async throws {
        next += 1
        var params: [String: JSONValue] = [:]
        let idle = chance(30) ? Int.random(in: 1000...3000, using: &random) : nil
        if let idle { params["idleTimeoutMs"] = .integer(Int64(idle)) }
        let openID = JSONValue.string("open\(next)")
        try await client.request(openID, Method.sessionOpen, params)
        let reply = try await client.response(openID, within: .seconds(60))
        guard let id = reply["result"]?["session"]?.stringValue else {
            if reply["error"]?["code"] == .integer(Int64(RPCErrorCode.tooManySessions.rawValue)) {
                await ledger.count("sessionsRefused")
            } else {
                await ledger.problem("session/open: \(reply)")
            }
            return
        }
        await ledger.count("sessions")
        let session = ChaosSession(id: id)
        connection.sessions.append(session)
        var counter = 0
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            if try await endedNotice(client, session, within: .zero) != nil { break }
            let (runID, tag) = nextRun()
            session.tags.append(tag)
            let start = ContinuousClock.now
            var program: SoakProgram
            var cancels = false
            switch Int.random(in: 0..<10, using: &random) {
            case 0:
                program = SoakProgram(name: "cell error", params: ["code": .string("raise KeyError('\(tag)')")],
                                      expectedStatus: ["error"], exitCode: 1, stderrSuffix: "KeyError: '\(tag)'\n")
            case 1:
                program = SoakProgram(name: "cell timeout", params: ["code": "import time\nwhile True: time.sleep(0.01)", "timeoutMs": 300],
                                      expectedStatus: ["timeout"])
            case 2:
                program = SoakProgram(name: "cell output limit", params: ["code": "for i in range(100000): print('y' * 99)", "maxOutputBytes": 3000],
                                      expectedStatus: ["outputLimit"])
            case 3:
                program = SoakProgram(name: "cell cancelled", params: ["code": .string(Self.sleeper)], expectedStatus: ["cancelled"])
                cancels = true
            default:
                program = SoakProgram(name: "cell", params: ["code": .string("n = globals().get('n', 0) + 1\nprint('\(tag)', n)")],
                                      expectedStatus: ["ok"], exitCode: 0, stdout: "\(tag) \(counter + 1)\n")
            }
            program.params["code"] = .string(ChaosTag.tagged(program.params["code"]?.stringValue ?? "", tag))
            program.params["session"] = .string(id)
            await ledger.label(tag, program.name)
            try await program.submit(id: runID, on: client)
            if cancels {
                await waitForStart(client, runID)
                try await client.notify(Method.cancelRequest, ["id": runID])
                await ledger.count("cancels")
            }
            let run = try await transcript(client, runID, tag: tag)
            if run.response["error"]?["code"] == .integer(Int64(RPCErrorCode.sessionEnded.rawValue)) {
                // It ended before this cell: session/ended says why.
                if try await endedNotice(client, session, within: .seconds(10)) == nil {
                    await ledger.problem("session \(id): a cell was refused (\(run.response)) and no session/ended came")
                }
                break
            }
            connection.answered.append(runID)
            await ledger.count("cells")
            await judge(run, program, tag: tag, tags: session.tags, start: start)
            if program.name == "cell" && run.status == "ok" { counter += 1 }
        }
        if session.ended { return }
        let ending = Int.random(in: 0..<4, using: &random)
        if ending < 2 {
            let closeID = JSONValue.string("close\(next)")
            try await client.request(closeID, Method.sessionClose, ["session": .string(id)])
            let closed = try await client.response(closeID, within: .seconds(60))
            if closed["result"] == .object([:]) {
                session.ended = true
                await ledger.sessionEnded("closed")
            } else if try await endedNotice(client, session, within: .seconds(10)) == nil {
                await ledger.problem("session \(id): session/close answered \(closed) and no session/ended came")
            }
            await ledger.end(session.tags)
        } else if ending == 2, let idle {
            if try await endedNotice(client, session, within: .milliseconds(Int64(idle)) + .seconds(20)) == nil {
                await ledger.problem("session \(id): its idle timeout (\(idle) ms) did not end it")
            }
        }
        // Otherwise it stays open until the connection ends.
    }

    /// Takes `session/ended` for `session` if it comes within `timeout`, and checks its reason.
    private func endedNotice(_ client: ProtocolClient, _ session: ChaosSession, within timeout: Duration) async throws -> String? {
        let matches: @Sendable (JSONValue) -> Bool = {
            $0["method"]?.stringValue == Method.sessionEnded && $0["params"]?["session"]?.stringValue == session.id
        }
        if timeout == .zero, !(await client.inbox.contains(where: matches)) { return nil }
        guard let notice = try? await client.inbox.take(within: max(timeout, .milliseconds(1)), where: matches) else { return nil }
        session.ended = true
        await ledger.end(session.tags)
        let reason = notice["params"]?["reason"]?.stringValue ?? "none"
        let message = notice["params"]?["message"]?.stringValue ?? ""
        await ledger.sessionEnded(reason)
        let killed = await ledger.wasKilled(session.tags)
        let untagged = await ledger.untaggedKill(since: session.opened - .seconds(30))
        switch reason {
        case "idleTimeout", "killed": break
        case "crashed":
            if message.isEmpty { await ledger.problem("session \(session.id) ended crashed with no message") }
            if !killed && !untagged { await ledger.problem("session \(session.id) crashed, though none of its processes was killed: \(message)") }
        default:
            await ledger.problem("session \(session.id) ended: \(notice)")
        }
        return reason
    }

    // MARK: the whole conversation

    /// On a connection the test did not drop mid-run: every run answered
    /// exactly once, nothing about a run after its verdict, nothing unread
    /// but the end of a session. On any: each run answered at most once.
    private func checkConversation(_ client: ProtocolClient, _ connection: ChaosConnection) async {
        if !connection.dropped { try? await Task.sleep(for: .milliseconds(50)) }
        let log = await client.inbox.log
        var responses: [JSONValue: Int] = [:]
        for message in log where message["method"] == nil {
            if let id = message["id"] { responses[id, default: 0] += 1 }
        }
        for id in connection.answered where responses[id] != 1 {
            await ledger.problem("run \(id) of client \(index): \(responses[id] ?? 0) responses")
        }
        for id in connection.inFlightAtDrop where (responses[id] ?? 0) > 1 {
            await ledger.problem("run \(id) of client \(index): \(responses[id] ?? 0) responses")
        }
        let closed = await client.inbox.closed
        if closed && !connection.dropped {
            await ledger.problem("client \(index): the server closed the connection")
        }
        guard !connection.dropped else { return }
        let stray = await client.inbox.pending.filter { $0["method"]?.stringValue != Method.sessionEnded }
        if !stray.isEmpty { await ledger.problem("client \(index): messages after the last verdict: \(stray.prefix(3))") }
        for notice in await client.inbox.pending {
            // A session that ended after its last cell (idle, or killed): its reason is checked as any.
            if let session = connection.sessions.first(where: { $0.id == notice["params"]?["session"]?.stringValue && !$0.ended }) {
                _ = try? await endedNotice(client, session, within: .seconds(1))
            }
        }
    }
}
