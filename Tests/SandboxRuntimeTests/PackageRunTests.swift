import Foundation
import Synchronization
import SandboxProtocol
import Testing

@testable import SandboxRuntime

/// One package set for the whole test process, installed from the wheels
/// the tests build (`PackageTestFolder`): what the package modes of the
/// malicious fixtures and the runs below have mounted.
enum SharedPackageLayer {
    private static let leased = Task { () throws -> PackageLayer in
        let store = try await PackageTestFolder().store()
        return try await store.lease(PackageTestFolder.set("tinytop")).layer
    }

    static func get() async throws -> PackageLayer { try await leased.value }
}

extension SandboxSuite {
    /// Runs and sessions with a package set bound read-only: they import
    /// it; runs without one do not see it.
    @Suite("Package sets in runs")
    struct PackageRunTests {
        static let importing = """
            import sys, tinytop, tinyleaf
            print(tinytop.DESCRIPTION)
            print(sys.path.index("/opt/pysandbox/packages") < min(i for i, p in enumerate(sys.path) if p.endswith("-packages") and p != "/opt/pysandbox/packages"))
            print(tinytop.__file__)
            """

        static func limits(_ layer: PackageLayer, preloaded: Bool = false) -> RunLimits {
            var limits = RunLimits()
            limits.packageLayer = layer
            limits.usesPreload = preloaded
            return limits
        }

        @Test(arguments: [ServiceMode.root, .rootPreloaded, .ordinaryUser, .rootExec])
        func aRunImportsItsSet(_ mode: ServiceMode) async throws {
            let layer = try await SharedPackageLayer.get()
            let sandbox = try await mode.sandbox()
            let run = try await sandbox.collect(RunRequest(code: Self.importing, limits: Self.limits(layer, preloaded: mode.preloaded)))
            #expect(run.verdict.status == .ok, "\(run.combined)")
            #expect(run.stdout == "top on leaf 2.0\nTrue\n/opt/pysandbox/packages/tinytop/__init__.py\n", "\(run.combined)")

            // A run without it, from the same sandbox, sees no set (the folder
            // a later `pip install` mounts one over is empty) and cannot import it.
            let without = try await sandbox.collect(
                "import os; print(os.listdir('/opt/pysandbox/packages'))\ntry:\n    import tinytop\nexcept ModuleNotFoundError as error:\n    print(error)")
            #expect(without.stdout == "[]\nNo module named 'tinytop'\n", "\(without.combined)")
        }

        static let bundle = "/etc/ssl/certs/ca-certificates.crt"

        /// A layer may lean on the system's certifi (Debian's points at the
        /// system's CA bundle): `import requests` loads it at import, so the
        /// bundle is there, read-only; ssl's default context finds it too.
        @Test(
            .enabled(if: FileManager.default.fileExists(atPath: bundle), "the host has no CA bundle (Debian's ca-certificates)"),
            arguments: [ServiceMode.root, .ordinaryUser, .rootExec])
        func theSystemsCABundleIsThereForCertifiAndSSL(_ mode: ServiceMode) async throws {
            let bundle = Self.bundle
            let code = """
                import ssl
                print(ssl.create_default_context().cert_store_stats()["x509_ca"] > 0)
                try:
                    import certifi
                    print(open(certifi.where()).read(10) != "")
                except ModuleNotFoundError:
                    print(True)
                try:
                    open("\(bundle)", "a")
                except OSError as error:
                    print(error.errno in (13, 30))
                """
            let run = try await mode.sandbox().collect(code)
            #expect(run.stdout == "True\nTrue\nTrue\n", "\(run.combined)")
        }

        @Test(arguments: [ServiceMode.rootSession, .ordinaryUserSession])
        func aSessionsCellsImportItsSet(_ mode: ServiceMode) async throws {
            let layer = try await SharedPackageLayer.get()
            var limits = SessionLimits()
            limits.packageLayer = layer
            let session = try await mode.sandbox().openSession(limits: limits)
            let first = try await session.collect("import tinytop")
            #expect(first.verdict.status == .ok, "\(first.combined)")
            let second = try await session.collect("print(tinytop.DESCRIPTION)")
            #expect(second.stdout == "top on leaf 2.0\n", "\(second.combined)")
            session.close()
            _ = await session.ended()
        }

