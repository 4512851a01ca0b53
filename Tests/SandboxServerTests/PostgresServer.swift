import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of a test's own (Debian's `postgresql`, which
/// `scripts/setup --tests` installs): a new cluster in a temporary folder,
/// listening on a Unix socket there only, run as `postgres` when the tests
/// run as root (PostgreSQL refuses root), and removed when the test ends.
/// The server is this process's child (`setpriv` execs it; no pg_ctl, whose
/// daemon would outlive the process that waits for it), stopped with SIGINT.
struct PostgresServer {
    let folder: String
    let port: Int
    private let server: Process

    /// A libpq URI for the cluster's `postgres` database over its socket.
    var uri: String { "postgresql:///postgres?host=\(folder)&port=\(port)&user=postgres" }

    static func with<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
        let server = try await start()
        do {
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    private static func binaries() throws -> String {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let newest = versions.compactMap(Int.init).max() else {
            throw TestFailure("PostgreSQL is not installed: apt-get install postgresql (scripts/setup --tests does)")
        }
        return "/usr/lib/postgresql/\(newest)/bin"
    }

    private static func start() async throws -> PostgresServer {
        let bin = try binaries()
        let folder = "/tmp/pysandbox-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var asUser: [String] = []
        if geteuid() == 0 {
            guard let user = getpwnam("postgres") else { throw TestFailure("no user postgres: apt-get install postgresql") }
            chown(folder, user.pointee.pw_uid, user.pointee.pw_gid)
            asUser = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]
        }
        let log = folder + "/log"
        let initdb = try launch(asUser, bin + "/initdb", ["-D", folder + "/data", "-A", "trust", "-U", "postgres", "--no-sync"], folder, log)
        try await finished(initdb, "initdb", log)
        let port = 20_000 + Int.random(in: 0..<20_000)
        let server = try launch(
            asUser, bin + "/postgres",
            ["-D", folder + "/data", "-c", "listen_addresses=", "-k", folder, "-p", "\(port)", "-c", "fsync=off"], folder, log)
        let deadline = ContinuousClock.now + .seconds(30)
        while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready to accept connections") {
            guard server.isRunning, ContinuousClock.now < deadline else {
                if server.isRunning { server.terminate() }
                throw TestFailure("PostgreSQL did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return PostgresServer(folder: folder, port: port, server: server)
    }

    /// Starts `program` in `folder`, its output appended to `log` (which its user may write).
    private static func launch(_ asUser: [String], _ program: String, _ arguments: [String], _ folder: String, _ log: String) throws -> Process {
        if !FileManager.default.fileExists(atPath: log) {
            FileManager.default.createFile(atPath: log, contents: nil)
            if !asUser.isEmpty, let user = getpwnam("postgres") { chown(log, user.pointee.pw_uid, user.pointee.pw_gid) }
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        output.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: asUser.first ?? program)
        process.arguments = asUser.isEmpty ? arguments : Array(asUser.dropFirst()) + [program] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try? output.close()
        return process
    }

    private static func finished(_ process: Process, _ name: String, _ log: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw TestFailure("\(name) did not finish within 60 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(name) failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
    }

    /// Stops the server (SIGINT: a fast shutdown), waits for it, and removes its folder.
    func stop() async {
        if server.isRunning { kill(server.processIdentifier, SIGINT) }
        let deadline = ContinuousClock.now + .seconds(30)
        while server.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if server.isRunning { kill(server.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
