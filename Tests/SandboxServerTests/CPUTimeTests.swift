import Foundation
import SandboxProtocol
import SandboxRuntime
import Testing

@testable import SandboxServer

/// `cpuTimeMs` from the options to the sandbox's limits, without sandboxes.
@Suite("CPU time limit: admission")
struct CPUTimeAdmissionTests {
    static let configuration = ServerConfiguration()

    /// Clients (the CLI, the bench) still read a 0.4.0 server's `initialize`, which has neither member.
    @Test func anOlderServersInitializeStillDecodes() throws {
        let older = #"{"protocolVersion":1,"python":{"version":"3.11.2"},"serverInfo":{"version":"0.4.0","name":"sandboxd"},"capabilities":{"interactive":true,"outputCoalesceMs":10,"cancel":true,"outputMaxMessageBytes":65536,"files":true},"limits":{"timeoutMs":{"max":60000,"default":10000},"memoryMb":{"max":1024,"default":256},"maxOutputBytes":{"max":16777216,"default":1048576},"idleTimeoutMs":300000,"maxInFlight":16,"maxCodeBytes":1048576,"runsPerMinute":600,"maxMessageBytes":4194304}}"#
        let info = try JSONDecoder().decode(InitializeResult.self, from: Data(older.utf8))
        #expect(info.limits.cpuTimeMs == nil)
        #expect(info.capabilities.cgroups == nil)
        #expect(info.limits.timeoutMs.max == 60000)
    }

    @Test func absentMeansTheDefaultAndTakesAWarmSandbox() throws {
        let admission = RunAdmission(configuration: Self.configuration)
        let admitted = try admission.admit(RunParams(code: "pass"))
        #expect(admitted.request.limits.cpuTime == .milliseconds(10_000))
        #expect(admitted.request.limits.fits(launchedWith: RunAdmission.warmLimits(Self.configuration)))
    }

    @Test func anotherValueGetsASandboxOfItsOwn() throws {
        let admission = RunAdmission(configuration: Self.configuration)
        let admitted = try admission.admit(RunParams(code: "pass", cpuTimeMs: 500))
        #expect(admitted.request.limits.cpuTime == .milliseconds(500))
        #expect(!admitted.request.limits.fits(launchedWith: RunAdmission.warmLimits(Self.configuration)))
        // Compared exactly: 10001 ms is not the default's 10000 even though both round up to 11 s.
        let close = try admission.admit(RunParams(code: "pass", cpuTimeMs: 10_001))
        #expect(!close.request.limits.fits(launchedWith: RunAdmission.warmLimits(Self.configuration)))
    }

    @Test func aboveTheMaximumIsRefusedNamingIt() {
        let admission = RunAdmission(configuration: Self.configuration)
        #expect(throws: RPCError.invalidParams("cpuTimeMs: 60001 is above the maximum 60000")) {
            try admission.admit(RunParams(code: "pass", cpuTimeMs: 60_001))
        }
    }

    @Test func configurationChecksTheDefaultAgainstTheMaximum() {
        var configuration = ServerConfiguration()
        configuration.cpuTimeMs = .init(default: 5000, max: 4000)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.cpuTimeMs = .init(default: 0, max: 4000)
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.cpuTimeMs = .init(default: 4000, max: 4000)
        #expect(throws: Never.self) { try configuration.validate() }
    }
}

