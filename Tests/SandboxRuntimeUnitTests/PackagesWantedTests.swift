import Foundation
import SandboxProtocol
import Testing

@testable import SandboxRuntime

/// pip's requests as the service reads them (`PackagesRequests`): whatever
/// the program wrote, each is answered once, malformed ones and those past
/// the budget by the runtime itself; and the answers' JSON lines.
@Suite("pip's requests and answers")
struct PackagesWantedTests {
    /// A channel whose answers land in a pipe this test reads.
    final class Answers: Sendable {
        let channel = PackagesChannel()
        let readEnd: CInt

        init() {
            var fds: [CInt] = [-1, -1]
            _ = pipe(&fds)
            readEnd = fds[0]
            _ = fcntl(readEnd, F_SETFL, O_NONBLOCK)
            channel.attach(answers: fds[1], stop: nil)
        }

        /// Every line written so far, decoded.
        func lines() -> [[String: JSONValue]] {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(readEnd, &buffer, buffer.count)
                guard count > 0 else { break }
                bytes += buffer[..<count]
            }
            return bytes.split(separator: UInt8(ascii: "\n")).compactMap {
                guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data($0)) else { return nil }
                return object
            }
        }

        deinit { close(readEnd) }
    }

    @Test func aWellFormedRequestIsPassedOnAsWritten() async {
        let answers = Answers()
        let requests = PackagesRequests(channel: answers.channel)
        requests.received(Array(#"{"requirements": ["Requests>=2", "x @ https://e"]}"#.utf8))
        requests.finish()
        var seen: [[String]] = []
        for await wanted in requests.stream { seen.append(wanted.requirements) }
        #expect(seen == [["Requests>=2", "x @ https://e"]], "checked by the service, not here")
        #expect(answers.lines().isEmpty)
    }

    @Test(arguments: [
        "", "null", "[]", #"{"requirements": []}"#, #"{"requirements": "requests"}"#, #"{"requirements": [1]}"#,
        #"{"other": ["x"]}"#, "{\"requirements\": [\"a\"", String(repeating: "[", count: 10000),
    ])
    func aMalformedRequestIsAnsweredAtOnce(_ payload: String) async {
        let answers = Answers()
        let requests = PackagesRequests(channel: answers.channel)
        requests.received(Array(payload.utf8))
        requests.finish()
        var passed = 0
        for await _ in requests.stream { passed += 1 }
        #expect(passed == 0)
        let lines = answers.lines()
        #expect(lines.count == 1 && lines[0]["ok"] == .bool(false) && lines[0]["reason"] == .string("badRequest"), "\(lines)")
    }

    @Test func pastTheBudgetEachIsRefusedAndNoneIsPassedOn() async {
        let answers = Answers()
        let requests = PackagesRequests(channel: answers.channel)
        for _ in 0..<(PackagesRequests.maxRequests + 3) { requests.received(Array(#"{"requirements": ["x"]}"#.utf8)) }
        requests.finish()
        var passed = 0
        for await _ in requests.stream { passed += 1 }
        #expect(passed == PackagesRequests.maxRequests)
        #expect(answers.lines().count == 3)
    }

    @Test func answersAreOneJSONLineEach() {
        let installed = PackagesAnswer.installed([PinnedPackage(name: "tinytop", version: "1.0")]).line
        #expect(String(decoding: installed, as: UTF8.self) == #"{"installed":[{"name":"tinytop","version":"1.0"}],"ok":true}"# + "\n")
        let refused = PackagesAnswer.refused(code: -32008, reason: "unknownPackage", requirement: "x\ny", message: "no\npackage").line
        #expect(refused.filter { $0 == UInt8(ascii: "\n") }.count == 1, "a newline in a field is escaped")
        #expect(refused.last == UInt8(ascii: "\n"))
    }

    @Test func afterTheRunEndsNothingIsWrittenOrMounted() async {
        let answers = Answers()
        answers.channel.close()
        answers.channel.reply(PackagesAnswer.installed([]).line)
        #expect(answers.lines().isEmpty)
        #expect(await answers.channel.mount("/nonexistent") == "the run has ended")
    }
}
