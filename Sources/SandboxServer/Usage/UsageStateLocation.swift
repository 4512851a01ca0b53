import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where tenants' usage is kept (`--state`): `none`, a SQLite file, or a
/// PostgreSQL database that every node behind the load balancer shares.
public enum UsageStateLocation: Sendable, Equatable, CustomStringConvertible {
    /// For the process's life only.
    case memory
    case sqlite(String)
    /// A libpq connection URI, `postgres://user@host/database`.
    case postgres(String)

    /// `none`, `postgres://...` or `postgresql://...`, else a file's path.
    public init(parsing text: String) {
        if text == "none" {
            self = .memory
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            self = .postgres(text)
        } else {
            self = .sqlite(text)
        }
    }

    /// The password of a URI is never shown.
    public var description: String {
        switch self {
        case .memory: return "none"
        case .sqlite(let path): return path
        case .postgres(let uri):
            guard var parts = URLComponents(string: uri), parts.password != nil else { return uri }
            parts.password = "***"
            return parts.string ?? "postgres://***"
        }
    }

    /// `/var/lib/pysandbox/usage.sqlite` as root, else under the user's
    /// state folder (`$XDG_STATE_HOME`, `~/.local/state`) where it can be
    /// written (a user started with another's environment cannot), else in /tmp.
    public static var defaultSQLitePath: String {
        let environment = ProcessInfo.processInfo.environment
        let files = FileManager.default
        if geteuid() == 0 { return "/var/lib/pysandbox/usage.sqlite" }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/"), files.isWritableFile(atPath: state) {
            return state + "/pysandbox/usage.sqlite"
        }
        if let home = environment["HOME"], home.hasPrefix("/"), files.isWritableFile(atPath: home) {
            return home + "/.local/state/pysandbox/usage.sqlite"
        }
        return "/tmp/pysandbox-state-\(geteuid())/usage.sqlite"
    }

    /// Opens the store; throws what is wrong (a file that cannot be made, a database that does not answer).
    public func open() throws(UsageStoreError) -> any UsageStore {
        switch self {
        case .memory: return MemoryUsageStore()
        case .sqlite(let path): return try SQLiteUsageStore(path: path)
        case .postgres(let uri): return try PostgresUsageStore(uri: uri)
        }
    }
}
