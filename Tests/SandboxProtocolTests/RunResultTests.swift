import Foundation
import SandboxProtocol
import Testing

@Suite("RunResult on the wire")
struct RunResultTests {
    @Test func isOneFlatObjectWithNullsForAbsentFieldsButNoMessage() throws {
        let result = RunResult(Verdict(status: .timeout, limit: .cpu, wallMs: 12, cpuMs: 10), queuedMs: 3)
        let object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any])
        #expect(Set(object.keys) == [
            "status", "limit", "exitCode", "signal", "wallMs", "cpuMs", "maxRssKb", "peakMemoryKb", "queuedMs",
            "stdoutBytes", "stderrBytes", "truncated",
        ])
        #expect(object["status"] as? String == "timeout")
        #expect(object["limit"] as? String == "cpu")
        #expect(object["exitCode"] is NSNull)
        #expect(object["queuedMs"] as? Int == 3)
    }

    @Test func roundTripsAndReadsTheVerdictsFieldsDirectly() throws {
        let result = RunResult(
            Verdict(status: .internalError, exitCode: 1, signal: 9, peakMemoryKb: 2048, truncated: true, message: "step failed"),
            queuedMs: 7)
        let decoded = try JSONDecoder().decode(RunResult.self, from: JSONEncoder().encode(result))
        #expect(decoded == result)
        #expect(decoded.status == .internalError)
        #expect(decoded.message == "step failed")
        #expect(decoded.exitCode == 1)
    }

    @Test func aResultWithoutQueuedMsIsRefused() throws {
        let json = Data(#"{"status":"ok","exitCode":0,"wallMs":1,"cpuMs":1,"maxRssKb":1,"stdoutBytes":0,"stderrBytes":0,"truncated":false}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RunResult.self, from: json) }
    }
}
