import Foundation

/// The Python interpreter runs use, and the host paths it needs inside the sandbox.
public struct Interpreter: Sendable, Equatable {
    /// The real binary (never a pyenv shim or other wrapper script).
    public var executable: String
    /// `sys.prefix` and friends, resolved: the interpreter's standard library lives there.
    public var prefixes: [String]
    /// e.g. "3.11.2"
    public var version: String
    /// The directories `site` would add to `sys.path` (dist-packages on
    /// Debian). The sandbox runs the interpreter without `site`, whose
    /// imports cost 3 ms of every run, and the bootstrap adds these itself.
    public var sitePackages: [String] = []
    /// Which of `ScientificStack.modules` the interpreter can import.
    public var scientificModules: [String] = []
    /// Its standard library's directory, where PEP 668's `EXTERNALLY-MANAGED` marker is read.
    public var standardLibrary: String?

    /// Read-only bind mounts: the prefixes, /usr, and the top-level library
    /// directories that are real directories on this host.
    var readOnlyBinds: [String] {
        var paths = Set(prefixes)
        if FileManager.default.fileExists(atPath: "/usr") { paths.insert("/usr") }
        for entry in Self.topLevelEntries where Self.isDirectory(entry) && !Self.isSymlink(entry) {
            paths.insert(entry)
        }
        // Debian resolves BLAS and LAPACK through /etc/alternatives; its matplotlib reads /etc/matplotlibrc;
        // its certifi (so `import requests`) and ssl's default context read the CA bundle, public data.
        for path in ["/etc/ld.so.cache", "/etc/alternatives", "/etc/matplotlibrc", "/etc/ssl/certs/ca-certificates.crt"]
        where FileManager.default.fileExists(atPath: path) {
            paths.insert(path)
        }
        let sorted = paths.sorted()
        // Drop paths already inside another bind.
        return sorted.filter { path in !sorted.contains { $0 != path && path.hasPrefix($0 + "/") } }
    }

    /// Merged-/usr hosts link /lib, /bin and friends into /usr; the sandbox gets the same links.
    var symlinks: [(target: String, link: String)] {
        Self.topLevelEntries.compactMap { entry in
            guard Self.isSymlink(entry),
                  let target = try? FileManager.default.destinationOfSymbolicLink(atPath: entry)
            else { return nil }
            return (target, entry)
        }
    }

    private static let topLevelEntries = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]

    private static func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

public struct InterpreterNotFound: Error, CustomStringConvertible {
    public var description: String
}

extension Interpreter {
    /// Resolves `path`, or by default `/usr/bin/python3` when present and
    /// otherwise `python3` on PATH, to the real binary by asking the
    /// interpreter itself (`sys.executable`): on some machines `python3` is a
    /// shell shim. Runs only our fixed probe, never user code.
    public static func resolve(path: String? = nil) throws -> Interpreter {
        let candidate: String
        if let path {
            guard path.hasPrefix("/") else { throw InterpreterNotFound(description: "interpreter path '\(path)' must be absolute") }
            candidate = path
        } else if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
            candidate = "/usr/bin/python3"
        } else if let found = searchPath(for: "python3") {
            candidate = found
        } else {
            throw InterpreterNotFound(description: "no python3 found: install python3 or pass the interpreter's path")
        }
        // The probe (Python/interpreter_probe.py) is told the modules to look for in its arguments.
        let probe = String(decoding: PackageResources.interpreter_probe_py, as: UTF8.self)
        let output = try runProbe(candidate, arguments: ["-I", "-S", "-c", probe] + ScientificStack.modules)
        struct Answer: Decodable {
            var executable: String; var version: String; var prefixes: [String]; var sitePackages: [String]; var scientificModules: [String]
            var standardLibrary: String?
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(output.utf8)) else {
            throw InterpreterNotFound(description: "\(candidate) did not answer the probe like a Python 3 interpreter")
        }
        return Interpreter(
            executable: answer.executable, prefixes: answer.prefixes, version: answer.version, sitePackages: answer.sitePackages,
            scientificModules: answer.scientificModules, standardLibrary: answer.standardLibrary)
    }

    private static func searchPath(for name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func runProbe(_ executable: String, arguments: [String], environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw InterpreterNotFound(description: "cannot start \(executable): \(error)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw InterpreterNotFound(description: "\(executable) exited with \(process.terminationStatus) on the probe")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
