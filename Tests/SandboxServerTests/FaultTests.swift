import Foundation
import SandboxProtocol
@testable import SandboxRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Things going wrong around the service: a run's processes killed from
/// outside, the interpreter disappearing, a client that stops reading. Every
/// run still gets its one verdict, and the service recovers.
extension SandboxSuite {
    @Suite("Faults")
    struct FaultTests {
        /// With a launcher per run (exec): the interpreter; the sandbox's init
        /// (its parent, inside the run's PID namespace); the launcher outside
        /// that supervises it. With a fork server: the interpreter; the run's
        /// pid 1; the fork server; the slot's supervisor outside.
        static let victims: [(Isolation, [(generation: Int, name: String?)])] = [
            (.exec, [(0, nil), (1, "pysandbox-launc"), (2, "pysandbox-launc")]),
            (.fork, [(0, nil), (1, "pysandbox-pid1"), (2, "pysandbox-fork"), (4, "pysandbox-launc")]),
        ]

        @Test(arguments: victims)
        func aRunKilledFromOutsideGetsAVerdictAndThePoolRefills(_ isolation: Isolation, _ targets: [(generation: Int, name: String?)]) async throws {
            let configuration = TestServer.configuration { $0.workers = 2; $0.warm = 2; $0.sandbox.isolation = isolation }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for (generation, targetName) in targets {
                        let name = "victim\(generation)"
                        let code = "open('/proc/self/comm', 'w').write('\(name)')\nimport time\nprint('ready', flush=True)\ntime.sleep(60)"
                        let id = JSONValue.integer(Int64(generation))
                        try await client.request(id, Method.run, ["code": .string(code)])
                        _ = try await client.inbox.take(within: .seconds(30)) { $0["params"]?["id"] == id && $0["params"]?["text"]?.stringValue?.hasPrefix("ready") == true }
                        let interpreter = try #require(HostProcess.all().first { $0.name == name }, "no process named \(name)")
                        let target = try #require(interpreter.ancestor(generation))
                        #expect(target.name == targetName ?? name, "generation \(generation): \(target)")
                        #expect(kill(target.pid, SIGKILL) == 0)

                        let run = try await client.transcript(of: id, within: .seconds(30))
                        let status = run.status ?? ""
                        #expect(["killed", "internalError"].contains(status), "killing \(target.name): \(run.response)")
                        if status == "killed" { #expect(run.result?["signal"] == 9, "\(run.response)") }
                        let message = run.result?["message"]?.stringValue ?? ""
                        #expect((status == "internalError") == !message.isEmpty, "\(run.response)")
                        if target.name == "pysandbox-launc" && generation == targets.last?.generation {
                            // A killed launcher or slot cannot remove its cgroup; the service does.
                            let orphans = try await SharedSandbox.get().cgroups.parents.map { "\($0)/run-\(target.pid)" }
                            let deadline = ContinuousClock.now + .seconds(5)
                            while orphans.contains(where: { FileManager.default.fileExists(atPath: $0) }) && ContinuousClock.now < deadline {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                            #expect(!orphans.contains { FileManager.default.fileExists(atPath: $0) }, "\(orphans)")
                        }
                    }
                    for id in 10..<16 {
                        let run = try await client.run(.integer(Int64(id)), ["code": .string("print(\(id))")])
                        #expect(run.status == "ok" && run.stdout == "\(id)\n", "\(run.response)")
                    }
                }
                // The pool is full again: `warm` interpreters wait, and nothing else is left.
                #expect(await HostProcess.waitForInterpreters(2, within: .seconds(30)) == 2)
            }
            let leftovers = await HostProcesses.leftovers()
            #expect(leftovers.isEmpty, "\(leftovers)")
        }

