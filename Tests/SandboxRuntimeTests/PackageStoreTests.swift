import Foundation
import Logging
import SandboxProtocol
import TestSupport
import Testing

@testable import SandboxRuntime

#if canImport(Glibc)
import Glibc
#endif

/// The package store with real installs by uv from a folder of wheels the
/// tests build themselves (Tests/Fixtures/packages/make_wheels.py): no index.
/// Under the serialized suite, since one test runs a program as the
/// sandbox's uid and the sandbox suites count that uid's processes.
extension SandboxSuite {
    @Suite("Package store")
    struct PackageStoreTests {
        @Test func installsOnceAndReuses() async throws {
            let folder = try PackageTestFolder()
            var store: PackageStore? = try await folder.store()
            let first = try await store!.lease(PackageTestFolder.set("tinytop"))
            #expect(first.layer.packages.map(\.description) == ["tinyleaf==2.0", "tinytop==1.0"])
            #expect(first.layer.shadows.isEmpty)
            #expect(first.layer.path == folder.root + "/store/layers/" + first.layer.key)
            #expect(try PackageTestFolder.importing("import tinytop; print(tinytop.DESCRIPTION)", layer: first.layer) == "top on leaf 2.0")
            await store!.release(first)

            // The same set written otherwise: no installer runs at all.
            let again = try await store!.lease(PackageTestFolder.set(" TinyTop "))
            #expect(again.layer == first.layer)
            #expect(await store!.statistics.installs == 1)
            #expect(await store!.statistics.resolutions == 1)
            await store!.release(again)

            // Another set that pins to the same packages shares the layer.
            let pinned = try await store!.lease(PackageTestFolder.set("tinytop==1.0", "tinyleaf==2.0"))
            #expect(pinned.layer.key == first.layer.key)
            #expect(await store!.statistics.installs == 1)
            await store!.release(pinned)

            // A new process finds it on disk, still without the installer.
            store = nil
            let reopened = try await folder.store()
            let later = try await reopened.lease(PackageTestFolder.set("tinytop"))
            #expect(later.layer == first.layer)
            #expect(await reopened.statistics.resolutions == 0)
            #expect(await reopened.statistics.installs == 0)
        }

        @Test func aCExtensionWheel() async throws {
            let folder = try PackageTestFolder()
            try #require(
                FileManager.default.fileExists(atPath: PackageTestFolder.wheels + "/tinycext-1.0-cp311-cp311-linux_x86_64.whl")
                    || ((try? FileManager.default.contentsOfDirectory(atPath: PackageTestFolder.wheels)) ?? []).contains { $0.hasPrefix("tinycext-") },
                "no C extension wheel was built: install python3-dev (./scripts/setup --tests)")
            let store = try await folder.store()
            let lease = try await store.lease(PackageTestFolder.set("tinycext"))
            #expect(try PackageTestFolder.importing("import tinycext; print(tinycext.add(2, 3))", layer: lease.layer) == "5")
        }

        @Test func theSystemsPackagesStayTheOneCopy() async throws {
            let folder = try PackageTestFolder()
            let shadow = try #require(PackageTestFolder.shadow, "no system package to shadow")
            let store = try await folder.store()
            let system = SystemPackages.scan(try Interpreter.resolve().sitePackages)
            let systemVersion = try #require(system.distributions[shadow]?.version)

            // Present already: an empty layer, nothing installed over it.
            let present = try await store.lease(PackageTestFolder.set(shadow))
            #expect(present.layer.packages.isEmpty)
            #expect(present.layer.shadows.isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: present.layer.sitePackages).isEmpty)

            // A package that needs a newer one gets it in the layer, and says it shadows the system's.
            let newer = try await store.lease(PackageTestFolder.set("needsnewer"))
            #expect(newer.layer.packages.map(\.description).sorted() == ["needsnewer==1.0", "\(shadow)==999.0"])
            #expect(newer.layer.shadows == [ShadowedPackage(name: shadow, systemVersion: systemVersion, layerVersion: "999.0")])
            let manifest = try String(contentsOfFile: newer.layer.path + "/layer.json", encoding: .utf8)
            #expect(manifest.contains("\"systemVersion\" : \"\(systemVersion)\""))
        }

