import Foundation
import SandboxProtocol
import Testing

/// Many clients at once: nothing lost, nothing mixed up, nobody starved.
extension SandboxSuite {
    @Suite("Many clients")
    struct LoadTests {
        @Test func twoHundredRunsOverTenConnectionsKeepTheirOutput() async throws {
            try await TestServer.with { (port) async throws in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for connection in 0..<10 {
                        group.addTask {
                            try await ProtocolClient.connect(port: port) { (client) async throws in
                                // 20 runs per connection, at most 10 in flight (the cap is 16).
                                for batch in 0..<2 {
                                    let ids = (0..<10).map { batch * 10 + $0 }
                                    for id in ids {
                                        let code = "import sys\nprint('c\(connection) r\(id)')\nprint('err \(id)', file=sys.stderr)\nprint(sum(range(\(id))))"
                                        try await client.request(.integer(Int64(id)), Method.run, ["code": .string(code)])
                                    }
                                    for id in ids {
                                        let run = try await client.transcript(of: .integer(Int64(id)), within: .seconds(120))
                                        #expect(run.status == "ok", "c\(connection) r\(id): \(run.response)")
                                        #expect(run.stdout == "c\(connection) r\(id)\n\((0..<id).reduce(0, +))\n")
                                        #expect(run.stderr == "err \(id)\n")
                                        #expect(run.states.last == "running")
                                    }
                                }
                                #expect(await client.inbox.pending.isEmpty)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }

        @Test func aSecondClientIsServedWhileTheFirstHasAHundredQueued() async throws {
            let configuration = TestServer.configuration { $0.workers = 1; $0.maxInFlight = 200 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (busy) async throws in
                    for id in 0..<101 {
                        try await busy.request(.integer(Int64(id)), Method.run, ["code": "import time; time.sleep(0.05)"])
                    }
                    _ = try await busy.inbox.take { $0["params"]?["id"] == 100 && $0["params"]?["state"] == "queued" }
                    let started = ContinuousClock.now
                    try await ProtocolClient.connect(port: port) { (other) async throws in
                        let run = try await other.run("mine", ["code": "print('served')"], within: .seconds(30))
                        #expect(run.stdout == "served\n")
                        // Round-robin: one of the busy client's runs ahead at most, not a hundred.
                        #expect(run.result?["queuedMs"]?.intValue ?? .max < 2_000)
                    }
                    let answeredBusy = await busy.inbox.pending.filter { $0["method"] == nil }.count
                    #expect(answeredBusy < 20, "the second client waited for \(answeredBusy) of the first one's runs")
                    #expect(ContinuousClock.now - started < .seconds(5))
                    for id in 0..<101 {
                        #expect(try await busy.transcript(of: .integer(Int64(id)), within: .seconds(60)).status == "ok")
                    }
                }
            }
        }

        @Test func closingTheConnectionEndsItsRunsAndTheirProcesses() async throws {
            // No warm sandboxes, so every sandbox process on the host belongs to a run.
            let configuration = TestServer.configuration { $0.warm = 0 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for id in 1...2 {
                        let code = "import subprocess, time\nsubprocess.Popen(['sleep', '60'])\nprint('started', flush=True)\ntime.sleep(60)"
                        try await client.request(.integer(Int64(id)), Method.run, ["code": .string(code)])
                        _ = try await client.inbox.take { $0["params"]?["id"] == .integer(Int64(id)) && $0["method"] == "run/output" }
                    }
                    try await client.request(3, Method.run, ["code": "import time; time.sleep(60)"])  // still queued
                    #expect(HostProcesses.sandboxed().count >= 4)
                }
                let closed = ContinuousClock.now
                let leftovers = await HostProcesses.leftovers(within: .seconds(1))
                #expect(leftovers.isEmpty, "left after the connection closed: \(leftovers)")
                #expect(ContinuousClock.now - closed <= .milliseconds(1500))
                // And the server goes on serving.
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(try await client.run(1, ["code": "print('next')"]).stdout == "next\n")
                }
            }
        }
    }
}