        /// A session's processes killed from outside while a cell runs: the
        /// interpreter, the session's pid 1, its fork server, its slot's
        /// supervisor. The cell gets a clear verdict (killed by its signal, or
        /// internalError saying what failed); the interpreter's cell is rolled
        /// back and the session goes on, the others end it `crashed` with a
        /// message that invents nothing; and the server goes on (found by the chaos soak:
        /// with its pid 1 killed, the cell ended `error` with neither exit code
        /// nor signal, and the session "exited with status 0").
        @Test(arguments: [(0, "victim"), (1, "pysandbox-pid1"), (2, "pysandbox-fork"), (4, "pysandbox-launc")])
        func aSessionKilledFromOutsideEndsWithAClearReason(_ generation: Int, _ targetName: String) async throws {
            // The interpreters left are counted at the end: a spare session would be one more.
            let configuration = TestServer.configuration { $0.workers = 2; $0.warm = 2; $0.spareSessions = 0 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let session = try await SessionServerTests.open(client, "open")
                    let first = try await client.run(1, ["code": "kept = 1", "session": .string(session)])
                    #expect(first.status == "ok", "\(first.response)")
                    let code = "open('/proc/self/comm', 'w').write('victim')\nimport time\nprint('ready', flush=True)\ntime.sleep(60)"
                    try await client.request(2, Method.run, ["code": .string(code), "session": .string(session)])
                    _ = try await client.inbox.take(within: .seconds(30)) { $0["params"]?["id"] == 2 && $0["params"]?["text"]?.stringValue?.hasPrefix("ready") == true }
                    let interpreter = try #require(HostProcess.all().first { $0.name == "victim" })
                    let target = try #require(interpreter.ancestor(generation))
                    #expect(target.name == targetName, "generation \(generation): \(target)")
                    #expect(kill(target.pid, SIGKILL) == 0)

                    let cell = try await client.transcript(of: 2, within: .seconds(30))
                    let status = cell.status ?? ""
                    let message = cell.result?["message"]?.stringValue ?? ""
                    #expect(status == "killed" || (status == "internalError" && !message.isEmpty), "killing \(target.name): \(cell.response)")
                    if status == "killed" { #expect(cell.result?["signal"] == 9, "\(cell.response)") }
                    if generation == 0 {
                        // The interpreter killed from outside is a cell killed by a signal: rolled back, and the session goes on.
                        #expect(cell.result?["rolledBack"] == true, "\(cell.response)")
                        #expect(try await client.run(3, ["code": "print(kept)", "session": .string(session)]).stdout == "1\n")
                    } else {
                        let ended = try await SessionServerTests.ended(client, session)
                        let reason = ended["params"]?["reason"]?.stringValue ?? ""
                        let why = ended["params"]?["message"]?.stringValue ?? ""
                        #expect(reason == "crashed" && !why.isEmpty && !why.contains("status 0"), "killing \(target.name): \(ended)")
                        try await client.request(3, Method.run, ["code": "print(kept)", "session": .string(session)])
                        #expect(try await client.response(3)["error"]?["code"] == .integer(Int64(RPCErrorCode.sessionEnded.rawValue)))
                    }

                    // The server goes on: a new session, and a one-off run.
                    let again = try await SessionServerTests.open(client, "again")
                    let cellAgain = try await client.run(4, ["code": "print('again')", "session": .string(again)], within: .seconds(60))
                    #expect(cellAgain.status == "ok" && cellAgain.stdout == "again\n", "\(cellAgain.response)")
                    let run = try await client.run(5, ["code": "print(5)"])
                    #expect(run.status == "ok" && run.stdout == "5\n", "\(run.response)")
                }
                #expect(await HostProcess.waitForInterpreters(2, within: .seconds(30)) == 2)
            }
            let leftovers = await HostProcesses.leftovers()
            #expect(leftovers.isEmpty, "\(leftovers)")
        }

