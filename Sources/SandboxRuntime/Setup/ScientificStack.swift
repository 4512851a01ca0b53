import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// numpy, pandas, matplotlib and Pillow, where the interpreter has them:
/// what fork servers preload by default, and matplotlib's font list, built
/// once at service start so that no run scans fonts. (The host paths they
/// read, Debian's `/etc/alternatives` and `/etc/matplotlibrc`, are among
/// `Interpreter.readOnlyBinds`; their environment is `LauncherCommand`'s.)
public struct ScientificStack: Sendable {
    /// Looked for by import name.
    static let modules = ["numpy", "pandas", "matplotlib", "PIL"]

    /// A directory holding matplotlib's font list, bound read-only into every
    /// sandbox at `fontCacheInside`, a path that shows nothing of the host's.
    public var fontCache: String?
    static let fontCacheInside = "/etc/pysandbox/matplotlib"

    /// What the fork servers import when `--preload` is not given: the
    /// installed ones among numpy, pandas and matplotlib.pyplot. (Not dill,
    /// which `session/fork` imports twice at 40 ms each: it adds 5 MB to
    /// every session's interpreter, whose memory limit counts it.)
    public static func defaultPreload(for interpreter: Interpreter) -> [String] {
        ["numpy", "pandas", "matplotlib"].filter(interpreter.scientificModules.contains)
            .map { $0 == "matplotlib" ? "matplotlib.pyplot" : $0 }
    }

    /// Builds (or, when it is current, just loads) matplotlib's font list in
    /// the service's cache directory, with the interpreter on the host: a
    /// fixed script of ours and the installed matplotlib, never user code.
    /// Without matplotlib, or when it fails, runs simply go without (and a
    /// run that imports matplotlib builds its own list, slowly).
    static func prepare(interpreter: Interpreter, logger: Logger) -> ScientificStack {
        guard interpreter.scientificModules.contains("matplotlib") else { return ScientificStack() }
        guard let directory = ServiceCache.directory(named: "matplotlib") else {
            logger.warning("no private directory for matplotlib's font cache; runs that import matplotlib build their own")
            return ScientificStack()
        }
        do {
            _ = try Interpreter.runProbe(
                interpreter.executable, arguments: ["-I", "-c", "import matplotlib.font_manager"],
                environment: ["MPLCONFIGDIR": directory, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"])
        } catch {
            logger.warning("could not build matplotlib's font cache", metadata: ["error": "\(error)"])
            return ScientificStack()
        }
        // Readable by the sandbox's user, whatever the service's umask.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            chmod(directory + "/" + name, 0o644)
        }
        return ScientificStack(fontCache: directory)
    }
}
