import Foundation
import Synchronization
import TestSupport

/// `scripts/cluster`, run as README shows it: sandboxd nodes behind HAProxy,
/// started for one test and stopped with SIGTERM at its end.
final class Cluster: @unchecked Sendable {
    struct Node {
        var name: String
        var pid: pid_t
        var port: Int
    }

    static let haproxyInstalled = FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy")
    static let root = Checkout.root

    let process = Process()
    private let output = Pipe()
    /// The script's stdout, line by line, as it arrives.
    private final class Received: Sendable {
        let state = Mutex<(lines: [String], partial: String)>(([], ""))
    }
    private let received = Received()
    private var lines: [String] { received.state.withLock { $0.lines } }
    private(set) var nodes: [Node] = []
    private(set) var port = 0
    private(set) var haproxyPid: pid_t?

    /// Starts `nodes` nodes (the test build's sandboxd) with `nodeOptions`,
    /// and returns once the script says the cluster is ready.
    /// `scriptOptions`: the script's own, such as `--postgres`.
    init(nodes count: Int, scriptOptions: [String] = [], nodeOptions: [String] = []) async throws {
        port = try Self.freePortRange(count + 1)
        // The test process ignores SIGTERM and SIGINT (its in-process servers
        // watch them through dispatch), and a shell cannot trap a signal it
        // was started ignoring: env resets them, as a terminal would have them.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal=TERM,INT,HUP", Self.root.appendingPathComponent("scripts/cluster").path,
                             "--nodes", "\(count)", "--port", "\(port)"] + scriptOptions + (nodeOptions.isEmpty ? [] : ["--"] + nodeOptions)
        var environment = ProcessInfo.processInfo.environment
        environment["SANDBOXD"] = ChildProcess.executable("sandboxd")
        process.environment = environment
        process.standardOutput = output
        output.fileHandleForReading.readabilityHandler = { [received] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            received.state.withLock { state in
                state.partial += text
                while let newline = state.partial.firstIndex(of: "\n") {
                    state.lines.append(String(state.partial[..<newline]))
                    state.partial.removeSubrange(...newline)
                }
            }
        }
        try process.run()
        let ready = try await line(within: .seconds(60)) { $0.hasPrefix("cluster ready on ") }
        // cluster ready on ws://127.0.0.1:P/v1/ws (haproxy pid PID)
        haproxyPid = ready.split(separator: " ").last.flatMap { pid_t($0.dropLast()) }
        for line in lines where line.hasPrefix("node ") {
            // node NAME pid PID http://127.0.0.1:PORT/
            let fields = line.split(separator: " ")
            guard fields.count == 5, let pid = pid_t(fields[3]),
                  let port = URLComponents(string: String(fields[4]))?.port
            else { throw TestFailure("cannot read \(line)") }
            nodes.append(Node(name: String(fields[1]), pid: pid, port: port))
        }
        guard nodes.count == count else { throw TestFailure("the script named \(nodes.count) nodes: \(lines) \(ready)") }
    }

    /// Waits for a line of the script's output that matches.
    @discardableResult
    func line(within timeout: Duration, where matches: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = lines.first(where: matches) { return line }
            guard process.isRunning else { throw TestFailure("scripts/cluster exited \(process.terminationStatus): \(lines)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no such line from scripts/cluster within \(timeout): \(lines)")
    }

    func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Stops the cluster (SIGTERM, as Ctrl-C would) and waits for the script.
    func stop() async throws -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("scripts/cluster did not stop within 30 s")
        }
        return process.terminationStatus
    }

    /// Runs `body` with a cluster and stops it afterwards, whatever happens.
    static func with<T>(
        nodes: Int, scriptOptions: [String] = [], nodeOptions: [String] = [], _ body: (Cluster) async throws -> T
    ) async throws -> T {
        let cluster = try await Cluster(nodes: nodes, scriptOptions: scriptOptions, nodeOptions: nodeOptions)
        do {
            let value = try await body(cluster)
            let status = try await cluster.stop()
            guard status == 0 else { throw TestFailure("scripts/cluster exited \(status)") }
            // Nothing of the cluster outlives it: nodes, HAProxy, sandboxes.
            for node in cluster.nodes where kill(node.pid, 0) == 0 {
                throw TestFailure("node \(node.name) (pid \(node.pid)) outlived the cluster")
            }
            if let haproxy = cluster.haproxyPid, kill(haproxy, 0) == 0 { throw TestFailure("HAProxy outlived the cluster") }
            let leftovers = await HostProcesses.leftovers()
            guard leftovers.isEmpty else { throw TestFailure("left behind: \(leftovers)") }
            return value
        } catch {
            _ = try? await cluster.stop()
            throw error
        }
    }

    /// A port P such that P...P+count-1 are free now.
    private static func freePortRange(_ count: Int) throws -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 20_000...40_000)
            if (base..<(base + count)).allSatisfy(isFree) { return base }
        }
        throw TestFailure("no free range of \(count) ports")
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
