import Foundation
import SandboxClient
import SandboxProtocol

/// The two streams' row: a program that writes 200 lines to stdout and
/// stderr in turn (what keeping them in order costs: each stderr line is a
/// frame on stdout's pipe), one run at a time through each server, the
/// servers taking turns in blocks, so that a build before a change and one
/// after it see the same machine.
struct StreamsBench: Sendable {
    static let program = "import sys\nfor i in range(100):\n    print(i)\n    print(i, file=sys.stderr)"
    static let expected = (0..<100).map { "\($0)\n" }.joined()

    let runs: Int
    let warmup: Int

    struct Outcome: Sendable {
        var label: String
        var roundTrips: [Duration] = []
        /// The server's own CPU time over its runs, warm-up runs included, when its pid is known (`--pid`).
        var serverCPU: Duration?
        /// Every run the server answered, warm-up runs included: what `serverCPU` was spent on.
        var answered = 0
        var failure: String?
    }

    func measure(_ servers: [ServiceBench.Server]) async throws -> [Outcome] {
        var outcomes = servers.map { Outcome(label: $0.label) }
        let blocks = 10
        for block in 0..<blocks {
            for (index, server) in servers.enumerated() where outcomes[index].failure == nil {
                let count = runs / blocks + (block < runs % blocks ? 1 : 0)
                let before = server.pid.flatMap(ProcessCPU.init(tree:))
                outcomes[index] = try await ProtocolConnection.connect(url: server.url) { [warmup, outcome = outcomes[index]] connection in
                    var outcome = outcome
                    for run in -warmup..<count {
                        let reply = try await connection.run(RunParams(code: Self.program), timeout: .seconds(30))
                        outcome.answered += 1
                        let status = (try? reply.result(as: BenchVerdict.self))?.status
                        guard status == "ok", reply.stdout == Self.expected, reply.stderr == Self.expected else {
                            outcome.failure = "ended \(status ?? "with an error") or without its 100 lines on each stream"
                            return outcome
                        }
                        if run >= 0 { outcome.roundTrips.append(reply.roundTrip) }
                    }
                    return outcome
                }
                if let before, let after = server.pid.flatMap(ProcessCPU.init(tree:)) {
                    outcomes[index].serverCPU = (outcomes[index].serverCPU ?? .zero) + (after - before).own
                }
            }
        }
        return outcomes
    }

    func report(_ outcomes: [Outcome]) -> [String] {
        func ms(_ duration: Duration) -> String { String(format: "%.2f ms", Double(duration / .microseconds(1)) / 1000) }
        func row(_ label: String, _ columns: [String]) -> String {
            label.padding(toLength: 30, withPad: " ", startingAt: 0) + columns.map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined()
        }
        var lines = [
            "",
            "Both streams: 100 lines to stdout and 100 to stderr in turn, \(runs) runs per server, one at a time, the servers taking turns.",
            row("round trip (run -> verdict)", ["p50", "p90", "p99", "server CPU/run"]),
        ]
        for outcome in outcomes {
            let cpu = outcome.serverCPU.map { ms($0 / max(outcome.answered, 1)) } ?? "-"
            lines.append(outcome.failure.map { row(outcome.label, []) + "not ok: \($0)" }
                ?? row(outcome.label, [0.5, 0.9, 0.99].map { ms(percentile(outcome.roundTrips, $0)) } + [cpu]))
        }
        if let first = outcomes.first, first.failure == nil {
            for other in outcomes.dropFirst() where other.failure == nil {
                let ratio = Double(percentile(first.roundTrips, 0.5) / .microseconds(1))
                    / Double(max(percentile(other.roundTrips, 0.5) / .microseconds(1), 1))
                lines.append(String(format: "  p50, %@ / %@: %.2f", first.label, other.label, ratio))
            }
        }
        return lines
    }
}
