import Foundation
import Logging
import SandboxClient
import SandboxProtocol
import SandboxRuntime

/// The packages' rows. Through each server that offers packages: `print(1)`
/// naming an installed set beside the same run naming none, interleaved on
/// one connection, one at a time; then throughput and the server's CPU per
/// run with the set and without it. Then installs, timed on a package store
/// of the bench's own (the one the servers use is theirs): `requests` with a
/// cold installer cache, again with a warm one (the store keeps no layer it
/// does not lease, so each install is a whole one), and a set already
/// installed, which runs no installer.
struct PackageBench: Sendable {
    let set: [String]
    let runs: Int
    let warmup: Int
    let connections: Int
    let depth: Int
    let throughputRuns: Int

    struct Outcome: Sendable {
        var label: String
        var skipped: String?
        /// The first run of the set: its install (or the server's layer from an earlier bench).
        var firstRun: Duration?
        var withSet: [Duration] = []
        var withoutSet: [Duration] = []
        var with = Load()
        var without = Load()
        var cpuWith: ProcessCPU?
        var cpuWithout: ProcessCPU?
    }

    func measure(_ servers: [ServiceBench.Server]) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for server in servers {
            var outcome = try await measureLatency(server)
            if outcome.skipped == nil {
                try await Task.sleep(for: .seconds(1))
                (outcome.without, outcome.cpuWithout) = try await throughput(server, RunParams(code: ServiceBench.program))
                try await Task.sleep(for: .seconds(1))
                (outcome.with, outcome.cpuWith) = try await throughput(server, RunParams(code: ServiceBench.program, packages: set))
            }
            outcomes.append(outcome)
            try await Task.sleep(for: .seconds(1))
        }
        return outcomes
    }

    private func measureLatency(_ server: ServiceBench.Server) async throws -> Outcome {
        try await ProtocolConnection.connect(url: server.url) { [set, runs, warmup] connection in
            var outcome = Outcome(label: server.label)
            let initialize = try await connection.call(Method.initialize, JSONValue.object([:]))
            guard (try? initialize.result(as: InitializeResult.self))?.capabilities.packages == true else {
                outcome.skipped = "offers no packages"
                return outcome
            }
            let first = try await connection.run(RunParams(code: ServiceBench.program, packages: set))
            if let error = first.error {
                outcome.skipped = "the set \(set) could not be had: \(error.message)"
                return outcome
            }
            _ = try ServiceBench.checkedVerdict(first)
            outcome.firstRun = first.roundTrip
            for index in -warmup..<runs {
                let with = try await connection.run(RunParams(code: ServiceBench.program, packages: set))
                _ = try ServiceBench.checkedVerdict(with)
                let without = try await connection.run(RunParams(code: ServiceBench.program))
                _ = try ServiceBench.checkedVerdict(without)
                if index >= 0 {
                    outcome.withSet.append(with.roundTrip)
                    outcome.withoutSet.append(without.roundTrip)
                }
            }
            return outcome
        }
    }

    private func throughput(_ server: ServiceBench.Server, _ params: RunParams) async throws -> (Load, ProcessCPU?) {
        let before = server.pid.flatMap(ProcessCPU.init(tree:))
        let load = try await ServiceBench.measureThroughput(server, params, connections: connections, depth: depth, runs: throughputRuns)
        guard let before, let after = server.pid.flatMap(ProcessCPU.init(tree:)) else { return (load, nil) }
        return (load, (after - before) / max(load.completed, 1))
    }

    // MARK: Installs

    struct Installs: Sendable {
        var failure: String?
        var cold: Duration?
        var warm: [Duration] = []
        var installed: [Duration] = []
        var packages: [String] = []
        var bytes: Int64 = 0
        var installerRunsForInstalled = 0
    }

    static let installSet = "requests"

    /// On a store in a folder of its own, removed afterwards.
    static func measureInstalls(python: String) async -> Installs {
        var installs = Installs()
        let folder = NSTemporaryDirectory() + "pysandbox-bench-store-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            guard let uv = PackageStoreConfiguration.locateInstaller() else { throw BenchFailure("uv not found beside sandbox-bench") }
            var configuration = PackageStoreConfiguration(directory: folder, interpreter: try Interpreter.resolve(path: python), installer: uv)
            configuration.limits.maxCacheBytes = 1  // a layer given back is removed: each lease installs anew
            var logger = Logger(label: "sandbox-bench.packages")
            logger.logLevel = .error
            let store = try await PackageStore(configuration: configuration, logger: logger)
            let set = try PackageRequirementSet(parsing: [installSet])
            func timedLease() async throws -> (PackageLease, Duration) {
                let start = ContinuousClock.now
                let lease = try await store.lease(set)
                return (lease, ContinuousClock.now - start)
            }
            let (first, cold) = try await timedLease()
            installs.cold = cold
            installs.packages = first.layer.packages.map(\.description)
            installs.bytes = first.layer.bytes
            await store.release(first)
            for _ in 0..<3 {
                let (lease, warm) = try await timedLease()
                installs.warm.append(warm)
                await store.release(lease)
            }
            let (held, _) = try await timedLease()
            let before = await store.statistics
            for _ in 0..<5 {
                let (lease, installed) = try await timedLease()
                installs.installed.append(installed)
                await store.release(lease)
            }
            let after = await store.statistics
            installs.installerRunsForInstalled = (after.resolutions - before.resolutions) + (after.installs - before.installs)
            await store.release(held)
        } catch {
            installs.failure = "\(error)"
        }
        return installs
    }

    func report(_ outcomes: [Outcome], installs: Installs) -> [String] {
        let ms = BenchTable.ms
        func seconds(_ duration: Duration) -> String { String(format: "%.2f s", milliseconds(duration) / 1000) }
        let row = BenchTable(labelWidth: 36).row
        let spread = BenchTable.spread
        var lines = [
            "",
            "Packages: \(ServiceBench.program) naming the installed set \(set) beside the same run naming none, interleaved on one",
            "connection, one at a time, \(runs) each after \(warmup) warm-up pairs; then \(throughputRuns) runs of each over \(connections) connections.",
            row("round trip (run -> verdict)", ["p50", "p90", "p99"]),
        ]
        for outcome in outcomes {
            if let skipped = outcome.skipped {
                lines.append(row(outcome.label, []) + "skipped: \(skipped)")
                continue
            }
            lines.append(row("\(outcome.label), with the set", spread(outcome.withSet)))
            lines.append(row("\(outcome.label), without", spread(outcome.withoutSet)))
            let difference = milliseconds(percentile(outcome.withSet, 0.5)) - milliseconds(percentile(outcome.withoutSet, 0.5))
            lines.append(String(format: "  p50 with the set - without: %+.2f ms", difference))
            if let first = outcome.firstRun { lines.append("  the bench's first run of the set (an install, unless an earlier run made it): \(ms(first))") }
        }
        let measured = outcomes.filter { $0.skipped == nil }
        if !measured.isEmpty {
            lines.append(row("under load", ["runs/s", "p50", "p99", "CPU/run"]))
            for outcome in measured {
                for (name, load, cpu) in [("with the set", outcome.with, outcome.cpuWith), ("without", outcome.without, outcome.cpuWithout)] {
                    lines.append(row("\(outcome.label), \(name)", [String(format: "%.1f", load.runsPerSecond)]
                        + [0.5, 0.99].map { ms(percentile(load.latencies, $0)) } + [cpu.map { ms($0.total) } ?? "-"]))
                }
                if let with = outcome.cpuWith, let without = outcome.cpuWithout {
                    lines.append(String(format: "  CPU per run, with / without: %.2f", milliseconds(with.total) / max(milliseconds(without.total), .leastNonzeroMagnitude)))
                }
                for (name, load) in [("with the set", outcome.with), ("without", outcome.without)] where load.failures > 0 {
                    lines.append("  \(name): \(load.failures) runs not ok: \(load.notOK) \(Array(Set(load.errors)).prefix(3))")
                }
            }
        }
        lines.append("")
        lines.append("Installs of \(Self.installSet) on a store of the bench's own (resolve, download or copy from the installer's cache, seal):")
        if let failure = installs.failure {
            lines.append("  skipped: \(failure)")
            return lines
        }
        lines.append("  the set: \(installs.packages.joined(separator: ", ")); \(installs.bytes / 1024) KiB installed")
        if let cold = installs.cold { lines.append(row("  first install, cold cache", [seconds(cold)])) }
        lines.append(row("  first install, warm cache", installs.warm.map(seconds)))
        lines.append(row("  installed already (p50)", [ms(percentile(installs.installed, 0.5))])
            + "   installer runs: \(installs.installerRunsForInstalled)")
        return lines
    }
}