        @Test func refusalsNameTheRequirementAndLeaveNothing() async throws {
            let folder = try PackageTestFolder()
            let marker = PackageTestFolder.sdistMarker
            var limits = PackageLimits()
            limits.maxPackagesPerSet = 1
            limits.maxLayerBytes = 100_000
            let store = try await folder.store(limits: limits, allowed: try PackageAllowList(parsing: "tinyleaf,tinytop,tinybig,sdistonly,nosuch"))
            await #expect(throws: PackageError.noSuchVersion(requirement: "tinyleaf==3.0", detail: "")) {
                try await PackageTestFolder.ignoringDetail { try await store.lease(PackageTestFolder.set("tinyleaf==3.0")) }
            }
            await #expect(throws: PackageError.noSuchVersion(requirement: "tinyleaf>5", detail: "")) {
                try await PackageTestFolder.ignoringDetail { try await store.lease(PackageTestFolder.set("tinyleaf>5")) }
            }
            await #expect(throws: PackageError.unknownPackage(name: "nosuch", detail: "")) {
                try await PackageTestFolder.ignoringDetail { try await store.lease(PackageTestFolder.set("nosuch")) }
            }
            await #expect(throws: PackageError.noWheel(name: "sdistonly", detail: "")) {
                try await PackageTestFolder.ignoringDetail { try await store.lease(PackageTestFolder.set("sdistonly")) }
            }
            #expect(!FileManager.default.fileExists(atPath: marker), "an sdist's setup.py ran on the host")
            await #expect(throws: PackageError.notAllowed(name: "tinyslow")) {
                try await store.lease(PackageTestFolder.set("tinyslow"))
            }
            await #expect(throws: PackageError.setTooLarge(packages: 2, limit: 1)) {
                try await store.lease(PackageTestFolder.set("tinytop"))
            }
            do {
                _ = try await store.lease(PackageTestFolder.set("tinybig"))
                Issue.record("a layer over the size limit was installed")
            } catch let error as PackageError {
                guard case .layerTooLarge(let bytes, 100_000) = error, bytes > 262_144 else { throw error }
                #expect(error.description.contains("the limit is"))
            }
            do {
                _ = try await store.lease(PackageTestFolder.set("nosuch"))
            } catch let error as PackageError {
                #expect(error.description.contains("'nosuch'"), "\(error)")
                #expect(error.description.contains("not found in the provided package locations"), "\(error)")
            }
            #expect(await store.layers.isEmpty)
            #expect(try folder.entries("tmp").isEmpty)
            #expect(try folder.entries("layers").isEmpty)
        }

        @Test func concurrentRequestsForOneSetWaitForOneInstall() async throws {
            let folder = try PackageTestFolder()
            let store = try await folder.store()
            let requirements = try PackageTestFolder.set("tinytop")
            let leases = try await withThrowingTaskGroup(of: PackageLease.self) { group in
                for _ in 0..<4 { group.addTask { try await store.lease(requirements) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(leases.map(\.layer.path)).count == 1)
            #expect(Set(leases.map(\.id)).count == 4)
            #expect(await store.statistics.installs == 1)
            #expect(await store.statistics.resolutions == 1)
            #expect(await store.leases(of: leases[0].layer.key) == 4)
        }

        @Test func leastRecentlyUsedLayersNotInUseAreEvicted() async throws {
            let folder = try PackageTestFolder()
            var limits = PackageLimits()
            limits.maxCacheBytes = 1  // every layer is over it: only leases keep them
            let store = try await folder.store(limits: limits)
            let old = try await store.lease(PackageTestFolder.set("tinyleaf==1.0"))
            await store.release(old)
            #expect(!FileManager.default.fileExists(atPath: old.layer.path), "an unused layer over the limit stays")

            let held = try await store.lease(PackageTestFolder.set("tinyleaf==2.0"))
            let other = try await store.lease(PackageTestFolder.set("tinytop"))
            #expect(FileManager.default.fileExists(atPath: held.layer.path), "a layer in use was evicted")
            await store.release(other)
            #expect(FileManager.default.fileExists(atPath: held.layer.path), "a layer in use was evicted")
            #expect(!FileManager.default.fileExists(atPath: other.layer.path))
            await store.release(held)
            #expect(!FileManager.default.fileExists(atPath: held.layer.path))
            #expect(await store.statistics.evictions == 3)
            #expect(try folder.entries("layers").isEmpty)
            #expect(try folder.entries("sets").isEmpty)

            // Under the limit, the least recently used goes first.
            var roomy = PackageLimits()
            let one = try await folder.store(subfolder: "roomy").lease(PackageTestFolder.set("tinyleaf==1.0")).layer.bytes
            roomy.maxCacheBytes = one * 3 + one / 2
            let lru = try await folder.store(limits: roomy, subfolder: "lru")
            let a = try await lru.lease(PackageTestFolder.set("tinyleaf==1.0"))
            let b = try await lru.lease(PackageTestFolder.set("tinyleaf==2.0"))
            await lru.release(a)
            await lru.release(b)
            let aAgain = try await lru.lease(PackageTestFolder.set("tinyleaf==1.0"))  // a is now the more recent
            await lru.release(aAgain)
            let c = try await lru.lease(PackageTestFolder.set("tinytop==1.0", "tinyleaf==1.0"))
            await lru.release(c)
            #expect(FileManager.default.fileExists(atPath: a.layer.path))
            #expect(!FileManager.default.fileExists(atPath: b.layer.path), "the least recently used layer stays")
            #expect(FileManager.default.fileExists(atPath: c.layer.path))
        }

        @Test func aLayerIsReadOnly() async throws {
            let folder = try PackageTestFolder()
            let store = try await folder.store()
            let lease = try await store.lease(PackageTestFolder.set("tinytop"))
            var checked = 0
            let enumerator = try #require(FileManager.default.enumerator(atPath: lease.layer.path))
            for case let relative as String in enumerator {
                var info = stat()
                #expect(lstat(lease.layer.path + "/" + relative, &info) == 0)
                #expect(info.st_uid == geteuid())
                switch info.st_mode & S_IFMT {
                case S_IFDIR: #expect(info.st_mode & 0o7777 == 0o555, "\(relative)")
                case S_IFREG: #expect(info.st_mode & 0o7777 == 0o444 || info.st_mode & 0o7777 == 0o555, "\(relative)")
                default: Issue.record("\(relative) is neither a file nor a folder")
                }
                checked += 1
            }
            #expect(checked > 5)
            var top = stat()
            #expect(lstat(lease.layer.path, &top) == 0 && top.st_mode & 0o7777 == 0o555)

            // As the sandbox's ordinary user: it imports, and it writes nothing.
            guard geteuid() == 0 else { return }
            let probe = """
                import sys; sys.path.insert(0, \(PackageTestFolder.pythonString(lease.layer.sitePackages)))
                import tinytop, os
                results = [tinytop.DESCRIPTION]
                for attempt in (lambda: open(tinytop.__file__, "a"), lambda: open(os.path.dirname(tinytop.__file__) + "/new.py", "w"),
                                lambda: os.rename(tinytop.__file__, tinytop.__file__ + ".x"), lambda: os.chmod(tinytop.__file__, 0o777)):
                    try:
                        attempt(); results.append("WROTE")
                    except PermissionError:
                        results.append("refused")
                print(" ".join(results))
                """
            let output = try PackageTestFolder.run(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-I", "-c", probe])
            #expect(output == "top on leaf 2.0 refused refused refused refused")
        }

        @Test func anInstallPastItsTimeIsKilledAndLeavesNothing() async throws {
            let folder = try PackageTestFolder()
            var limits = PackageLimits()
            limits.installTimeout = .seconds(3)
            let store = try await folder.store(limits: limits, installer: try folder.stallingInstaller())
            let started = ContinuousClock.now
            await #expect(throws: PackageError.timedOut(seconds: 3)) {
                try await store.lease(PackageTestFolder.set("tinyslow"))
            }
            #expect(ContinuousClock.now - started < .seconds(10))
            try await folder.expectStallerGone()
            #expect(try folder.entries("tmp").isEmpty)
            #expect(try folder.entries("layers").isEmpty)
            // The message says so.
            #expect(PackageError.timedOut(seconds: 3).description == "installing the set took longer than 3 s and was stopped")
        }

        /// With one install at a time, a second set waits for the first to
        /// end: its own time limit starts when its install does.
        @Test func installsAtOnceAreLimited() async throws {
            let folder = try PackageTestFolder()
            var limits = PackageLimits()
            limits.installTimeout = .seconds(2)
            limits.maxConcurrentInstalls = 1
            let store = try await folder.store(limits: limits, installer: try folder.stallingInstaller())
            let started = ContinuousClock.now
            let ended = await withTaskGroup(of: Duration.self) { group in
                for name in ["tinyslow", "tinyleaf"] {
                    group.addTask {
                        await #expect(throws: PackageError.timedOut(seconds: 2)) { try await store.lease(PackageTestFolder.set(name)) }
                        return ContinuousClock.now - started
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }.sorted()
            }
            #expect(ended[0] >= .seconds(2))
            #expect(ended[1] >= .seconds(4), "the second install ran alongside the first: \(ended)")
        }

        @Test func aCancelledInstallLeavesNothing() async throws {
            let folder = try PackageTestFolder()
            let store = try await folder.store(installer: try folder.stallingInstaller())
            let install = Task { try await store.lease(PackageTestFolder.set("tinyslow")) }
            // Wait until the installer has written part of the layer.
            let deadline = ContinuousClock.now + .seconds(30)
            while !FileManager.default.fileExists(atPath: folder.root + "/stalled.pid") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try folder.entries("tmp").count == 1, "the install in progress is in tmp/")
            install.cancel()
            await #expect(throws: PackageError.cancelled) { try await install.value }
            try await folder.expectStallerGone()
            #expect(try folder.entries("tmp").isEmpty)
            #expect(try folder.entries("layers").isEmpty)
        }

        /// The installer killed from outside mid-install (the OOM killer, an
        /// operator): a clear error, its children gone, nothing half-installed kept.
        @Test func anInstallerKilledMidInstallLeavesNothing() async throws {
            let folder = try PackageTestFolder()
            var store: PackageStore? = try await folder.store(installer: try folder.stallingInstaller())
            let install = Task { [store] in try await store!.lease(PackageTestFolder.set("tinyslow")) }
            let deadline = ContinuousClock.now + .seconds(30)
            while !FileManager.default.fileExists(atPath: folder.root + "/stalled.pid") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try folder.entries("tmp").count == 1, "the install in progress is in tmp/")
            let leader = try #require(Int32(try String(contentsOfFile: folder.root + "/stalled.leader", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)))
            kill(leader, SIGKILL)
            do {
                _ = try await install.value
                Issue.record("an install whose installer was killed succeeded")
            } catch let error as PackageError {
                guard case .installerFailed(let detail) = error else { throw error }
                #expect(detail.contains("killed by signal 9"), "\(detail)")
            }
            try await folder.expectStallerGone()
            #expect(try folder.entries("tmp").isEmpty)
            #expect(try folder.entries("layers").isEmpty)
            store = nil
            // The next store installs it for real.
            let real = try await folder.store()
            #expect(await real.statistics.leftoversRemoved == 0)
            let lease = try await real.lease(PackageTestFolder.set("tinyslow"))
            #expect(try PackageTestFolder.importing("import tinyslow; print(tinyslow.VALUE)", layer: lease.layer) == "slow")
        }

        /// What a crash or a kill of the service leaves (an install in
        /// tmp/, something unreadable in layers/) is removed at the next start.
        @Test func leftoversOfAKilledServiceAreRemovedAtStart() async throws {
            let folder = try PackageTestFolder()
            var store: PackageStore? = try await folder.store()
            let good = try await store!.lease(PackageTestFolder.set("tinyleaf==1.0"))
            await store!.release(good)
            store = nil
            let partial = folder.root + "/store/tmp/" + String(repeating: "a", count: 64) + ".x1/site-packages/half"
            try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
            try Data("x = 1".utf8).write(to: URL(fileURLWithPath: partial + "/mod.py"))
            chmod(partial + "/mod.py", 0o444)
            chmod(partial, 0o555)
            let junk = folder.root + "/store/layers/" + String(repeating: "b", count: 64)
            try FileManager.default.createDirectory(atPath: junk + "/site-packages", withIntermediateDirectories: true)
            chmod(junk, 0o555)

            let reopened = try await folder.store()
            #expect(await reopened.statistics.leftoversRemoved == 1)
            #expect(try folder.entries("tmp").isEmpty)
            #expect(try folder.entries("layers") == [good.layer.key])
            let again = try await reopened.lease(PackageTestFolder.set("tinyleaf==1.0"))
            #expect(again.layer == good.layer)
            let fresh = try await reopened.lease(PackageTestFolder.set("tinyslow"))
            #expect(try PackageTestFolder.importing("import tinyslow; print(tinyslow.VALUE)", layer: fresh.layer) == "slow")
        }

        /// As root, a store under a folder other users cannot search would
        /// fail every run that names a set (the launcher opens a layer as the
        /// sandbox's user): refused when it opens, saying which folder.
        @Test(.enabled(if: geteuid() == 0, "only root's sandboxes run as another user than the service"))
        func aStoreTheSandboxesCannotReachIsRefused() async throws {
            let folder = try PackageTestFolder()
            try FileManager.default.createDirectory(atPath: folder.root + "/closed", withIntermediateDirectories: true)
            chmod(folder.root + "/closed", 0o700)
            do {
                _ = try await folder.store(subfolder: "closed/store")
                Issue.record("a store under a 0700 folder opened")
            } catch let error as PackageError {
                #expect("\(error)".contains("\(folder.root)/closed is not searchable by other users"), "\(error)")
            }
        }

        @Test func oneStorePerFolder() async throws {
            let folder = try PackageTestFolder()
            let store = try await folder.store()
            await #expect(throws: PackageError.self) { try await folder.store() }
            _ = store
        }

        /// Opt-in (PYSANDBOX_INDEX_TESTS=1): requests from the real default index.
        @Test(.enabled(if: ProcessInfo.processInfo.environment["PYSANDBOX_INDEX_TESTS"] == "1"))
        func requestsFromTheDefaultIndex() async throws {
            let folder = try PackageTestFolder()
            let store = try await folder.store(source: .defaultIndex)
            let started = ContinuousClock.now
            let lease = try await store.lease(PackageTestFolder.set("requests"))
            let took = ContinuousClock.now - started
            #expect(lease.layer.packages.contains { $0.name == "requests" })
            #expect(try PackageTestFolder.importing("import requests; print(requests.__name__)", layer: lease.layer) == "requests")
            await #expect(throws: PackageError.self) { try await store.lease(PackageTestFolder.set("requests==0.0.0.1")) }
            print("requests from the default index: \(took), \(lease.layer.packages), shadows \(lease.layer.shadows)")
        }
    }
}