        /// With a fork server, the slots started before keep their
        /// interpreter; once they are gone (killed here), new ones cannot start.
        @Test(arguments: Isolation.allCases)
        func aMissingInterpreterGivesInternalErrorsUntilItIsBack(_ isolation: Isolation) async throws {
            let copy = try InterpreterCopy()
            defer { copy.removeAll() }
            let configuration = TestServer.configuration {
                $0.workers = 2
                $0.warm = 2
                $0.sandbox.interpreterPath = copy.executable
                $0.sandbox.isolation = isolation
            }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(try await client.run("before", ["code": "print('before')"]).stdout == "before\n")
                    try copy.remove()
                    if isolation == .fork {
                        for server in ForkServerProcesses.forkServers() where ForkServerProcesses.executable(of: server) == copy.executable {
                            kill(server, SIGKILL)
                        }
                    }
                    // Sandboxes started before may still serve; every other run fails, and says why.
                    var statuses: [String] = []
                    for id in 0..<6 {
                        let run = try await client.run(.integer(Int64(id)), ["code": .string("print(\(id))")], within: .seconds(60))
                        let status = run.status ?? "\(run.response)"
                        statuses.append(status)
                        if status == "internalError" {
                            let message = run.result?["message"]?.stringValue ?? ""
                            // With a fork server, warm runs of the fork servers killed above fail first.
                            #expect(message.contains(copy.executable) || (isolation == .fork && message.contains("fork server")), "\(message)")
                            #expect(run.result?["exitCode"] == .null && run.result?["signal"] == .null, "\(run.response)")
                        } else {
                            #expect(status == "ok" && run.stdout == "\(id)\n", "\(run.response)")
                        }
                    }
                    // At most the two warm sandboxes and the replacement launched as "before"
                    // ended had the interpreter; they may become ready after the first failures.
                    #expect(statuses.filter { $0 == "ok" }.count <= 3, "\(statuses)")
                    #expect(statuses.filter { $0 == "internalError" }.count >= 3, "\(statuses)")

                    try copy.restore()
                    var recovered = false
                    let deadline = ContinuousClock.now + .seconds(60)
                    var attempt: Int64 = 100
                    while !recovered && ContinuousClock.now < deadline {
                        attempt += 1
                        let run = try await client.run(.integer(attempt), ["code": "print('back')"], within: .seconds(60))
                        #expect(run.status == "ok" || run.status == "internalError", "\(run.response)")
                        recovered = run.status == "ok" && run.stdout == "back\n"
                        if !recovered { try await Task.sleep(for: .milliseconds(200)) }
                    }
                    #expect(recovered)
                    for id in 200..<210 {
                        let run = try await client.run(.integer(Int64(id)), ["code": .string("print(\(id))")])
                        #expect(run.status == "ok" && run.stdout == "\(id)\n", "\(run.response)")
                    }
                }
                // The pool is full again (its retries back off at most 5 s).
                #expect(await HostProcess.waitForInterpreters(2, within: .seconds(30)) == 2)
            }
            let leftovers = await HostProcesses.leftovers()
            #expect(leftovers.isEmpty, "\(leftovers)")
        }

        @Test func aClientThatStopsReadingIsDroppedBeforeItsOutputPilesUp() async throws {
            // No warm sandboxes: every sandbox process on the host belongs to a run.
            let configuration = TestServer.configuration { $0.workers = 2; $0.warm = 0 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    _ = try await client.run("warm-up", ["code": "print('x' * 100000)"])
                }
                let before = ProcessResources.current()
                let peak = PeakMemory()
                let sampler = Task {
                    while !Task.isCancelled {
                        peak.record(ProcessResources.current().residentKb)
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
                defer { sampler.cancel() }

                // Sixteen runs of 50 MiB each (cut at 16 MiB), and not one byte read.
                let flooder = try await RawWebSocket.connect(port: port, receiveBuffer: 4096)
                let flood = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(50 * 1024): sys.stdout.write(line)"
                for id in 0..<16 {
                    let params: JSONValue = ["code": .string(flood), "maxOutputBytes": .integer(16 << 20)]
                    let request: JSONValue = ["jsonrpc": "2.0", "id": .integer(Int64(id)), "method": "run", "params": params]
                    try await flooder.sendText(request.description)
                }
                // Meanwhile another client is served as usual.
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for id in 0..<10 {
                        let run = try await client.run(.integer(Int64(id)), ["code": .string("print('bystander', \(id))")], within: .seconds(120))
                        #expect(run.status == "ok" && run.stdout == "bystander \(id)\n", "\(run.response)")
                    }
                }
                // The flood ends: its runs are cancelled with the connection, or run to their output limit.
                let deadline = ContinuousClock.now + .seconds(120)
                var quietSince: ContinuousClock.Instant?
                while ContinuousClock.now < deadline {
                    if HostProcesses.sandboxed().isEmpty {
                        quietSince = quietSince ?? .now
                        if ContinuousClock.now - quietSince! > .seconds(2) { break }
                    } else {
                        quietSince = nil
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let leftovers = HostProcesses.sandboxed()
                #expect(leftovers.isEmpty, "the flood's processes: \(leftovers)")
                let grownMiB = (peak.value - before.residentKb) / 1024
                #expect(grownMiB < 128, "the server buffered about \(grownMiB) MiB for a client that does not read")
                // Only now does the client read: what was on its way, then the end of the connection.
                let (bytes, closed) = try await flooder.discardUntilClosed(within: .seconds(60))
                #expect(closed, "the connection is still open after \(bytes) bytes")
                #expect(bytes < 64 << 20, "\(bytes) bytes were still queued for the client")
            }
        }

        @Test func sigtermWithAClientThatStoppedReadingStillEndsTheServer() async throws {
            let (process, log) = try ShutdownTests.launch(["--port", "0", "--workers", "2", "--shutdown-grace", "2"])
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            let port = try await ShutdownTests.listeningPort(in: log)

            // More than the socket's buffers hold, well within the outbox's limit:
            // only the shutdown can end this connection.
            let flooder = try await RawWebSocket.connect(port: port, receiveBuffer: 4096)
            let flood = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(8 * 1024): sys.stdout.write(line)"
            let params: JSONValue = ["code": .string(flood), "maxOutputBytes": .integer(8 << 20)]
            try await flooder.sendText(#"{"jsonrpc":"2.0","id":1,"method":"run","params":\#(params)}"#)
            try await ProtocolClient.connect(port: port) { (client) async throws in
                try await client.request(1, Method.run, ["code": "import time; time.sleep(1); print('finished')"])
                _ = try await client.inbox.take { $0["params"]?["id"] == 1 && $0["params"]?["state"] == "running" }
                try await Task.sleep(for: .milliseconds(500))
                kill(process.processIdentifier, SIGTERM)
                let run = try await client.transcript(of: 1, within: .seconds(30))
                #expect(run.status == "ok" && run.stdout == "finished\n", "\(run.response)")
                #expect(await client.inbox.waitUntilClosed(within: .seconds(30)))
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning, "sandboxd did not exit: a client that does not read holds it")
            if !process.isRunning { #expect(process.terminationStatus == 0) }
            let (_, closed) = try await flooder.discardUntilClosed(within: .seconds(10))
            #expect(closed)
            let leftovers = await HostProcesses.leftovers()
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }
}

/// A process on this host, as /proc shows it.
struct HostProcess: CustomStringConvertible {
    var pid: pid_t
    var parent: pid_t
    var name: String
    var uid: Int

    static func all() -> [HostProcess] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { Int32($0) }.compactMap(Self.init(pid:))
    }

    /// Interpreters of sandboxes, runs and warm ones alike; not the fork
    /// servers (`--isolation fork`) nor a run's pid 1, their fork.
    static func sandboxedInterpreters() -> [HostProcess] {
        let forkServers = Set(ForkServerProcesses.forkServers())
        return all().filter {
            $0.uid == 65534 && $0.name.hasPrefix("python3") && !forkServers.contains($0.pid) && !forkServers.contains($0.parent)
        }
    }

    /// Waits until `count` sandboxed interpreters exist; returns how many there are.
    static func waitForInterpreters(_ count: Int, within timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        while sandboxedInterpreters().count != count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return sandboxedInterpreters().count
    }

    init?(pid: pid_t) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var fields: [Substring: Substring] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...].drop { $0 == "\t" || $0 == " " }
        }
        self.pid = pid
        parent = Int32(fields["PPid"] ?? "") ?? 0
        name = String(fields["Name"] ?? "")
        uid = Int(fields["Uid"]?.split(separator: "\t").first ?? "") ?? -1
    }

    /// This process (0), its parent (1), its grandparent (2)…
    func ancestor(_ generation: Int) -> HostProcess? {
        var process: HostProcess? = self
        for _ in 0..<generation { process = process.flatMap { HostProcess(pid: $0.parent) } }
        return process
    }

    var description: String { "\(pid) \(name) uid \(uid) parent \(parent)" }
}

