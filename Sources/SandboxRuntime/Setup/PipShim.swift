import Foundation
import Logging

/// pip in every sandbox: a package `pip` of two files
/// (`Sources/SandboxRuntime/Python/pip/`, embedded at build time), copied read-only
/// to `/opt/pysandbox/shims` and first on the path of the run's interpreter
/// and of any Python it starts (`PYTHONPATH`), where it stands in for
/// Debian's. `pip install` asks the service for the packages (a `packages`
/// frame, answered on the run's request channel: `PackagesWanted`); `list`,
/// `freeze` and `show` describe what the interpreter can import.
struct PipShim: Sendable {
    /// Host file and where it is copied inside, for each file.
    var files: [(host: String, inside: String)]

    static let inside = "/opt/pysandbox/shims"

    /// Writes the files into the service's cache; nil (and Debian's pip, which refuses) when it cannot.
    static func prepare(logger: Logger) -> PipShim? {
        guard let directory = ServiceCache.directory(named: "pip-shim") else { return nil }
        let sources = [("__init__.py", PackageResources.__init___py), ("__main__.py", PackageResources.__main___py)]
        var files: [(host: String, inside: String)] = []
        do {
            for (name, bytes) in sources {
                let host = directory + "/" + name
                try Data(bytes).write(to: URL(fileURLWithPath: host), options: .atomic)
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: host)
                files.append((host, inside + "/pip/" + name))
            }
        } catch {
            logger.warning("could not write pip's stand-in; pip in a run gives Debian's refusal", metadata: ["error": "\(error)"])
            return nil
        }
        return PipShim(files: files)
    }
}