/// A store's folder for one test, under a world-traversable folder of its
/// own in /tmp (so that the sandbox's uid can reach the layers), and the
/// shared folder of test wheels.
struct PackageTestFolder {
    let root: String

    init() throws {
        root = Self.base + "/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o755)
    }

    private static let base: String = {
        // What earlier test processes left (each test's store stays for the
        // process's life: its layers are read-only and may be leased still).
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        where entry.hasPrefix("pysandbox-package-tests-") {
            guard let pid = Int32(entry.dropFirst("pysandbox-package-tests-".count)), pid != getpid(),
                  kill(pid, 0) != 0 && errno == ESRCH
            else { continue }
            LayerFiles.removeTree("/tmp/" + entry)
        }
        let base = "/tmp/pysandbox-package-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        chmod(base, 0o755)
        return base
    }()

    static let sdistMarker = base + "/an-sdist-was-built"

    /// A system package the fixtures shadow: a small pure one the system surely has.
    static let shadow: String? = {
        guard let interpreter = try? Interpreter.resolve() else { return nil }
        let system = SystemPackages.scan(interpreter.sitePackages)
        return ["six", "idna", "certifi", "pyparsing", "packaging", "pip"].first { system.distributions[$0] != nil }
    }()

    /// Built once per test process.
    static let wheels: String = {
        let directory = base + "/wheels"
        let script = Checkout.path("Tests/Fixtures/packages/make_wheels.py")
        var arguments = [script, directory, "--sdist-marker", sdistMarker]
        if let shadow { arguments += ["--shadow", shadow] }
        _ = try? run("/usr/bin/python3", arguments)
        return directory
    }()