        /// A set that holds its own version of a preloaded module is served
        /// by a fork server without the preload: the run sees the set's.
        @Test func aSetThatShadowsAPreloadedModuleRunsWithoutThePreload() async throws {
            var layer = try await SharedPackageLayer.get()
            let sandbox = try await SharedSandbox.get()
            let preloaded = try #require(sandbox.preload.first, "nothing is preloaded on this machine (numpy, pandas, matplotlib)")
            let name = String(preloaded.prefix { $0 != "." })
            layer.shadows = [ShadowedPackage(name: name, systemVersion: "1", layerVersion: "2")]
            layer.key = String(repeating: "e", count: 64)  // another set, for another pool of fork servers
            let run = try await sandbox.collect(RunRequest(
                code: "import sys; print(\(PackageTestFolder.pythonString(name)) in sys.modules)", limits: Self.limits(layer, preloaded: true)))
            #expect(run.stdout == "False\n", "\(run.combined)")
            let unshadowed = try await sandbox.collect(RunRequest(
                code: "import sys; print(\(PackageTestFolder.pythonString(name)) in sys.modules)",
                limits: Self.limits(try await SharedPackageLayer.get(), preloaded: true)))
            #expect(unshadowed.stdout == "True\n", "\(unshadowed.combined)")
        }

        /// A module that is not here: after its traceback, how to ask for the
        /// package (by its PyPI name); none for the standard library's or the
        /// program's own modules.
        @Test(arguments: [ServiceMode.root, .rootSession])
        func aMissingModuleSaysHowToAskForIt(_ mode: ServiceMode) async throws {
            let sandbox = try await mode.sandbox()
            func stderr(_ code: String, files: [String: String] = [:]) async throws -> String {
                let request = RunRequest(code: code, files: files.mapValues { Array($0.utf8) })
                let run = mode.inSession
                    ? try await SandboxSuite.MaliciousCode.collectInSession(request, sandbox: sandbox)
                    : try await sandbox.collect(request)
                return run.stderr
            }
            let missing = try await stderr("import no_such_dist.sub")
            #expect(missing.contains("ModuleNotFoundError: No module named 'no_such_dist'"), "\(missing)")
            #expect(missing.contains("hint: 'no_such_dist' is not installed here"), "\(missing)")
            #expect(missing.contains("sandbox run --package no-such-dist;"), "\(missing)")
            let renamed = try await stderr("from skimage import io")
            #expect(renamed.contains("--package scikit-image;") || !renamed.contains("ModuleNotFoundError"), "\(renamed)")
            let standard = try await stderr("import json.no_such_submodule")
            #expect(standard.contains("ModuleNotFoundError") && !standard.contains("hint:"), "\(standard)")
            let own = try await stderr("import mine.absent", files: ["mine/__init__.py": ""])
            #expect(own.contains("No module named 'mine.absent'") && !own.contains("hint:"), "\(own)")
        }

        @Test func poolsPastTheCapAreClosedLeastRecentlyUsedFirst() async throws {
            let made = Mutex<[String]>([])
            let pools = PackageSlotPools(maxPools: 2, evictionAge: .zero) { layer, _ in
                made.withLock { $0.append(layer.key) }
                return ForkServerSlots(launcher: "/bin/false", arguments: [], cgroups: .unavailable(reason: "test"), maxSlots: 1, logger: .init(label: "test"))
            }
            func layer(_ key: String) -> PackageLayer { PackageLayer(key: key, path: "/nonexistent", packages: [], shadows: [], bytes: 0) }
            let first = pools.slots(for: layer("a"), kind: .plain)
            _ = pools.slots(for: layer("b"), kind: .plain)
            #expect(pools.slots(for: layer("a"), kind: .plain) === first)
            _ = pools.slots(for: layer("c"), kind: .plain)
            #expect(pools.poolCount == 2)
            _ = pools.slots(for: layer("a"), kind: .plain)
            _ = pools.slots(for: layer("b"), kind: .plain)
            #expect(made.withLock { $0 } == ["a", "b", "c", "b"])
            pools.close()
            #expect(pools.slots(for: layer("a"), kind: .plain) == nil)
            await pools.run()
        }
    }
}
