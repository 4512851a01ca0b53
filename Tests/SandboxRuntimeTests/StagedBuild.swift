import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The user README's ordinary-user modes run as: uid and gid 65534, no groups.
enum OrdinaryUser {
    static let id = 65534

    /// `setpriv` options that make the command after them run as this user.
    static let setprivOptions = ["--reuid=\(id)", "--regid=\(id)", "--clear-groups"]
}

/// The build products an ordinary user executes or reads (the launcher, the
/// fork server's library, sandboxd and its resources), copied out of the
/// checkout into a folder under /tmp that every user can reach (0755, files
/// 0755 or 0644). A checkout may be private to root (a clone inside
/// `mktemp -d`, or in root's home folder), so no test hands uid 65534 a path
/// inside it. One folder per test process, staged on first use and removed
/// when the process exits; sandboxd only when a test runs it as that user.
enum StagedBuild {
    private static let staged = Result { try stage() }
    private static let stagedSandboxd = Result { try stageSandboxd() }

    /// The staging folder, beside which nothing of the checkout is needed.
    static func directory() throws -> String { try staged.get() }

    /// The staged `pysandbox-launcher`; the fork server's library is beside it.
    static func launcher() throws -> String { try directory() + "/pysandbox-launcher" }

    /// The staged sandboxd, with the launcher, the fork server's library and
    /// its resource bundle beside it, where it looks for them.
    static func sandboxd() throws -> String { try stagedSandboxd.get() }

    /// Where the build put the products: beside the test binary, or where
    /// `PYSANDBOX_LAUNCHER` and `PYSANDBOX_FORK_RUN_LIBRARY` say.
    private static var buildFolder: URL {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: testBinary).deletingLastPathComponent()
    }

    private static func built(_ name: String, environment variable: String) -> URL {
        ProcessInfo.processInfo.environment[variable].map(URL.init(fileURLWithPath:))
            ?? buildFolder.appendingPathComponent(name)
    }

    private static func stage() throws -> String {
        var template = Array("/tmp/pysandbox-staged-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StagingFailed("mkdtemp: errno \(errno)") }
        let directory = String(cString: made)
        do {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
            let target = URL(fileURLWithPath: directory)
            try copy(built("pysandbox-launcher", environment: "PYSANDBOX_LAUNCHER"),
                     to: target.appendingPathComponent("pysandbox-launcher"), mode: 0o755)
            try copy(built("libpysandbox-fork-run.so", environment: "PYSANDBOX_FORK_RUN_LIBRARY"),
                     to: target.appendingPathComponent("libpysandbox-fork-run.so"), mode: 0o644)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        atexit { StagedBuild.removeAtExit() }
        return directory
    }

    private static func stageSandboxd() throws -> String {
        let target = URL(fileURLWithPath: try directory())
        try copy(buildFolder.appendingPathComponent("sandboxd"), to: target.appendingPathComponent("sandboxd"), mode: 0o755)
        // The page's files: Bundle.module looks beside the executable first.
        let bundles = try FileManager.default.contentsOfDirectory(atPath: buildFolder.path).filter { $0.hasSuffix(".resources") }
        for bundle in bundles {
            try copyTree(buildFolder.appendingPathComponent(bundle), to: target.appendingPathComponent(bundle))
        }
        return target.appendingPathComponent("sandboxd").path
    }

    private static func copy(_ source: URL, to destination: URL, mode: Int) throws {
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw StagingFailed("\(source.path) is not built (swift build builds every product)")
        }
        try FileManager.default.copyItem(at: source, to: destination)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: destination.path)
    }

    /// A copy in which every folder is 0755 and every file 0644.
    private static func copyTree(_ source: URL, to destination: URL) throws {
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o755])
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            var isFolder: ObjCBool = false
            let item = source.appendingPathComponent(name)
            _ = FileManager.default.fileExists(atPath: item.path, isDirectory: &isFolder)
            if isFolder.boolValue {
                try copyTree(item, to: destination.appendingPathComponent(name))
            } else {
                try copy(item, to: destination.appendingPathComponent(name), mode: 0o644)
            }
        }
    }

    /// At exit; staged sandboxes may still be running, but they hold what they opened.
    private static func removeAtExit() {
        if case .success(let directory) = staged { try? FileManager.default.removeItem(atPath: directory) }
    }
}

struct StagingFailed: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = "staging the build for an ordinary user: \(description)" }
}

/// A shell script standing in for the launcher, to run it under other
/// conditions. It lives in the staging folder and runs the staged launcher,
/// so the fork server's library is found beside it, outside the checkout.
struct LauncherWrapper {
    let path: String

    /// `body` is a shell line in which LAUNCHER stands for the real launcher.
    init(_ body: String) throws {
        let launcher = try StagedBuild.launcher()
        path = try StagedBuild.directory() + "/launcher-\(UUID().uuidString).sh"
        let script = "#!/bin/sh\n" + body.replacingOccurrences(of: "LAUNCHER", with: launcher) + "\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755]) else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// The launcher as `OrdinaryUser`: README's ordinary user without a cgroup.
    static func asOrdinaryUser() throws -> LauncherWrapper {
        try LauncherWrapper("exec setpriv \(OrdinaryUser.setprivOptions.joined(separator: " ")) LAUNCHER \"$@\"")
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
