import Foundation
import SandboxProtocol

/// Where packages come from: the operator's choice, never a run's.
public enum PackageSource: Sendable, Equatable, CustomStringConvertible {
    /// The installer's default index (PyPI).
    case defaultIndex
    /// `--package-index URL`: another index (a mirror, a private one).
    case index(String)
    /// `--package-wheels DIR`: a folder of wheels and no index at all, for machines without network.
    case wheels(String)

    public var description: String {
        switch self {
        case .defaultIndex: "the default index"
        case .index(let url): "index \(url)"
        case .wheels(let directory): "wheels in \(directory)"
        }
    }
}

/// `--allow-packages NAME,...` or `*`: which names a run may ask for. Their
/// dependencies come with them: the list is of what may be asked, not of
/// every file installed.
public enum PackageAllowList: Sendable, Equatable {
    case any
    /// PEP 503-normalized names.
    case only(Set<String>)

    /// `*`, or names separated by commas (each a valid package name).
    public init(parsing text: String) throws(PackageRequirementError) {
        if text.trimmingCharacters(in: .whitespaces) == "*" {
            self = .any
            return
        }
        var names = Set<String>()
        for item in text.split(separator: ",") {
            let requirement = try PackageRequirement(parsing: String(item))
            guard requirement.extras.isEmpty, requirement.specifiers.isEmpty else {
                throw PackageRequirementError(requirement: String(item), reason: .name(String(item)))
            }
            names.insert(requirement.normalizedName)
        }
        self = .only(names)
    }

    public func allows(_ normalizedName: String) -> Bool {
        switch self {
        case .any: true
        case .only(let names): names.contains(normalizedName)
        }
    }
}

/// What one service lets package sets cost.
public struct PackageLimits: Sendable, Equatable {
    /// Per requirement and per set, checked before anything is fetched.
    public var requirements = PackageRequirementLimits.standard
    /// Packages in one resolved set (what the layer holds, dependencies included).
    public var maxPackagesPerSet = 64
    /// One layer's size on disk.
    public var maxLayerBytes: Int64 = 2 << 30
    /// Every layer together; least recently used ones not in use are removed past it.
    public var maxCacheBytes: Int64 = 10 << 30
    /// Resolving and installing one set, from the first child process to the rename.
    public var installTimeout: Duration = .seconds(300)
    /// Sets resolved and installed at the same time; more wait their turn.
    public var maxConcurrentInstalls = 2
    /// What is kept of one installer process's output (head and tail).
    public var maxInstallerOutputBytes = 256 << 10

    public init() {}
}

/// Everything a `PackageStore` needs. `--packages none` is the absence of one.
public struct PackageStoreConfiguration: Sendable {
    /// The store's own folder: `layers/` (readable by every sandbox),
    /// `sets/`, `tmp/` and `installer/` (the service's alone).
    public var directory: String
    /// The interpreter runs use; layers are built for it alone.
    public var interpreter: Interpreter
    /// uv's executable.
    public var installer: String
    public var source: PackageSource = .defaultIndex
    public var allowed: PackageAllowList = .any
    public var limits = PackageLimits()

    public init(directory: String, interpreter: Interpreter, installer: String) {
        self.directory = directory
        self.interpreter = interpreter
        self.installer = installer
    }

    /// `/var/cache/pysandbox/package-store` as root (see `ServiceCache`;
    /// `packages/` beside it holds the pip notice every sandbox gets).
    public static func defaultDirectory() -> String? { ServiceCache.directory(named: "package-store") }

    /// uv: the given path, else beside the running executable (where
    /// scripts/setup puts it, and where a deployment copies it with
    /// sandboxd), else /usr/local/bin or /usr/bin.
    public static func locateInstaller(_ explicit: String? = nil) -> String? {
        if let explicit { return FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let beside = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("uv").path
        return [beside, "/usr/local/bin/uv", "/usr/bin/uv"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