    /// uv as scripts/setup installs it: beside the test bundle, or in .build/uv.
    static let uv: String? = PackageStoreConfiguration.locateInstaller() ?? {
        let path = Checkout.path(".build/uv/bin/uv")
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    func store(
        limits: PackageLimits = PackageLimits(), allowed: PackageAllowList = .any, installer: String? = nil,
        source: PackageSource? = nil, subfolder: String = "store"
    ) async throws -> PackageStore {
        let uv = try #require(Self.uv, "uv is not installed: run ./scripts/setup --tests")
        var configuration = PackageStoreConfiguration(
            directory: root + "/" + subfolder, interpreter: try Interpreter.resolve(), installer: installer ?? uv)
        configuration.source = source ?? .wheels(Self.wheels)
        configuration.limits = limits
        configuration.allowed = allowed
        var logger = Logger(label: "package-store-tests")
        logger.logLevel = .warning
        return try await PackageStore(configuration: configuration, logger: logger)
    }

    static func set(_ texts: String...) throws -> PackageRequirementSet { try PackageRequirementSet(parsing: texts) }

    func entries(_ name: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root + "/store/" + name)
    }

    /// A uv that resolves for real and, asked to install, writes half a
    /// package, starts a child that holds on, and waits forever.
    func stallingInstaller() throws -> String {
        let uv = try #require(Self.uv)
        let path = root + "/stalling-uv"
        let script = """
            #!/bin/bash
            case " $* " in
            *" --target "*)
                target=""; previous=""
                for argument in "$@"; do [ "$previous" = --target ] && target=$argument; previous=$argument; done
                mkdir -p "$target/tinyslow" && echo "VALUE = 'half'" > "$target/tinyslow/__init__.py"
                echo $$ > \(root)/stalled.leader
                sleep 300 &
                echo $! > \(root)/stalled.pid
                wait ;;
            *) exec \(uv) "$@" ;;
            esac
            """
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        return path
    }

