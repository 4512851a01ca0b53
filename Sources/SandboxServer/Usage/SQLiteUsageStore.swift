import CSQLite
import Foundation
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Usage in one SQLite file (the default `--state`): it lasts across
/// restarts, and nodes on one machine may share it. Calls run on a thread
/// of the store's own, never on a task's thread, nor on NIO's shared
/// blocking pool, whose threads the sandboxes' waits may all hold.
public final class SQLiteUsageStore: UsageStore {
    public let path: String
    private let database: Mutex<Connection?>
    private let thread = NIOThreadPool(numberOfThreads: 1)

    /// The open database; used under `database`'s lock only, one call at a time.
    private struct Connection: @unchecked Sendable {
        let handle: OpaquePointer
    }

    /// Opens (or makes, readable by its owner only) the database at `path` and its table.
    public init(path: String) throws(UsageStoreError) {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Self.checkOwned(folder)
        }
        let made = open(path, O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard made >= 0 else { throw UsageStoreError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        close(made)
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw UsageStoreError("\(path): \(message)")
        }
        database = Mutex(Connection(handle: handle))
        thread.start()
        try Self.execute(handle, """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            PRAGMA busy_timeout = 5000;
            CREATE TABLE IF NOT EXISTS \(UsageSQL.table) (
                tenant TEXT NOT NULL, day TEXT NOT NULL,
                runs INTEGER NOT NULL DEFAULT 0, cpu_ms INTEGER NOT NULL DEFAULT 0, sessions INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (tenant, day));
            """, path: path)
    }

    /// A folder someone else may write to (a `/tmp/pysandbox-state-UID`
    /// made first by another user) could swap the file for theirs: refused.
    private static func checkOwned(_ folder: String) throws(UsageStoreError) {
        var info = stat()
        guard lstat(folder, &info) == 0 else { throw UsageStoreError("\(folder): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw UsageStoreError("\(folder): not a folder") }
        guard info.st_uid == geteuid() || info.st_uid == 0, info.st_mode & 0o022 == 0 else {
            throw UsageStoreError("\(folder): writable by someone other than its owner, or owned by another user; give the state a folder of sandboxd's own")
        }
    }

    deinit {
        thread.shutdownGracefully { _ in }
        _ = database.withLock { sqlite3_close($0?.handle) }
    }

    public var name: String { "sqlite:\(path)" }

    public func add(_ deltas: [UsageDelta], reading day: UTCDay) async throws(UsageStoreError) -> [String: UsageTotals] {
        let result: Result<[String: UsageTotals], UsageStoreError>
        do {
            result = try await thread.runIfActive { self.addNow(deltas, reading: day) }
        } catch {
            throw UsageStoreError("\(path): \(error)")
        }
        return try result.get()
    }

    private func addNow(_ deltas: [UsageDelta], reading day: UTCDay) -> Result<[String: UsageTotals], UsageStoreError> {
        database.withLock { connection in
            guard let handle = connection?.handle else { return .failure(UsageStoreError("\(path): closed")) }
            do throws(UsageStoreError) {
                if !deltas.isEmpty {
                    try Self.execute(handle, "BEGIN IMMEDIATE", path: path)
                    do throws(UsageStoreError) {
                        for delta in deltas {
                            try Self.run(handle, UsageSQL.upsert(placeholder: { "?\($0)" }), path: path, binding: [
                                .text(delta.tenant), .text(delta.day.description), .integer(delta.counts.runs),
                                .integer(delta.counts.cpuMs), .integer(delta.counts.sessions),
                            ])
                        }
                        try Self.execute(handle, "COMMIT", path: path)
                    } catch {
                        try? Self.execute(handle, "ROLLBACK", path: path)
                        throw error
                    }
                }
                var totals: [String: UsageTotals] = [:]
                try Self.run(handle, UsageSQL.totals(placeholder: { "?\($0)" }), path: path, binding: [.text(day.description)]) { row in
                    totals[row.text(0)] = UsageTotals(
                        allTime: UsageCounts(runs: row.integer(1), cpuMs: row.integer(2), sessions: row.integer(3)), day: day,
                        onDay: UsageCounts(runs: row.integer(4), cpuMs: row.integer(5), sessions: row.integer(6)))
                }
                return .success(totals)
            } catch {
                return .failure(error)
            }
        }
    }

    private enum Value {
        case text(String)
        case integer(Int)
    }

    private struct Row {
        let statement: OpaquePointer
        func text(_ column: Int32) -> String { sqlite3_column_text(statement, column).map { String(cString: $0) } ?? "" }
        func integer(_ column: Int32) -> Int { Int(sqlite3_column_int64(statement, column)) }
    }

    private static func execute(_ handle: OpaquePointer, _ sql: String, path: String) throws(UsageStoreError) {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &message) == SQLITE_OK else {
            defer { sqlite3_free(message) }
            throw UsageStoreError("\(path): \(message.map { String(cString: $0) } ?? "error \(sqlite3_errcode(handle))")")
        }
    }

    private static func run(
        _ handle: OpaquePointer, _ sql: String, path: String, binding values: [Value], each: (Row) -> Void = { _ in }
    ) throws(UsageStoreError) {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw UsageStoreError("\(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        // SQLITE_TRANSIENT: SQLite copies the text, which lives only for this call.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .text(let text): sqlite3_bind_text(statement, position, text, -1, transient)
            case .integer(let number): sqlite3_bind_int64(statement, position, Int64(number))
            }
        }
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: each(Row(statement: statement))
            case SQLITE_DONE: return
            default: throw UsageStoreError("\(path): \(String(cString: sqlite3_errmsg(handle)))")
            }
        }
    }
}

/// The statements both stores run, in the SQL SQLite and PostgreSQL share.
enum UsageSQL {
    static let table = "pysandbox_tenant_usage"

    /// Adds one tenant's day: tenant, day, runs, CPU, sessions.
    static func upsert(placeholder: (Int) -> String) -> String {
        """
        INSERT INTO \(table) (tenant, day, runs, cpu_ms, sessions)
        VALUES (\(placeholder(1)), \(placeholder(2)), \(placeholder(3)), \(placeholder(4)), \(placeholder(5)))
        ON CONFLICT (tenant, day) DO UPDATE SET runs = \(table).runs + excluded.runs,
            cpu_ms = \(table).cpu_ms + excluded.cpu_ms, sessions = \(table).sessions + excluded.sessions
        """
    }

    /// Every tenant's totals, and its day's (the one parameter).
    static func totals(placeholder: (Int) -> String) -> String {
        let day = placeholder(1)
        return """
            SELECT tenant, SUM(runs), SUM(cpu_ms), SUM(sessions),
                SUM(CASE WHEN day = \(day) THEN runs ELSE 0 END), SUM(CASE WHEN day = \(day) THEN cpu_ms ELSE 0 END),
                SUM(CASE WHEN day = \(day) THEN sessions ELSE 0 END)
            FROM \(table) GROUP BY tenant
            """
    }
}
