import Foundation
import SandboxClient
import SandboxProtocol

/// The tests row (issue 28): `print(input())` against many inputs as one
/// run's `tests`, each test a sandbox of its own, through each server that
/// offers tests; tests per second beside the same server's one-off runs per
/// second (the throughput row), measured in the same bench run.
struct TestsBench: Sendable {
    static let program = "print(input())"

    let inputs: Int
    let batches: Int

    struct Outcome: Sendable {
        var label: String
        /// Each batch's round trip, from the run sent to its verdict.
        var batchTimes: [Duration] = []
        var serverCPU: Duration?
        var failure: String?
    }

    func measure(_ servers: [ServiceBench.Server]) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        let tests = (0..<inputs).map { RunTest(stdin: "input \($0)\n", expectedStdout: "input \($0)") }
        for server in servers {
            var outcome = Outcome(label: server.label)
            let before = server.pid.flatMap(ProcessCPU.init(tree:))
            outcome = try await ProtocolConnection.connect(url: server.url) { [batches, outcome] connection in
                var outcome = outcome
                // One small batch first: the warm pool and the connection, not counted.
                for batch in -1..<batches {
                    let params = RunParams(code: Self.program, tests: batch < 0 ? Array(tests.prefix(8)) : tests)
                    let reply = try await connection.run(params, timeout: .seconds(600))
                    if let error = reply.error {
                        outcome.failure = "refused: \(error.message)"
                        return outcome
                    }
                    let result = try reply.result(as: RunResult.self)
                    guard result.status == .ok, let summary = result.summary, summary.passed == params.tests?.count else {
                        outcome.failure = "ended \(result.status.rawValue), \(result.summary.map { "\($0.passed) passed" } ?? "no summary")"
                        return outcome
                    }
                    if batch >= 0 { outcome.batchTimes.append(reply.roundTrip) }
                }
                return outcome
            }
            if let before, let after = server.pid.flatMap(ProcessCPU.init(tree:)) { outcome.serverCPU = (after - before).own }
            outcomes.append(outcome)
        }
        return outcomes
    }

    func report(_ outcomes: [Outcome], oneOffRunsPerSecond: [String: Double]) -> [String] {
        func row(_ label: String, _ columns: [String]) -> String {
            label.padding(toLength: 30, withPad: " ", startingAt: 0) + columns.map { $0.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined()
        }
        var lines = [
            "",
            "Tests of one program: print(input()) against \(inputs) inputs as one run's tests, \(batches) runs per server, one at a time.",
            row("", ["tests/s (median)", "batch (median)", "one-off runs/s", "ratio"]),
        ]
        for outcome in outcomes {
            if let failure = outcome.failure {
                lines.append(row(outcome.label, []) + "not measured: \(failure)")
                continue
            }
            let median = percentile(outcome.batchTimes, 0.5)
            let perSecond = Double(inputs) / max(Double(median / .microseconds(1)) / 1e6, 1e-9)
            let oneOff = oneOffRunsPerSecond[outcome.label]
            lines.append(row(outcome.label, [
                String(format: "%.0f", perSecond), String(format: "%.0f ms", Double(median / .microseconds(1)) / 1000),
                oneOff.map { String(format: "%.0f", $0) } ?? "-", oneOff.map { String(format: "%.2f", perSecond / $0) } ?? "-",
            ]))
        }
        return lines
    }
}