    /// The installer's own child died with it (the process group was killed).
    func expectStallerGone() async throws {
        let text = try String(contentsOfFile: root + "/stalled.pid", encoding: .utf8)
        let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        let deadline = ContinuousClock.now + .seconds(5)
        func alive() -> Bool {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return false }
            return !status.contains("State:\tZ") && status.contains("Name:\tsleep")
        }
        while alive() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!alive(), "the installer's child \(pid) outlived it")
    }

    /// Runs `code` with the layer first on sys.path, as a run would see it.
    static func importing(_ code: String, layer: PackageLayer) throws -> String {
        try run("/usr/bin/python3", ["-I", "-c", "import sys; sys.path.insert(0, \(pythonString(layer.sitePackages)))\n" + code])
    }

    static func pythonString(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "\\'") + "'" }

    /// Errors compared without the installer's own words.
    static func ignoringDetail<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PackageError {
            switch error {
            case .noSuchVersion(let requirement, _): throw PackageError.noSuchVersion(requirement: requirement, detail: "")
            case .unknownPackage(let name, _): throw PackageError.unknownPackage(name: name, detail: "")
            case .noWheel(let name, _): throw PackageError.noWheel(name: name, detail: "")
            default: throw error
            }
        }
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            throw PackageTestFailure(description: "\(executable) \(arguments.first ?? "") exited \(process.terminationStatus): \(text)")
        }
        return text
    }
}