/// `cpuTimeMs`, `limit` and `capabilities.cgroups` against a live server.
/// That the CPU limit ends a run is the runtime's to test (and cpu-time.jsonl's).
extension SandboxSuite {
    @Suite("CPU time limit over the protocol")
    struct CPUTimeProtocolTests {
        @Test func initializeListsTheLimitAndWhetherRunsGetCgroups() async throws {
            let configuration = TestServer.configuration { $0.cpuTimeMs = .init(default: 2000, max: 5000) }
            try await TestServer.with(configuration) { (port) async throws in
                let cgroups = try await SharedSandbox.get().cgroups.isActive
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.initialize)
                    let result = try await client.response(1)["result"]
                    #expect(result?["limits"]?["cpuTimeMs"] == .object(["default": 2000, "max": 5000, "min": 1]))
                    #expect(result?["capabilities"]?["cgroups"] == .bool(cgroups))
                    try SchemaCheck.validate(SchemaCheck.messages(
                        sent: [["jsonrpc": "2.0", "id": 1, "method": "initialize"]], received: await client.inbox.log))
                }
                let info = try await HTTP.get(port, "/v1/info")
                #expect(info.json["limits"]?["cpuTimeMs"]?["max"] == 5000)
                #expect(info.json["capabilities"]?["cgroups"] == .bool(cgroups))
            }
            // Without cgroups the server says so.
            try await TestServer.with(TestServer.configuration { $0.sandbox.cgroups = .rlimitsOnly }) { (port) async throws in
                #expect(try await HTTP.get(port, "/v1/info").json["capabilities"]?["cgroups"] == false)
            }
        }

        @Test func outOfRangeOrWrongTypeIsRefusedNamingIt() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let cases: [(JSONValue, String)] = [
                        (90_000, "Invalid params: cpuTimeMs: 90000 is above the maximum 60000"),
                        (0, "Invalid params: cpuTimeMs: 0 is below the minimum 1"),
                        ("500", "Invalid params: cpuTimeMs: must be an integer"),
                        (.number(0.5), "Invalid params: cpuTimeMs: must be an integer"),
                    ]
                    for (index, (value, expected)) in cases.enumerated() {
                        let id = JSONValue.integer(Int64(index))
                        try await client.request(id, Method.run, ["code": "pass", "cpuTimeMs": value])
                        let error = try await client.response(id)["error"]
                        #expect(error?["code"] == .integer(Int64(RPCErrorCode.invalidParams.rawValue)), "\(value)")
                        #expect(error?["message"]?.stringValue?.hasPrefix(expected) == true, "\(value): \(String(describing: error))")
                    }
                }
                let http = try await HTTP.post(port, "/v1/run", #"{"code": "pass", "cpuTimeMs": 999999}"#)
                #expect(http.status == 400)
                #expect(http.json["error"]?["message"] == "Invalid params: cpuTimeMs: 999999 is above the maximum 60000")
            }
        }

        @Test func runsWithTheDefaultOrTheirOwnCPULimitEndWithoutALimit() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    var sent: [JSONValue] = []
                    // The default (a warm sandbox), a value of its own (a sandbox launched for it), and null (the default).
                    let params: [[String: JSONValue]] = [
                        ["code": "print('default')"],
                        ["code": "print('own')", "cpuTimeMs": 2500],
                        ["code": "print('null')", "cpuTimeMs": .null],
                    ]
                    for (index, parameters) in params.enumerated() {
                        let id = JSONValue.integer(Int64(index))
                        sent.append(["jsonrpc": "2.0", "id": id, "method": .string(Method.run), "params": .object(parameters)])
                        let run = try await client.run(id, parameters)
                        #expect(run.status == "ok", "\(run.response)")
                        #expect(run.result?["limit"] == .null, "\(run.response)")
                    }
                    try SchemaCheck.validate(SchemaCheck.messages(sent: sent, received: await client.inbox.log))
                }
                let http = try await HTTP.post(port, "/v1/run", #"{"code": "print(1)", "cpuTimeMs": 3000}"#)
                #expect(http.status == 200 && http.json["status"] == "ok" && http.json["limit"] == .null)
                try SchemaCheck.validate([("rest-run.response.json", http.json)])
            }
        }

        @Test func sandboxdTakesTheOptions() async throws {
            let (process, log) = try ShutdownTests.launch([
                "--port", "0", "--workers", "1", "--warm", "1", "--cpu-time-ms", "3000", "--max-cpu-time-ms", "4000",
            ])
            defer { if process.isRunning { process.terminate() } }
            let port = try await ShutdownTests.listeningPort(in: log)
            let info = try await HTTP.get(port, "/v1/info")
            #expect(info.json["limits"]?["cpuTimeMs"] == .object(["default": 3000, "max": 4000, "min": 1]))
            kill(process.processIdentifier, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(15)
            while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(process.terminationStatus == 0)

            let (refused, refusal) = try ShutdownTests.launch(["--port", "0", "--cpu-time-ms", "5000", "--max-cpu-time-ms", "4000"])
            refused.waitUntilExit()
            let output = String(decoding: refusal.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(refused.terminationStatus != 0)
            #expect(output.contains("--cpu-time-ms"), "\(output)")
        }
    }
}
