import Foundation
import SandboxProtocol
import Testing

@Suite("RunResult on the wire")
struct RunResultTests {
    @Test func isOneFlatObjectWithNullsForAbsentFieldsButNoMessageOrFiles() throws {
        let result = RunResult(Verdict(status: .timeout, limit: .cpu, wallMs: 12, cpuMs: 10), queuedMs: 3)
        let object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any])
        #expect(Set(object.keys) == [
            "status", "limit", "exitCode", "signal", "wallMs", "cpuMs", "maxRssKb", "peakMemoryKb", "queuedMs",
            "stdoutBytes", "stderrBytes", "displayBytes", "truncated",
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

    @Test func returnedFilesAreBase64WithTheirSizeAndTheOmittedSayWhy() throws {
        var verdict = Verdict(status: .ok, exitCode: 0)
        verdict.files = [ReturnedFile(path: "out/data.bin", content: [0, 1, 2, 255])]
        verdict.omittedFiles = [OmittedFile(path: "*.csv", reason: .noMatch)]
        let encoded = try JSONEncoder().encode(RunResult(verdict, queuedMs: 0))
        let object = try #require(JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        let file = try #require((object["files"] as? [[String: Any]])?.first)
        #expect(file["path"] as? String == "out/data.bin")
        #expect(file["size"] as? Int == 4)
        #expect(file["base64"] as? String == "AAEC/w==")
        #expect((object["omittedFiles"] as? [[String: Any]])?.first?["reason"] as? String == "noMatch")
        #expect(try JSONDecoder().decode(RunResult.self, from: encoded).verdict == verdict)
    }

    @Test func binaryFilesAreCheckedAsBase64() throws {
        let params = try RunParams(params: ["code": "pass", "files": ["a.txt": "text", "b.bin": ["base64": "AAEC"]]])
        #expect(params.files == ["a.txt": .text("text"), "b.bin": .bytes([0, 1, 2])])
        #expect(throws: RPCError.invalidParams("files: 'b.bin': base64 is not valid base64")) {
            try RunParams(params: ["code": "pass", "files": ["b.bin": ["base64": "not base64!"]]])
        }
        #expect(throws: RPCError.invalidParams("files: 'b.bin': an object must be {\"base64\": string} and nothing else")) {
            try RunParams(params: ["code": "pass", "files": ["b.bin": ["base64": "AAEC", "mode": "x"]]])
        }
        #expect(throws: RPCError.invalidParams("returnFiles: must be an array of strings")) {
            try RunParams(params: ["code": "pass", "returnFiles": ["*.png", 3]])
        }
    }
}