/// The highest value recorded.
final class PeakMemory: Sendable {
    private let peak = Mutex(0)
    func record(_ value: Int) { peak.withLock { $0 = max($0, value) } }
    var value: Int { peak.withLock { $0 } }
}

/// A copy of the interpreter outside /usr that a test may take away and put
/// back. Python finds its standard library from a `lib/python3.X` beside
/// `bin`, here a link to the real one, so the copy's prefix is its own
/// directory, which the sandbox then mounts.
struct InterpreterCopy {
    let directory: String
    let executable: String
    private let original: String

    init() throws {
        original = try FileManager.default.destinationOfSymbolicLink(atPath: "/usr/bin/python3")
            .withAbsolutePath(relativeTo: "/usr/bin")
        let version = URL(fileURLWithPath: original).lastPathComponent  // python3.11
        directory = "/var/tmp/pysandbox-interpreter-\(UUID().uuidString.prefix(8))"
        executable = directory + "/bin/python3"
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/lib", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory + "/lib/\(version)", withDestinationPath: "/usr/lib/\(version)")
        try restore()
    }

    func remove() throws {
        try FileManager.default.removeItem(atPath: executable)
    }

    func restore() throws {
        try FileManager.default.copyItem(atPath: original, toPath: executable)
    }

    func removeAll() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension String {
    fileprivate func withAbsolutePath(relativeTo directory: String) -> String {
        hasPrefix("/") ? self : directory + "/" + self
    }
}
