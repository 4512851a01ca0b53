import ArgumentParser
import SandboxProtocol
import SandboxRuntime
import SandboxServer

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The one source of the package options' defaults.
let packageDefaults = PackageSettings()

/// sandboxd's package options (`PackageSettings`), declared as `SandboxdOptions` are.
public struct PackageOptions: ParsableArguments {
    @Option(help: "Package sets runs and sessions may name (when uv is found): on, or none to refuse every `packages`.")
    public var packages = packageDefaults.enabled ? "on" : "none"
    @Option(help: "The index packages come from, instead of the installer's default (PyPI), e.g. a mirror.")
    public var packageIndex: String?
    @Option(help: "A folder of wheels packages come from, with no index at all (machines without network).")
    public var packageWheels: String?
    @Option(help: "The package names runs may ask for, comma-separated (their dependencies come with them), or * for any. (default: *)")
    public var allowPackages: String?
    @Option(help: "The package store's folder: installed sets (read-only layers), the installer's cache. (default: /var/cache/pysandbox/package-store as root, else ~/.cache/pysandbox/package-store)")
    public var packageStore: String?
    @Option(help: "The installer, uv. (default: uv beside sandboxd, else /usr/local/bin/uv or /usr/bin/uv)")
    public var packageInstaller: String?
    @Option(help: "A package set (comma-separated requirements) installed at start and imported by its fork servers before they fork runs, so that runs naming it import it at no cost; repeatable. Its modules' import code runs once in each of those fork servers (sandboxed as runs are): preload only sets that start no threads.")
    public var preloadPackages: [String] = []
    @Option(help: "Packages one set may install, dependencies included.")
    public var maxPackagesPerSet = packageDefaults.limits.maxPackagesPerSet
    @Option(help: "One installed set's size on disk, in MiB.")
    public var maxPackageSetMb = Int(packageDefaults.limits.maxLayerBytes >> 20)
    @Option(help: "All installed sets together, in MiB; past it, sets no run is using go, least recently used first.")
    public var packageCacheMb = Int(packageDefaults.limits.maxCacheBytes >> 20)
    @Option(help: "How long resolving and installing one set may take, in ms.")
    public var packageInstallTimeoutMs = packageDefaults.limits.installTimeout.milliseconds
    @Option(help: "Sets installed at the same time; more wait their turn.")
    public var maxPackageInstalls = packageDefaults.limits.maxConcurrentInstalls

    public init() {}

    /// The options as the server takes them; a value that cannot be is a `ValidationError` naming its option.
    public func settings() throws -> PackageSettings {
        var settings = PackageSettings()
        switch packages {
        case "on": settings.enabled = true
        case "none", "off": settings.enabled = false
        case let other: throw ValidationError("--packages: '\(other)' is neither on nor none")
        }
        switch (packageIndex, packageWheels) {
        case (let index?, nil):
            guard index.hasPrefix("https://") || index.hasPrefix("http://") || index.hasPrefix("file://") else {
                throw ValidationError("--package-index: '\(index)' is not an http(s) or file URL")
            }
            settings.source = .index(index)
        case (nil, let wheels?):
            guard wheels.hasPrefix("/") else { throw ValidationError("--package-wheels: '\(wheels)' is not an absolute path") }
            settings.source = .wheels(wheels)
        case (_?, _?): throw ValidationError("--package-index and --package-wheels exclude each other: give one")
        case (nil, nil): break
        }
        if let allowed = allowPackages {
            guard allowed.contains(where: { $0 != "," && !$0.isWhitespace }) else {
                throw ValidationError("--allow-packages: give package names or *; --packages none turns packages off")
            }
            do {
                settings.allowed = try PackageAllowList(parsing: allowed)
            } catch {
                throw ValidationError("--allow-packages: \(error)")
            }
        }
        if let store = packageStore {
            // The launcher's bind option is SOURCE:INSIDE.
            guard store.hasPrefix("/"), !store.contains(":") else {
                throw ValidationError("--package-store: '\(store)' must be an absolute path without ':'")
            }
            settings.directory = store
        }
        settings.installer = packageInstaller
        settings.preloadSets = preloadPackages.map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if settings.preloadSets.contains(where: \.isEmpty) { throw ValidationError("--preload-packages: a set names no package") }
        func positive(_ name: String, _ value: Int) throws -> Int {
            guard value > 0 else { throw ValidationError("--\(name): \(value) must be at least 1") }
            return value
        }
        settings.limits.maxPackagesPerSet = try positive("max-packages-per-set", maxPackagesPerSet)
        settings.limits.maxLayerBytes = Int64(try positive("max-package-set-mb", maxPackageSetMb)) << 20
        settings.limits.maxCacheBytes = Int64(try positive("package-cache-mb", packageCacheMb)) << 20
        settings.limits.installTimeout = .milliseconds(try positive("package-install-timeout-ms", packageInstallTimeoutMs))
        settings.limits.maxConcurrentInstalls = try positive("max-package-installs", maxPackageInstalls)
        guard settings.enabled || !settings.explicitlyConfigured else {
            throw ValidationError("--packages none turns packages off: drop the other package options, or give --packages on")
        }
        return settings
    }
}
