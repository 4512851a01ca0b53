import ArgumentParser
import Foundation
import SandboxProtocol
import SandboxRuntime

@main
struct SandboxBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox-bench",
        abstract: "Measures PySandbox.",
        version: PySandbox.version,
        subcommands: [CoreOverhead.self, ServiceBench.self])
}

/// The sandbox's own cost: a sandboxed `print(1)` beside a bare interpreter start.
struct CoreOverhead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Median wall time of a sandboxed print(1) against `python3 -I -c 'print(1)'`, side by side.")

    @Option(help: "Runs of each kind, interleaved.")
    var runs = 100

    @Option(help: "Interpreter path (default: the real binary behind python3).")
    var python: String?

    func run() async throws {
        let sandbox = try await Sandbox.prepare(SandboxOptions(interpreterPath: python))
        try await sandbox.whileRunning(measure)
    }

    private func measure(_ sandbox: Sandbox) async throws {
        var sandboxed: [Duration] = []
        var warm: [Duration] = []
        var firstOutput: [Duration] = []
        var bare: [Duration] = []
        let clock = ContinuousClock()
        for _ in 0..<runs {
            let launched = try sandbox.launch(limits: RunLimits())
            guard await launched.ready() else { throw ValidationError("warm sandbox did not start") }
            let warmStart = clock.now
            try launched.start(RunRequest(code: "print(1)"))
            var sawOutput = false
            for await _ in launched.output where !sawOutput {
                sawOutput = true
                firstOutput.append(clock.now - warmStart)
            }
            _ = await launched.verdict()
            warm.append(clock.now - warmStart)
            let start = clock.now
            let run = try sandbox.start(RunRequest(code: "print(1)"))
            for await _ in run.output {}
            let verdict = await run.verdict()
            guard verdict.status == .ok else { throw ValidationError("sandboxed run ended with \(verdict.status)") }
            sandboxed.append(clock.now - start)
            bare.append(try timeBareInterpreter(sandbox.interpreter.executable, clock: clock))
        }
        let sandboxedMedian = median(sandboxed)
        let bareMedian = median(bare)
        print("interpreter: \(sandbox.interpreter.executable) \(sandbox.interpreter.version); cgroups: \(sandbox.cgroups.summary)")
        print("runs: \(runs) of each, interleaved")
        print(String(format: "%-40@ p50 %7.2f ms   p90 %7.2f ms", "sandboxed print(1)" as NSString, milliseconds(sandboxedMedian), milliseconds(percentile(sandboxed, 0.9))))
        print(String(format: "%-40@ p50 %7.2f ms   p90 %7.2f ms", "warm sandbox: start to verdict" as NSString, milliseconds(median(warm)), milliseconds(percentile(warm, 0.9))))
        print(String(format: "%-40@ p50 %7.2f ms   p90 %7.2f ms", "warm sandbox: start to first output" as NSString, milliseconds(median(firstOutput)), milliseconds(percentile(firstOutput, 0.9))))
        print(String(format: "%-40@ p50 %7.2f ms   p90 %7.2f ms", "python3 -I -c 'print(1)' (no sandbox)" as NSString, milliseconds(bareMedian), milliseconds(percentile(bare, 0.9))))
        print(String(format: "sandbox overhead at the median: %.2f ms", milliseconds(sandboxedMedian - bareMedian)))
    }

    private func timeBareInterpreter(_ executable: String, clock: ContinuousClock) throws -> Duration {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-I", "-c", "print(1)"]
        process.standardOutput = FileHandle.nullDevice
        let start = clock.now
        try process.run()
        process.waitUntilExit()
        return clock.now - start
    }
}

func median(_ samples: [Duration]) -> Duration { percentile(samples, 0.5) }

func percentile(_ samples: [Duration], _ fraction: Double) -> Duration {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return .zero }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * fraction + 0.5))]
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}
