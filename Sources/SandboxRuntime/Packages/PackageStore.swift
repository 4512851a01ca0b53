import Foundation
import Logging
import SandboxProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Package sets, each installed once into a sealed, content-addressed layer
/// that every run asking for the same set shares.
///
/// In its folder: `layers/KEY/` (site-packages and `layer.json`, files 0444,
/// folders 0555: a sandbox may read, nobody but the service may write, and
/// it never does after the rename), `sets/` (which layer a requirement set
/// resolved to, so that a set already installed needs no index at all),
/// `tmp/` (installs in progress, removed at start: a crash never leaves a
/// half-installed layer where a run could find it) and `installer/` (uv's
/// HOME and cache, the resolver view). One store per folder (a lock).
public actor PackageStore {
    public struct Statistics: Sendable, Equatable {
        /// Layers installed by this store.
        public var installs = 0
        /// Installer runs that resolved a set.
        public var resolutions = 0
        public var evictions = 0
        /// Leftovers of an earlier process removed at start.
        public var leftoversRemoved = 0
    }

    private struct Entry {
        var layer: PackageLayer
        var leases = 0
        var lastUsed: Int
    }

    nonisolated public let configuration: PackageStoreConfiguration
    private let logger: Logger
    private let installer: UVInstaller
    private let system: SystemPackages
    /// The interpreter's implementation, ABI and platform: a layer is for it alone.
    private let interpreterTag: String
    private let lock: CInt

    private var entries: [String: Entry] = [:]
    /// Requirement-set key to layer key.
    private var sets: [String: String] = [:]
    /// Requirement sets being resolved or installed: each one's outcome, once there.
    private var inFlight: [String: InstallInFlight] = [:]
    private var activeInstalls = 0
    /// An install ended: requests waiting for its outcome, or for an install slot, look again.
    private let installsChanged = EventCount()
    private var clock = 0
    private var nextLease: UInt64 = 1
    public private(set) var statistics = Statistics()

    private var layersDirectory: String { configuration.directory + "/layers" }
    private var setsDirectory: String { configuration.directory + "/sets" }
    private var temporaryDirectory: String { configuration.directory + "/tmp" }
    private var installerDirectory: String { configuration.directory + "/installer" }

    /// Opens (or makes) the store: takes its lock, removes what an earlier
    /// process left unfinished, reads the layers there are, and prepares
    /// the installer against the system's packages as they are now.
    public init(configuration: PackageStoreConfiguration, logger: Logger) async throws(PackageError) {
        let root = configuration.directory
        guard root.hasPrefix("/"), !root.contains(":") else {
            throw .unavailable(detail: "the package store's folder must be an absolute path without ':' (\(root))")
        }
        guard FileManager.default.isExecutableFile(atPath: configuration.installer) else {
            throw .unavailable(detail: "no installer at \(configuration.installer): run ./scripts/setup, which installs uv beside sandboxd")
        }
        let tag: String
        do {
            tag = try Interpreter.runProbe(
                configuration.interpreter.executable,
                arguments: ["-I", "-S", "-c", "import sys, sysconfig; print(sys.implementation.cache_tag, sysconfig.get_config_var('SOABI'), sysconfig.get_platform(), sys.version.split()[0])"]
            ).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw .unavailable(detail: "cannot ask \(configuration.interpreter.executable) its platform: \(error)")
        }
        let folders: [(String, mode_t)] = [
            (root, 0o755), (root + "/layers", 0o755), (root + "/sets", 0o700), (root + "/tmp", 0o700), (root + "/installer", 0o700),
        ]
        for (folder, mode) in folders {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw .unavailable(detail: "cannot make \(folder): \(error)")
            }
            var info = stat()
            guard lstat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else {
                throw .unavailable(detail: "\(folder) is not a folder of this service's user")
            }
            chmod(folder, mode)
        }
        if let closed = Self.folderClosedToOthers(above: root + "/layers") {
            throw .unavailable(detail: "the sandboxes cannot reach \(root)/layers: \(closed) is not searchable by other users (the launcher opens a layer as the sandbox's user); choose a store whose parent folders are 0755, such as the default")
        }
        let lock = open(root + "/lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lock >= 0 else { throw .unavailable(detail: "cannot open \(root)/lock: \(String(cString: strerror(errno)))") }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            close(lock)
            throw .unavailable(detail: "another process uses the package store \(root)")
        }
        self.lock = lock
        self.configuration = configuration
        self.logger = logger
        interpreterTag = tag
        system = SystemPackages.scan(configuration.interpreter.sitePackages)
        installer = UVInstaller(
            executable: configuration.installer, interpreter: configuration.interpreter.executable, source: configuration.source,
            home: root + "/installer", outputBudget: configuration.limits.maxInstallerOutputBytes)

        statistics.leftoversRemoved = removeLeftovers()
        loadLayers()
        loadSets()
        try await installer.prepare(system: system, deadline: .now + configuration.limits.installTimeout)
        logger.info("package store ready", metadata: [
            "directory": "\(root)", "layers": "\(entries.count)", "bytes": "\(totalBytes)",
            "systemPackages": "\(system.distributions.count)", "source": "\(configuration.source)",
            "leftoversRemoved": "\(statistics.leftoversRemoved)",
        ])
    }

    deinit {
        close(lock)
    }

    /// The layer for a requirement set, installing it first if no layer has
    /// it: held until `release`. Concurrent calls for the same set wait for
    /// one resolution and one install.
    public func lease(_ requirements: PackageRequirementSet) async throws(PackageError) -> PackageLease {
        guard requirements.requirements.count <= configuration.limits.requirements.maxCount else {
            throw .badRequirement(PackageRequirementError(
                requirement: requirements.requirements[configuration.limits.requirements.maxCount].canonical,
                reason: .tooMany(limit: configuration.limits.requirements.maxCount)))
        }
        // The set was parsed against the protocol's limits; this service may have lowered them.
        let maxLength = configuration.limits.requirements.maxLength
        for requirement in requirements.requirements where requirement.canonical.utf8.count > maxLength {
            throw .badRequirement(PackageRequirementError(requirement: requirement.canonical, reason: .tooLong(limit: maxLength)))
        }
        for requirement in requirements.requirements where !configuration.allowed.allows(requirement.normalizedName) {
            throw .notAllowed(name: requirement.normalizedName)
        }
        let setKey = self.setKey(requirements)
        while true {
            if let key = sets[setKey], entries[key] != nil { return makeLease(key) }
            if let install = inFlight[setKey] {
                await installsChanged.wait(until: { install.outcome != nil })
                switch install.outcome {
                case .success(let key)?: if entries[key] != nil { return makeLease(key) }
                case .failure(.cancelled)?, nil: break  // the one installing was cancelled: try again
                case .failure(let error)?: throw error
                }
                if Task.isCancelled { throw .cancelled }
                continue
            }
            let install = InstallInFlight()
            inFlight[setKey] = install
            let result: Result<String, PackageError>
            do throws(PackageError) {
                result = .success(try await resolveAndInstall(requirements, setKey: setKey))
            } catch {
                result = .failure(error)
            }
            var lease: PackageLease?
            if case .success(let key) = result {
                lease = makeLease(key)
                evictIfNeeded()  // a new layer may have taken the cache past its size
            }
            install.outcome = result
            inFlight[setKey] = nil
            installsChanged.notifyAll()
            if let lease { return lease }
            if case .failure(let error) = result { throw error }
        }
    }

    /// As root the launcher opens a layer as the sandbox's own unprivileged
    /// user, which needs every folder on the way searchable by others (as
    /// an ordinary user the sandbox's user is the service's): the first
    /// that is not, if any.
    static func folderClosedToOthers(above path: String) -> String? {
        guard geteuid() == 0 else { return nil }
        var folder = path
        while folder != "/" && !folder.isEmpty {
            var info = stat()
            if stat(folder, &info) == 0, info.st_mode & S_IXOTH == 0 { return folder }
            folder = (folder as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// Another lease of a layer that is here (held by someone already, or
    /// not yet evicted); nil if it is not.
    public func lease(layer key: String) -> PackageLease? {
        entries[key] == nil ? nil : makeLease(key)
    }

    /// Whether a lease of `requirements` would need no installer (and no index): a layer has it.
    public func isInstalled(_ requirements: PackageRequirementSet) -> Bool {
        sets[setKey(requirements)].map { entries[$0] != nil } ?? false
    }

    /// Gives a lease back; past the cache's size, unused layers go, least recently used first.
    public func release(_ lease: PackageLease) {
        guard var entry = entries[lease.layer.key], entry.leases > 0 else { return }
        entry.leases -= 1
        entries[lease.layer.key] = entry
        evictIfNeeded()
    }

    /// A layer held for `body` alone.
    public func withLayer<T: Sendable>(
        for requirements: PackageRequirementSet, _ body: @Sendable (PackageLayer) async throws -> T
    ) async throws -> T {
        let lease = try await lease(requirements)
        do {
            let value = try await body(lease.layer)
            release(lease)
            return value
        } catch {
            release(lease)
            throw error
        }
    }

    /// Every layer there is, most recently used first.
    public var layers: [PackageLayer] { entries.values.sorted { $0.lastUsed > $1.lastUsed }.map(\.layer) }
    public var totalBytes: Int64 { entries.values.reduce(0) { $0 + $1.layer.bytes } }
    /// Leases held on a layer.
    public func leases(of key: String) -> Int { entries[key]?.leases ?? 0 }

    // MARK: Keys

    /// What a requirement set means here: the same words against another
    /// interpreter, other system packages or another source are another set.
    func setKey(_ requirements: PackageRequirementSet) -> String {
        SHA256.hex((["pysandbox-set 1", interpreterTag, system.fingerprint, "\(configuration.source)"] + requirements.canonicalLines)
            .joined(separator: "\n"))
    }

    /// A layer's name: the SHA-256 of its pinned packages, for this
    /// interpreter, these system packages and this source.
    func layerKey(_ packages: [PinnedPackage]) -> String {
        SHA256.hex((["pysandbox-layer 1", interpreterTag, system.fingerprint, "\(configuration.source)"] + packages.sorted().map(\.description))
            .joined(separator: "\n"))
    }

    // MARK: Installing

    private func resolveAndInstall(_ requirements: PackageRequirementSet, setKey: String) async throws(PackageError) -> String {
        await acquireInstallSlot()
        defer { releaseInstallSlot() }
        if Task.isCancelled { throw .cancelled }
        let limits = configuration.limits
        let deadline = ContinuousClock.now + limits.installTimeout
        let resolved: ResolvedSet
        do throws(PackageError) {
            statistics.resolutions += 1
            resolved = try await installer.resolve(requirements, deadline: deadline)
            guard resolved.packages.count <= limits.maxPackagesPerSet else {
                throw PackageError.setTooLarge(packages: resolved.packages.count, limit: limits.maxPackagesPerSet)
            }
            let key = layerKey(resolved.packages)
            if entries[key] == nil {
                try await install(resolved, key: key, deadline: deadline)
            }
            remember(setKey: setKey, layer: key)
            return key
        } catch {
            if case .timedOut = error { throw .timedOut(seconds: Int(limits.installTimeout.components.seconds)) }
            throw error
        }
    }

    /// Installs into `tmp/`, seals, checks the size, and renames into
    /// `layers/`: a layer is complete or absent.
    private func install(_ resolved: ResolvedSet, key: String, deadline: ContinuousClock.Instant) async throws(PackageError) {
        let temporary = temporaryDirectory + "/" + key + "." + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let sitePackages = temporary + "/site-packages"
        do {
            try FileManager.default.createDirectory(atPath: sitePackages, withIntermediateDirectories: true)
        } catch {
            throw .unavailable(detail: "cannot make \(sitePackages): \(error)")
        }
        var renamed = false
        defer { if !renamed { LayerFiles.removeTree(temporary) } }
        let started = ContinuousClock.now
        if !resolved.packages.isEmpty {
            try await installer.install(resolved.packages, into: sitePackages, deadline: deadline)
        }
        if Task.isCancelled { throw .cancelled }
        let bytes = try LayerFiles.seal(sitePackages)
        guard bytes <= configuration.limits.maxLayerBytes else {
            throw .layerTooLarge(bytes: bytes, limit: configuration.limits.maxLayerBytes)
        }
        let manifest = LayerManifest(key: key, interpreter: interpreterTag, packages: resolved.packages, shadows: resolved.shadows, bytes: bytes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            try encoder.encode(manifest).write(to: URL(fileURLWithPath: temporary + "/layer.json"))
        } catch {
            throw .unavailable(detail: "cannot write the layer's manifest: \(error)")
        }
        chmod(temporary + "/layer.json", 0o444)
        // Moving a folder to another parent writes its "..": it stays
        // writable (by the service alone) until it is in place.
        let destination = layersDirectory + "/" + key
        if rename(temporary, destination) != 0 {
            // Another set that pinned the same packages got there first: same key, same content.
            guard errno == EEXIST || errno == ENOTEMPTY, let existing = readLayer(key) else {
                throw .unavailable(detail: "cannot move the layer into place: \(String(cString: strerror(errno)))")
            }
            entries[key] = entries[key] ?? Entry(layer: existing, lastUsed: tick())
            return
        }
        renamed = true
        chmod(destination, 0o555)
        entries[key] = Entry(
            layer: PackageLayer(key: key, path: destination, packages: resolved.packages, shadows: resolved.shadows, bytes: bytes),
            lastUsed: tick())
        statistics.installs += 1
        logger.info("package layer installed", metadata: [
            "layer": "\(key.prefix(16))", "packages": "\(resolved.packages.map(\.description).joined(separator: " "))",
            "shadows": "\(resolved.shadows.map(\.name).joined(separator: " "))", "bytes": "\(bytes)",
            "seconds": "\(ContinuousClock.now - started)",
        ])
    }

    private func acquireInstallSlot() async {
        await installsChanged.wait(until: {
            guard activeInstalls < configuration.limits.maxConcurrentInstalls else { return false }
            activeInstalls += 1
            return true
        })
    }

    private func releaseInstallSlot() {
        activeInstalls -= 1
        installsChanged.notifyAll()
    }

    // MARK: Leases and eviction

    private func tick() -> Int {
        clock += 1
        return clock
    }

    private func makeLease(_ key: String) -> PackageLease {
        entries[key]!.leases += 1
        entries[key]!.lastUsed = tick()
        LayerFiles.touch(entries[key]!.layer.path)
        defer { nextLease += 1 }
        return PackageLease(id: nextLease, layer: entries[key]!.layer)
    }

    private func evictIfNeeded() {
        var total = totalBytes
        guard total > configuration.limits.maxCacheBytes else { return }
        for entry in entries.values.sorted(by: { $0.lastUsed < $1.lastUsed }) where entry.leases == 0 {
            guard total > configuration.limits.maxCacheBytes else { break }
            remove(entry.layer)
            total -= entry.layer.bytes
            statistics.evictions += 1
        }
        if total > configuration.limits.maxCacheBytes {
            logger.warning("package layers in use exceed the cache size", metadata: [
                "bytes": "\(total)", "limit": "\(configuration.limits.maxCacheBytes)",
            ])
        }
    }

    /// Out of `layers/` in one rename, then deleted: a crash in between leaves it in `tmp/`.
    private func remove(_ layer: PackageLayer) {
        entries[layer.key] = nil
        for (setKey, key) in sets where key == layer.key {
            sets[setKey] = nil
            unlink(setsDirectory + "/" + setKey)
        }
        let doomed = temporaryDirectory + "/evicted." + layer.key
        chmod(layer.path, 0o755)
        if rename(layer.path, doomed) == 0 {
            LayerFiles.removeTree(doomed)
        } else {
            LayerFiles.removeTree(layer.path)
        }
        logger.info("package layer evicted", metadata: ["layer": "\(layer.key.prefix(16))", "bytes": "\(layer.bytes)"])
    }

    // MARK: What is on disk

    private func remember(setKey: String, layer key: String) {
        sets[setKey] = key
        let path = setsDirectory + "/" + setKey
        try? Data(key.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    private func removeLeftovers() -> Int {
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory)) ?? []
        for leftover in leftovers { LayerFiles.removeTree(temporaryDirectory + "/" + leftover) }
        if !leftovers.isEmpty {
            logger.notice("removed unfinished package installs", metadata: ["count": "\(leftovers.count)"])
        }
        return leftovers.count
    }

    /// Layers with a manifest that matches their name; anything else in `layers/` is removed.
    private func loadLayers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layersDirectory)) ?? []
        let ordered = names.map { ($0, LayerFiles.modificationTime(layersDirectory + "/" + $0)) }.sorted { $0.1 < $1.1 }
        for (name, _) in ordered {
            guard let layer = readLayer(name) else {
                logger.warning("removing an unreadable package layer", metadata: ["layer": "\(name)"])
                LayerFiles.removeTree(layersDirectory + "/" + name)
                continue
            }
            chmod(layer.path, 0o555)
            entries[name] = Entry(layer: layer, lastUsed: tick())
        }
    }

    private func readLayer(_ key: String) -> PackageLayer? {
        let path = layersDirectory + "/" + key
        guard key.count == 64, key.allSatisfy(\.isHexDigit),
              let data = FileManager.default.contents(atPath: path + "/layer.json"),
              let manifest = try? JSONDecoder().decode(LayerManifest.self, from: data),
              manifest.format == 1, manifest.key == key
        else { return nil }
        return PackageLayer(key: key, path: path, packages: manifest.packages, shadows: manifest.shadows, bytes: manifest.bytes)
    }

    private func loadSets() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: setsDirectory)) ?? [] {
            let path = setsDirectory + "/" + name
            let key = FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
            guard let key, entries[key] != nil else {
                unlink(path)
                continue
            }
            sets[name] = key
        }
    }
}

/// One set being resolved and installed; the requests for the same set wait for its outcome.
private final class InstallInFlight {
    var outcome: Result<String, PackageError>?
}
