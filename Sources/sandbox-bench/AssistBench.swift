import SandboxClient
import SandboxProtocol

/// The completion rows: `code/complete` one at a time through each server
/// that answers it, in a session that has imported pandas and numpy (its
/// names looked up in a fork of that interpreter) and from the code alone
/// (a sandbox of its own); and a session's `print(1)` between them, for
/// scale.
struct AssistBench: Sendable {
    let runs: Int
    let warmup: Int

    struct Outcome: Sendable {
        var label: String
        var skipped: String?
        var inSession: [Duration] = []
        var fromCode: [Duration] = []
        var cells: [Duration] = []
        /// `session/fork` of that session (skipped where not offered).
        var forks: [Duration] = []
        var forkSkipped: String?
    }

    static let setup = "import numpy as np\nimport pandas as pd\ndf = pd.DataFrame({'a': range(100), 'b': range(100)})"

    func measure(_ servers: [ServiceBench.Server]) async throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for server in servers {
            outcomes.append(try await measure(server))
        }
        return outcomes
    }

    private func measure(_ server: ServiceBench.Server) async throws -> Outcome {
        try await ProtocolConnection.connect(url: server.url) { [runs, warmup] connection in
            var outcome = Outcome(label: server.label)
            let initialize = try await connection.call(Method.initialize, ["clientInfo": ["name": "sandbox-bench", "version": .string(PySandbox.version)]] as JSONValue)
            let capabilities = (try? initialize.result(as: InitializeResult.self))?.capabilities
            guard capabilities?.complete == true, capabilities?.sessions == true else {
                outcome.skipped = "answers no code/complete in sessions"
                return outcome
            }
            let session = try await connection.openSession().session
            _ = try ServiceBench.checkedVerdict(try await connection.run(RunParams(code: Self.setup + "\nprint(1)", session: session)))
            for index in -warmup..<runs {
                let live = try await Self.complete(connection, code: "df.gr", session: session, expected: "groupby")
                let code = try await Self.complete(connection, code: "import math\nmath.sq", session: nil, expected: "sqrt")
                let cell = try await connection.run(RunParams(code: ServiceBench.program, session: session))
                _ = try ServiceBench.checkedVerdict(cell)
                if index >= 0 {
                    outcome.inSession.append(live)
                    outcome.fromCode.append(code)
                    outcome.cells.append(cell.roundTrip)
                }
            }
            if capabilities?.sessionFork == true {
                for index in -warmup..<runs {
                    let reply = try await connection.call(Method.sessionFork, ["session": .string(session)] as JSONValue)
                    guard let copy = reply.message["result"]?["session"]?.stringValue else {
                        throw BenchFailure("session/fork: \(reply.message)")
                    }
                    if index >= 0 { outcome.forks.append(reply.roundTrip) }
                    try await connection.closeSession(copy)
                }
            } else {
                outcome.forkSkipped = "answers no session/fork"
            }
            try await connection.closeSession(session)
            return outcome
        }
    }

    private static func complete(_ connection: ProtocolConnection, code: String, session: String?, expected: String) async throws -> Duration {
        var params: JSONValue = ["code": .string(code)]
        if let session, case .object(var members) = params {
            members["session"] = .string(session)
            params = .object(members)
        }
        let reply = try await connection.call(Method.codeComplete, params)
        let matches = reply.message["result"]?["matches"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard matches.contains(expected) else { throw BenchFailure("code/complete \(code): \(reply.message)") }
        return reply.roundTrip
    }

    func report(_ outcomes: [Outcome]) -> [String] {
        let table = BenchTable(labelWidth: 36)
        var lines = [
            "",
            "Completion: code/complete one at a time, \(runs) each after \(warmup) warm-up: `df.gr` in a session that",
            "imported numpy and pandas (a fork of its interpreter per request), `math.sq` from the code alone",
            "(a sandbox of its own), and the session's print(1) between them; then session/fork of that session",
            "(its state copied into a new session; the copy closed after each).",
            table.row("round trip", ["p50", "p90", "p99"]),
        ]
        for outcome in outcomes {
            if let skipped = outcome.skipped {
                lines.append(table.row(outcome.label, ["skipped: \(skipped)"]))
                continue
            }
            lines.append(table.row("\(outcome.label), in the session", BenchTable.spread(outcome.inSession)))
            lines.append(table.row("\(outcome.label), from the code", BenchTable.spread(outcome.fromCode)))
            lines.append(table.row("\(outcome.label), the session's print(1)", BenchTable.spread(outcome.cells)))
            lines.append(table.row(
                "\(outcome.label), session/fork of it",
                outcome.forkSkipped.map { ["skipped: \($0)"] } ?? BenchTable.spread(outcome.forks)))
        }
        return lines
    }
}
