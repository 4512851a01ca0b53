import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The service's own cache: files it makes at start and binds read-only
/// into every sandbox (matplotlib's font list, the packages notice).
enum ServiceCache {
    /// `/var/cache/pysandbox/NAME` as root, else under the user's cache
    /// directory, or /tmp; only a directory that is ours, no link, and
    /// writable by no one else. nil when there is none such.
    static func directory(named name: String) -> String? {
        let environment = ProcessInfo.processInfo.environment
        let base: String
        if geteuid() == 0 {
            base = "/var/cache/pysandbox"
        } else if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") {
            base = cache + "/pysandbox"
        } else if let home = environment["HOME"], home.hasPrefix("/"), FileManager.default.isWritableFile(atPath: home) {
            base = home + "/.cache/pysandbox"
        } else {
            base = "/tmp/pysandbox-cache-\(geteuid())"
        }
        let directory = base + "/" + name
        guard !directory.contains(":") else { return nil }  // --ro-copy-to SOURCE:INSIDE
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        for path in [base, directory] {
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid(),
                  info.st_mode & 0o022 == 0
            else { return nil }
        }
        return directory
    }
}
