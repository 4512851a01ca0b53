import Foundation
import SandboxClient
import SandboxProtocol

/// The scientific stack's row: a program that imports numpy, pandas and
/// matplotlib and saves a plot, one run at a time through each server, one
/// server after the other, beside the same program as a cold `python3 -I -c`
/// started directly. A server that preloads the stack into its fork servers
/// (sandboxd's default) should answer in a tenth of the cold time or less.
struct ScientificBench: Sendable {
    static let program = "import numpy, pandas, matplotlib.pyplot as plt; plt.plot([1, 2]); plt.savefig('p.png')"
    static let goal = 0.10

    let runs: Int
    let warmup: Int
    let python: String

    /// One server's round trips, or why its runs did not end ok (a server
    /// without the stack, say).
    struct Outcome: Sendable {
        var label: String
        var roundTrips: [Duration] = []
        var failure: String?
    }

    func measure(_ servers: [ServiceBench.Server]) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for server in servers {
            let outcome = try await ProtocolConnection.connect(url: server.url) { [runs, warmup] connection in
                var outcome = Outcome(label: server.label)
                for index in -warmup..<runs {
                    let reply = try await connection.run(RunParams(code: Self.program, timeoutMs: 30_000), timeout: .seconds(60))
                    let status = (try? reply.result(as: BenchVerdict.self))?.status
                    guard status == "ok" else {
                        outcome.failure = "ended \(status ?? "with an error"): \(reply.stderr.split(separator: "\n").last ?? "")"
                        return outcome
                    }
                    if index >= 0 { outcome.roundTrips.append(reply.roundTrip) }
                }
                return outcome
            }
            outcomes.append(outcome)
            try await Task.sleep(for: .seconds(1))  // the next starts from quiet
        }
        return outcomes
    }

    /// The floor no server can go below: the program run again and again in
    /// one interpreter that has imported the stack once, with no sandbox,
    /// fork or protocol (each time in fresh globals, its figures closed after;
    /// `warm_floor.py`).
    func measureWarmFloor() async throws -> [Duration] {
        let script = String(decoding: PackageResources.warm_floor_py, as: UTF8.self)
        return try await onOwnThread { [python, runs, warmup] in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-I", "-c", script, Self.program, "\(runs)", "\(warmup)"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0, let seconds = try? JSONDecoder().decode([Double].self, from: data) else {
                throw BenchFailure("the warm floor's interpreter exited with \(process.terminationStatus): is the scientific stack installed?")
            }
            return seconds.map { .microseconds(Int64($0 * 1_000_000)) }
        }
    }

    /// The program run `runs` times by a new interpreter, in a scratch directory for its p.png.
    func measureCold() async throws -> [Duration] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pysandbox-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await onOwnThread { [python, runs, warmup] in
            try (-warmup..<runs).compactMap { index -> Duration? in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: python)
                process.arguments = ["-I", "-c", Self.program]
                process.currentDirectoryURL = directory
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                let start = ContinuousClock.now
                try process.run()
                process.waitUntilExit()
                let elapsed = ContinuousClock.now - start
                guard process.terminationStatus == 0 else {
                    throw BenchFailure("cold \(python) -I -c \"\(Self.program)\" exited with \(process.terminationStatus): is the scientific stack installed?")
                }
                return index >= 0 ? elapsed : nil
            }
        }
    }

    static func report(_ outcomes: [Outcome], cold: [Duration], floor: [Duration], runs: Int, warmup: Int) -> [String] {
        func ms(_ duration: Duration) -> String { String(format: "%.1f ms", Double(duration / .microseconds(1)) / 1000) }
        func row(_ label: String, _ columns: [String]) -> String {
            label.padding(toLength: 30, withPad: " ", startingAt: 0) + columns.map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined()
        }
        func columns(_ samples: [Duration]) -> [String] {
            [0.5, 0.9].map { ms(percentile(samples, $0)) }
        }
        var lines = [
            "",
            "Scientific stack: \(program)",
            "one run at a time per server, one server after the other, \(runs) runs each after \(warmup) warm-up runs.",
            row("round trip (run -> verdict)", ["p50", "p90"]),
        ]
        for outcome in outcomes {
            lines.append(outcome.failure.map { row(outcome.label, []) + "not ok: \($0)" } ?? row(outcome.label, columns(outcome.roundTrips)))
        }
        lines.append(row("cold python3 -I -c", columns(cold)))
        lines.append(row("floor: again in a warm python", columns(floor)))
        func ratio(_ samples: [Duration]) -> Double {
            Double(percentile(samples, 0.5) / .microseconds(1)) / Double(max(percentile(cold, 0.5) / .microseconds(1), 1))
        }
        if let first = outcomes.first, first.failure == nil {
            lines.append(String(format: "  p50, %@ / cold: %.3f (goal: at most %.2f)", first.label, ratio(first.roundTrips), goal))
        }
        lines.append(String(format: "  p50, floor / cold: %.3f (the program's own plotting, with no sandbox, fork or protocol)", ratio(floor)))
        return lines
    }
}
