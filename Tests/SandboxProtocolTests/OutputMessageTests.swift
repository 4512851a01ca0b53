import Foundation
import Testing

@testable import SandboxProtocol

/// `run/output` written directly says exactly what `JSONEncoder` would.
@Suite("run/output encoding")
struct OutputMessageTests {
    static let texts = [
        "", "plain\n", "quote \" backslash \\ slash /", "\u{0}\u{1}\u{8}\u{C}\u{1F}\t\r\n\u{7F}",
        "é 漢字 🐍 \u{2028}\u{2029}", "\u{FFFD}", String(repeating: "x\"\\\n", count: 1000),
    ]

    @Test(arguments: texts)
    func theSameMessageAsTheEncoderWrites(_ text: String) throws {
        for id in [JSONValue.string("r\"1\\é"), .integer(-42), .integer(9_007_199_254_740_993)] {
            for stream in [RunOutputParams.Stream.stdout, .stderr] {
                let params = RunOutputParams(id: id, stream: stream, text: text, seq: 12345)
                let direct = try JSONDecoder().decode(JSONValue.self, from: Data(ServerMessage.output(params).utf8))
                let encoded = try JSONDecoder().decode(
                    JSONValue.self, from: Data(ServerMessage.notification(Method.runOutput, params).utf8))
                #expect(direct == encoded)
                #expect(direct["params"]?["text"]?.stringValue == text)
            }
        }
    }
}
