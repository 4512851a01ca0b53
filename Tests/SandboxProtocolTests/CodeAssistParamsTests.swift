import Foundation
import SandboxProtocol
import Testing

/// `code/complete`, `code/inspect` and `code/isComplete` params as a client
/// sends them: what the server's parsing takes back, member for member.
@Suite("CodeAssistParams on the wire")
struct CodeAssistParamsTests {
    static func sent(_ params: CodeAssistParams) throws -> [String: JSONValue] {
        let value = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(params))
        guard case .object(let fields) = value else { throw Mismatch.notAnObject }
        return fields
    }

    enum Mismatch: Error { case notAnObject }

    @Test(arguments: [
        CodeAssistParams(method: .complete, code: "import math\nmath.sq", session: "s-1"),
        CodeAssistParams(method: .complete, code: "né.x", cursor: 2),
        CodeAssistParams(method: .inspect, code: "len(", cursor: 4, detailLevel: 1),
        CodeAssistParams(method: .inspect, code: "len("),
        CodeAssistParams(method: .isComplete, code: "for x in y:"),
    ])
    func whatIsSentParsesBackAsItWas(_ params: CodeAssistParams) throws {
        #expect(try CodeAssistParams(params.method, params: Self.sent(params)) == params)
    }

    /// code/isComplete refuses a cursor, and a default detail level is left out.
    @Test func onlyTheMethodsOwnMembersAreSent() throws {
        #expect(try Set(Self.sent(CodeAssistParams(method: .isComplete, code: "x")).keys) == ["code"])
        #expect(try Set(Self.sent(CodeAssistParams(method: .complete, code: "x")).keys) == ["code", "cursor"])
        #expect(try Self.sent(CodeAssistParams(method: .complete, code: "né")).values.contains(.integer(2)))
        #expect(try Set(Self.sent(CodeAssistParams(method: .inspect, code: "x", session: "s")).keys) == ["code", "cursor", "session"])
    }

    @Test func eachMethodHasItsNameOnTheWire() {
        #expect(CodeAssistParams(method: .complete, code: "").methodName == Method.codeComplete)
        #expect(CodeAssistParams(method: .inspect, code: "").methodName == Method.codeInspect)
        #expect(CodeAssistParams(method: .isComplete, code: "").methodName == Method.codeIsComplete)
    }
}