struct PackageTestFailure: Error, CustomStringConvertible {
    var description: String
}

/// The store's pure parts: no installer, no processes.
@Suite("Package store parts")
struct PackageStorePartsTests {
    @Test func sha256MatchesTheStandardsVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var hasher = SHA256()
        for _ in 0..<1000 { hasher.update(String(repeating: "a", count: 1000)) }
        #expect(hasher.finalizeHex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func uvsDryRunIsReadAsPinsAndShadows() throws {
        let output = """
            Using Python 3.11.2 environment at: resolver
            Resolved 2 packages in 21ms
            Would download 2 packages
            Would uninstall 1 package
            Would install 2 packages
             + needsnewer==1.0
             - six==1.16.0
             + Six==999.0
            """
        let resolved = try UVInstaller.parseDryRun(output, truncated: false)
        #expect(resolved.packages == [PinnedPackage(name: "needsnewer", version: "1.0"), PinnedPackage(name: "six", version: "999.0")])
        #expect(resolved.shadows == [ShadowedPackage(name: "six", systemVersion: "1.16.0", layerVersion: "999.0")])
        let nothing = try UVInstaller.parseDryRun("Using Python 3.11.2 environment at: r\nChecked 1 package in 2ms\nWould make no changes\n", truncated: false)
        #expect(nothing.packages.isEmpty && nothing.shadows.isEmpty)
        #expect(throws: PackageError.self) { try UVInstaller.parseDryRun("Resolved 1 package\n", truncated: false) }
        #expect(throws: PackageError.self) { try UVInstaller.parseDryRun("Would install 1 package\n + x==1.0\n", truncated: true) }
        #expect(throws: PackageError.self) { try UVInstaller.parseDryRun("Would install 1 package\n + x @ file:///tmp/x\n", truncated: false) }
    }

    @Test func uvsReasonsBecomeTypedErrors() {
        func failure(_ cause: String) -> PackageError {
            UVInstaller.failure("Using Python 3.11.2 environment at: r\nerror: No solution found when resolving dependencies\n  cause: " + cause, requirements: nil)
        }
        guard case .noSuchVersion("tinyleaf==3.0", _) = failure(
            "Because there is no version of tinyleaf==3.0 and you require tinyleaf==3.0, we can conclude that your requirements are unsatisfiable.")
        else { Issue.record("no such version"); return }
        guard case .noSuchVersion("tinyleaf>5", _) = failure(
            "Because only tinyleaf<=2.0 is available and you require tinyleaf>5, we can conclude that your requirements are unsatisfiable.")
        else { Issue.record("only older versions"); return }
        guard case .unknownPackage("nosuch", _) = failure(
            "Because nosuch was not found in the provided package locations and you require nosuch, we can conclude that your requirements are unsatisfiable.")
        else { Issue.record("unknown package"); return }
        guard case .noWheel("sdistonly", _) = failure(
            "Because sdistonly==1.0 has no usable wheels and only sdistonly==1.0 is available, we can conclude that all versions of sdistonly cannot be used.\n"
                + "hint: Wheels are required for `sdistonly` because building from source is disabled for all packages (i.e., with `--no-build`)")
        else { Issue.record("no wheel"); return }
        guard case .installerFailed(let detail) = UVInstaller.failure("\nuv was killed by signal 9", requirements: nil),
              detail.contains("signal 9")
        else { Issue.record("killed"); return }
    }
}
