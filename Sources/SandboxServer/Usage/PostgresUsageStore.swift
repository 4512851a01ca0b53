import CPostgres
import Foundation
import NIOPosix
import Synchronization

/// Usage in a PostgreSQL database (`--state postgres://…`) that every node
/// behind the load balancer shares, so that a tenant's quota holds across
/// the cluster. libpq, on a thread of the store's own; one connection,
/// made again when it breaks. Each write adds this node's counts in one
/// transaction and reads every node's totals back.
public final class PostgresUsageStore: UsageStore {
    /// The URI as given, shown with its password hidden.
    public let name: String
    private let uri: String
    private let connection: Mutex<Connection?>
    private let thread = NIOThreadPool(numberOfThreads: 1)

    /// The open connection; used under `connection`'s lock only, one call at a time.
    private struct Connection: @unchecked Sendable {
        let handle: OpaquePointer
    }

    /// Connects (within 5 s unless the URI says otherwise) and makes the table.
    public init(uri: String) throws(UsageStoreError) {
        self.uri = uri
        name = UsageStateLocation.postgres(uri).description
        connection = Mutex(nil)
        thread.start()
        try connection.withLock { connection throws(UsageStoreError) in
            connection = try Self.connect(uri, name: name)
        }
    }

    deinit {
        thread.shutdownGracefully { _ in }
        connection.withLock { if let handle = $0?.handle { PQfinish(handle) } }
    }

    public func add(_ deltas: [UsageDelta], reading day: UTCDay) async throws(UsageStoreError) -> [String: UsageTotals] {
        let result: Result<[String: UsageTotals], UsageStoreError>
        do {
            result = try await thread.runIfActive { self.addNow(deltas, reading: day) }
        } catch {
            throw UsageStoreError("\(name): \(error)")
        }
        return try result.get()
    }

    private func addNow(_ deltas: [UsageDelta], reading day: UTCDay) -> Result<[String: UsageTotals], UsageStoreError> {
        connection.withLock { connection in
            do throws(UsageStoreError) {
                // A connection the server dropped (a restart, a failover) is made again once per write.
                if let handle = connection?.handle, PQstatus(handle) != CONNECTION_OK {
                    PQfinish(handle)
                    connection = nil
                }
                if connection == nil { connection = try Self.connect(uri, name: name) }
                guard let handle = connection?.handle else { throw UsageStoreError("\(name): not connected") }
                return .success(try Self.add(deltas, reading: day, on: handle, name: name))
            } catch {
                return .failure(error)
            }
        }
    }

    private static func add(
        _ deltas: [UsageDelta], reading day: UTCDay, on handle: OpaquePointer, name: String
    ) throws(UsageStoreError) -> [String: UsageTotals] {
        if !deltas.isEmpty {
            try run(handle, "BEGIN", name: name)
            do throws(UsageStoreError) {
                for delta in deltas {
                    try run(handle, UsageSQL.upsert(placeholder: { "$\($0)" }), [
                        delta.tenant, delta.day.description, "\(delta.counts.runs)", "\(delta.counts.cpuMs)", "\(delta.counts.sessions)",
                    ], name: name)
                }
                try run(handle, "COMMIT", name: name)
            } catch {
                _ = try? run(handle, "ROLLBACK", name: name)
                throw error
            }
        }
        var totals: [String: UsageTotals] = [:]
        try run(handle, UsageSQL.totals(placeholder: { "$\($0)" }), [day.description], name: name) { result, row in
            func integer(_ column: Int32) -> Int { Int(String(cString: PQgetvalue(result, row, column))) ?? 0 }
            totals[String(cString: PQgetvalue(result, row, 0))] = UsageTotals(
                allTime: UsageCounts(runs: integer(1), cpuMs: integer(2), sessions: integer(3)), day: day,
                onDay: UsageCounts(runs: integer(4), cpuMs: integer(5), sessions: integer(6)))
        }
        return totals
    }

    private static func connect(_ uri: String, name: String) throws(UsageStoreError) -> Connection {
        // Without a connect_timeout libpq waits for the network as long as it takes.
        let bounded = uri.contains("connect_timeout=") ? uri : uri + (uri.contains("?") ? "&" : "?") + "connect_timeout=5"
        guard let handle = PQconnectdb(bounded) else { throw UsageStoreError("\(name): out of memory") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(handle)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(handle)
            throw UsageStoreError("\(name): \(message)")
        }
        do throws(UsageStoreError) {
            try run(handle, "SET statement_timeout = 5000", name: name)
            // Nodes starting together may race to make the table: the loser's error is no error.
            try run(handle, """
                CREATE TABLE IF NOT EXISTS \(UsageSQL.table) (
                    tenant TEXT NOT NULL, day TEXT NOT NULL,
                    runs BIGINT NOT NULL DEFAULT 0, cpu_ms BIGINT NOT NULL DEFAULT 0, sessions BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (tenant, day))
                """, name: name, tolerating: ["23505", "42P07"])
        } catch {
            PQfinish(handle)
            throw error
        }
        return Connection(handle: handle)
    }

    /// Runs `sql` with text parameters; `each` sees every row of its result.
    private static func run(
        _ handle: OpaquePointer, _ sql: String, _ parameters: [String] = [], name: String, tolerating states: Set<String> = [],
        each: (OpaquePointer, Int32) -> Void = { _, _ in }
    ) throws(UsageStoreError) {
        let result = withCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw UsageStoreError("\(name): \(String(cString: PQerrorMessage(handle)))") }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK:
            return
        case PGRES_TUPLES_OK:
            for row in 0..<PQntuples(result) { each(result, row) }
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            if states.contains(state) { return }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw UsageStoreError("\(name): \(message)")
        }
    }

    /// `strings` as C strings that live for `body`'s call.
    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) })
    }
}
