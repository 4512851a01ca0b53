import ArgumentParser
import SandboxProtocol
import SandboxRuntime
import SandboxServer

/// sandboxd's package options (`PackageSettings`), each also a `SANDBOXD_*` variable.
struct PackageOptions: ParsableArguments {
    @Option(help: "Package sets runs and sessions may name: on, or none to refuse every `packages`. (default: on, when uv is found; env: SANDBOXD_PACKAGES)")
    var packages: String?
    @Option(help: "The index packages come from, instead of the installer's default (PyPI), e.g. a mirror. (env: SANDBOXD_PACKAGE_INDEX)")
    var packageIndex: String?
    @Option(help: "A folder of wheels packages come from, with no index at all (machines without network). (env: SANDBOXD_PACKAGE_WHEELS)")
    var packageWheels: String?
    @Option(help: "The package names runs may ask for, comma-separated (their dependencies come with them), or * for any. (default: *; env: SANDBOXD_ALLOW_PACKAGES)")
    var allowPackages: String?
    @Option(help: "The package store's folder: installed sets (read-only layers), the installer's cache. (default: /var/cache/pysandbox/package-store as root, else ~/.cache/pysandbox/package-store; env: SANDBOXD_PACKAGE_STORE)")
    var packageStore: String?
    @Option(help: "The installer, uv. (default: uv beside sandboxd, else /usr/local/bin/uv or /usr/bin/uv; env: SANDBOXD_PACKAGE_INSTALLER)")
    var packageInstaller: String?
    @Option(help: "A package set (comma-separated requirements) installed at start and imported by its fork servers before they fork runs, so that runs naming it import it at no cost; repeatable. Its modules' import code runs once in each of those fork servers (sandboxed as runs are): preload only sets that start no threads. (env: SANDBOXD_PRELOAD_PACKAGES, sets separated by ';')")
    var preloadPackages: [String] = []
    @Option(help: "Packages one set may install, dependencies included. (default: 64; env: SANDBOXD_MAX_PACKAGES_PER_SET)")
    var maxPackagesPerSet: Int?
    @Option(help: "One installed set's size on disk, in MiB. (default: 2048; env: SANDBOXD_MAX_PACKAGE_SET_MB)")
    var maxPackageSetMb: Int?
    @Option(help: "All installed sets together, in MiB; past it, sets no run is using go, least recently used first. (default: 10240; env: SANDBOXD_PACKAGE_CACHE_MB)")
    var packageCacheMb: Int?
    @Option(help: "How long resolving and installing one set may take, in ms. (default: 300000; env: SANDBOXD_PACKAGE_INSTALL_TIMEOUT_MS)")
    var packageInstallTimeoutMs: Int?
    @Option(help: "Sets installed at the same time; more wait their turn. (default: 2; env: SANDBOXD_MAX_PACKAGE_INSTALLS)")
    var maxPackageInstalls: Int?

    func settings(_ environment: OptionEnvironment) throws -> PackageSettings {
        var settings = PackageSettings()
        switch try packages ?? environment.string("SANDBOXD_PACKAGES") ?? "on" {
        case "on": settings.enabled = true
        case "none", "off": settings.enabled = false
        case let other: throw ValidationError("--packages: '\(other)' is neither on nor none")
        }
        let index = try packageIndex ?? environment.string("SANDBOXD_PACKAGE_INDEX")
        let wheels = try packageWheels ?? environment.string("SANDBOXD_PACKAGE_WHEELS")
        switch (index, wheels) {
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
        if let allowed = try allowPackages ?? environment.string("SANDBOXD_ALLOW_PACKAGES") {
            guard allowed.contains(where: { $0 != "," && !$0.isWhitespace }) else {
                throw ValidationError("--allow-packages: give package names or *; --packages none turns packages off")
            }
            do {
                settings.allowed = try PackageAllowList(parsing: allowed)
            } catch {
                throw ValidationError("--allow-packages: \(error)")
            }
        }
        if let store = try packageStore ?? environment.string("SANDBOXD_PACKAGE_STORE") {
            // The launcher's bind option is SOURCE:INSIDE.
            guard store.hasPrefix("/"), !store.contains(":") else {
                throw ValidationError("--package-store: '\(store)' must be an absolute path without ':'")
            }
            settings.directory = store
        }
        settings.installer = try packageInstaller ?? environment.string("SANDBOXD_PACKAGE_INSTALLER")
        let preloadSets = try preloadPackages.isEmpty
            ? (environment.string("SANDBOXD_PRELOAD_PACKAGES")?.split(separator: ";").map(String.init) ?? [])
            : preloadPackages
        settings.preloadSets = preloadSets.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        if settings.preloadSets.contains(where: \.isEmpty) { throw ValidationError("--preload-packages: a set names no package") }
        func positive(_ name: String, _ value: Int?) throws -> Int? {
            guard let value else { return nil }
            guard value > 0 else { throw ValidationError("--\(name): \(value) must be at least 1") }
            return value
        }
        if let value = try positive("max-packages-per-set", maxPackagesPerSet ?? environment.int("SANDBOXD_MAX_PACKAGES_PER_SET")) {
            settings.limits.maxPackagesPerSet = value
        }
        if let value = try positive("max-package-set-mb", maxPackageSetMb ?? environment.int("SANDBOXD_MAX_PACKAGE_SET_MB")) {
            settings.limits.maxLayerBytes = Int64(value) << 20
        }
        if let value = try positive("package-cache-mb", packageCacheMb ?? environment.int("SANDBOXD_PACKAGE_CACHE_MB")) {
            settings.limits.maxCacheBytes = Int64(value) << 20
        }
        if let value = try positive(
            "package-install-timeout-ms", packageInstallTimeoutMs ?? environment.int("SANDBOXD_PACKAGE_INSTALL_TIMEOUT_MS")) {
            settings.limits.installTimeout = .milliseconds(value)
        }
        if let value = try positive("max-package-installs", maxPackageInstalls ?? environment.int("SANDBOXD_MAX_PACKAGE_INSTALLS")) {
            settings.limits.maxConcurrentInstalls = value
        }
        guard settings.enabled || !settings.explicitlyConfigured else {
            throw ValidationError("--packages none turns packages off: drop the other package options, or give --packages on")
        }
        return settings
    }
}
