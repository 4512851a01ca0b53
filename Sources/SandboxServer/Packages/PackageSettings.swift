import SandboxProtocol
import SandboxRuntime

/// sandboxd's package options: where sets come from, which may be asked
/// for, what they may cost, and where they are kept. On by default, from
/// the default index; a service that cannot keep a store (no installer, no
/// folder it may write) starts without packages and says why, unless the
/// operator asked for them explicitly.
public struct PackageSettings: Sendable {
    /// `--packages none`: off.
    public var enabled = true
    public var source: PackageSource = .defaultIndex
    public var allowed: PackageAllowList = .any
    public var limits = PackageLimits()
    /// The store's folder; nil: `PackageStoreConfiguration.defaultDirectory()`.
    public var directory: String?
    /// uv; nil: `PackageStoreConfiguration.locateInstaller()`.
    public var installer: String?
    /// `--preload-packages`: sets installed at start, held for the
    /// service's life, whose fork servers import them.
    public var preloadSets: [[String]] = []

    public init() {}

    /// Whether the operator chose anything about packages: then a store
    /// that cannot open stops sandboxd instead of turning packages off.
    public var explicitlyConfigured: Bool {
        source != .defaultIndex || allowed != .any || directory != nil || installer != nil || !preloadSets.isEmpty
    }

    /// The store's configuration for `interpreter`, or why there can be none.
    func storeConfiguration(interpreter: Interpreter) -> Result<PackageStoreConfiguration, PackageError> {
        guard let installer = PackageStoreConfiguration.locateInstaller(installer) else {
            return .failure(.unavailable(detail: installer.map { "no installer at \($0)" }
                ?? "uv was not found beside sandboxd, in /usr/local/bin or /usr/bin (./scripts/setup installs it)"))
        }
        guard let directory = directory ?? PackageStoreConfiguration.defaultDirectory() else {
            return .failure(.unavailable(detail: "no folder for the package store (give --package-store DIR)"))
        }
        var configuration = PackageStoreConfiguration(directory: directory, interpreter: interpreter, installer: installer)
        configuration.source = source
        configuration.allowed = allowed
        configuration.limits = limits
        return .success(configuration)
    }

    /// `initialize`'s `limits.packages`.
    var advertised: InitializeResult.Packages {
        let allowedNames: [String]? = switch allowed {
        case .any: nil
        case .only(let names): names.sorted()
        }
        let sourceName = switch source {
        case .defaultIndex, .index: "index"
        case .wheels: "wheels"
        }
        return InitializeResult.Packages(
            maxRequirements: limits.requirements.maxCount, maxRequirementLength: limits.requirements.maxLength,
            maxPackagesPerSet: limits.maxPackagesPerSet, maxSetMb: Int(limits.maxLayerBytes >> 20),
            installTimeoutMs: Int(limits.installTimeout / .milliseconds(1)), source: sourceName, allowed: allowedNames)
    }
}
