import Foundation
import SandboxProtocol
import Testing

/// Input as a hostile client would send it: broken frames, floods, absurd
/// JSON. Each gets the answer PROTOCOL.md gives it, or is ignored where the
/// protocol says so, and the service and its other connections carry on.
extension SandboxSuite {
    @Suite("Hostile input")
    struct HostileInputTests {
        static let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#

        @Test func truncatedAndStalledFramesLeaveOtherConnectionsAlone() async throws {
            try await TestServer.with { (port) async throws in
                let whole = RawWebSocket.text(Self.initialize)
                // Half a frame, then gone.
                let quitter = try await RawWebSocket.connect(port: port)
                try await quitter.send(Array(whole.prefix(whole.count / 2)))
                quitter.close()
                // Half a frame, then silence; half an upgrade request, then silence.
                let staller = try await RawWebSocket.connect(port: port)
                try await staller.send(Array(whole.prefix(5)))
                let halfUpgrade = try RawWebSocket.tcp(port: port)
                try await halfUpgrade.send(Array(RawWebSocket.upgradeRequest(port: port).utf8.prefix(40)))
                // A frame that claims 2^63 - 1 bytes.
                let liar = try await RawWebSocket.connect(port: port)
                try await liar.send([0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5])
                let answer = try await liar.readUntilClosed(within: .seconds(20))
                #expect(answer.map(\.closeCode) == [1009], "\(answer.map(\.text))")

                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(try await client.run(1, ["code": "print('unaffected')"]).stdout == "unaffected\n")
                }
                // The stalled frame, completed at last, is answered like any other.
                try await staller.send(Array(whole.dropFirst(5)))
                let reply = try await staller.readFrame(within: .seconds(20))?.json
                #expect(reply?["id"] == 1 && reply?["result"]?["protocolVersion"] == 1, "\(String(describing: reply))")
                halfUpgrade.close()
                staller.close()
            }
        }

        @Test func invalidUTF8ClosesWith1007ButACharacterSplitAcrossFragmentsIsFine() async throws {
            try await TestServer.with { (port) async throws in
                // "€" (E2 82 AC) cut between a text frame and its continuation: one valid message.
                let message = Array(#"{"jsonrpc":"2.0","id":"€","method":"initialize"}"#.utf8)
                let cut = message.firstIndex(of: 0xE2)! + 1
                let fragmented = try await RawWebSocket.connect(port: port)
                try await fragmented.send(
                    RawWebSocket.frame(opcode: 0x1, Array(message[..<cut]), fin: false)
                        + RawWebSocket.frame(opcode: 0x0, Array(message[cut...])))
                #expect(try await fragmented.readFrame(within: .seconds(20))?.json?["id"] == "€")

                let prefix = Array(#"{"jsonrpc":"2.0","id":1,"method":"run","params":{"code":"print('"#.utf8)
                let suffix = Array(#"')"}}"#.utf8)
                let invalid: [(String, [UInt8])] = [
                    ("a stray byte", [0x66, 0xFF]), ("an overlong '/'", [0xC0, 0xAF]),
                    ("a UTF-16 surrogate", [0xED, 0xA0, 0x80]), ("a code point above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
                ]
                for (name, bytes) in invalid {
                    let client = try await RawWebSocket.connect(port: port)
                    try await client.send(RawWebSocket.frame(opcode: 0x1, prefix + bytes + suffix))
                    let frames = try await client.readUntilClosed(within: .seconds(20))
                    #expect(frames.map(\.closeCode) == [1007], "\(name): \(frames.map(\.text))")
                }
                // A message whose last character is cut off.
                let truncated = try await RawWebSocket.connect(port: port)
                try await truncated.send(RawWebSocket.frame(opcode: 0x1, Array(message[..<cut])))
                #expect(try await truncated.readUntilClosed(within: .seconds(20)).map(\.closeCode) == [1007])

                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(try await client.run(1, ["code": "print('€ still fine')"]).stdout == "€ still fine\n")
                }
            }
        }

        @Test func tenThousandTinyMessagesInASecondGetExactlyTheirReplies() async throws {
            try await TestServer.with { (port) async throws in
                let flooder = try await RawWebSocket.connect(port: port)
                let bystander = Task {
                    try await ProtocolClient.connect(port: port) { (client) async throws in
                        for id in 0..<5 {
                            let run = try await client.run(.integer(Int64(id)), ["code": .string("print(\(id) * 7)")], within: .seconds(120))
                            #expect(run.stdout == "\(id * 7)\n", "\(run.response)")
                        }
                    }
                }
                // Four kinds, 2,500 each: requests of an unknown method and text that
                // is not JSON are answered; unknown notifications and cancels of
                // unknown runs are not.
                for batch in 0..<10 {
                    var bytes: [UInt8] = []
                    for index in 0..<1000 {
                        let n = batch * 1000 + index
                        let text = switch n % 4 {
                        case 0: #"{"jsonrpc":"2.0","id":\#(n / 4),"method":"nope"}"#
                        case 1: #"{"jsonrpc":"2.0","method":"no/such/notification"}"#
                        case 2: "{"
                        default: #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":\#(n)}}"#
                        }
                        bytes += RawWebSocket.text(text)
                    }
                    try await flooder.send(bytes)
                    try await Task.sleep(for: .milliseconds(100))
                }
                var answered: [Int64: Int] = [:]
                var parseErrors = 0
                while answered.values.reduce(0, +) + parseErrors < 5000 {
                    guard let reply = try await flooder.readFrame(within: .seconds(60))?.json else {
                        Issue.record("the connection closed after \(answered.count) answers")
                        return
                    }
                    if reply["id"] == .null {
                        #expect(reply["error"]?["code"] == -32700)
                        parseErrors += 1
                    } else if case .integer(let id)? = reply["id"] {
                        #expect(reply["error"]?["message"] == "Method not found: 'nope'")
                        answered[id, default: 0] += 1
                    } else {
                        Issue.record("unexpected reply \(reply)")
                    }
                }
                #expect(parseErrors == 2500)
                #expect(answered.count == 2500 && answered.values.allSatisfy { $0 == 1 })
                #expect(Set(answered.keys) == Set((0..<2500).map { Int64($0) }))
                // Nothing more comes, and the connection still answers.
                try await flooder.sendText(#"{"jsonrpc":"2.0","id":"last","method":"initialize"}"#)
                #expect(try await flooder.readFrame(within: .seconds(20))?.json?["id"] == "last")
                try await bystander.value
            }
        }

        @Test func deeplyNestedJSONIsAParseErrorAndTheConnectionGoesOn() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    let deepFiles = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
                    for text in [
                        String(repeating: "[", count: 100_000),
                        String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
                        #"{"jsonrpc":"2.0","id":1,"method":"run","params":{"code":"pass","files":\#(deepFiles)}}"#,
                    ] {
                        try await client.sendText(text)
                        let error = try await client.response(.null)["error"]
                        #expect(error?["code"] == -32700)
                        let message = error?["message"]?.stringValue ?? ""
                        #expect(message.hasPrefix("Parse error: too many nested arrays or objects"), "\(message)")
                    }
                    // Nesting the parser accepts reaches the params check, which names the member.
                    let nested = String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)
                    try await client.sendText(#"{"jsonrpc":"2.0","id":2,"method":"run","params":{"code":"pass","files":\#(nested)}}"#)
                    #expect(try await client.response(2)["error"]?["message"]
                        == #"Invalid params: files: 'a': an object must be {"base64": string} and nothing else"#)
                    #expect(try await client.run(3, ["code": "print('after')"]).stdout == "after\n")
                }
            }
        }

        @Test func hugeNumbersAreRefusedClearly() async throws {
            // (id sent, params of a run, the reply's id, code, message prefix, message suffix)
            let cases: [(String, String, JSONValue, Int, String, String)] = [
                ("1e400", "{}", .null, -32700, "Parse error: number 1e400 is out of range", ""),
                ("1", #"{"code":"pass","maxOutputBytes":-1e400}"#, .null, -32700, "Parse error: number -1e400 is out of range", ""),
                ("123456789012345678901234567890", #"{"code":"pass"}"#, .null, -32600,
                 "Invalid request: id must be a string or an integer", "(an integer beyond 64 bits)"),
                ("9223372036854775808", #"{"code":"pass"}"#, .null, -32600, "Invalid request: id must be a string or an integer", ""),
                ("2", #"{"code":"pass","timeoutMs":123456789012345678901234567890}"#, 2, -32602,
                 "Invalid params: timeoutMs: ", "is out of range"),
                ("3", #"{"code":"pass","memoryMb":-18446744073709551616}"#, 3, -32602, "Invalid params: memoryMb: ", "is out of range"),
                ("4", #"{"code":"pass","timeoutMs":9223372036854775807}"#, 4, -32602,
                 "Invalid params: timeoutMs: 9223372036854775807 is above the maximum 60000", ""),
                ("5", #"{"code":"pass","memoryMb":-9223372036854775808}"#, 5, -32602,
                 "Invalid params: memoryMb: -9223372036854775808 is below the minimum 16", ""),
                ("6", #"{"code":"pass","timeoutMs":1.5}"#, 6, -32602, "Invalid params: timeoutMs: must be an integer", ""),
            ]
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for (id, params, replyID, code, prefix, suffix) in cases {
                        try await client.sendText(#"{"jsonrpc":"2.0","id":\#(id),"method":"run","params":\#(params)}"#)
                        let error = try await client.response(replyID)["error"]
                        let message = error?["message"]?.stringValue ?? ""
                        #expect(error?["code"] == .integer(Int64(code)), "id \(id), params \(params): \(message)")
                        #expect(message.hasPrefix(prefix) && message.hasSuffix(suffix), "id \(id), params \(params): \(message)")
                    }
                    // The largest and smallest 64-bit ids come back exactly.
                    for id in [Int64.max, Int64.min] {
                        try await client.sendText(#"{"jsonrpc":"2.0","id":\#(id),"method":"initialize"}"#)
                        #expect(try await client.response(.integer(id))["result"]?["protocolVersion"] == 1)
                    }
                    let pending = await client.inbox.pending
                    #expect(pending.isEmpty, "\(pending)")
                }
            }
        }

        @Test func wrongTypesInEveryFieldAreNamed() async throws {
            let wrong: [String: [String]] = [
                "string": ["1", "1.5", "true", "[]", "{}", #"["print(1)"]"#],
                "a boolean": [#""true""#, "1", "[]", "{}"],
                "an integer": [#""1000""#, "1.5", "true", "[]", "{}"],
                "an object of strings": [#""x""#, "1", "[]", #"{"a":1}"#, #"{"a":null}"#, #"{"a":["x"]}"#],
            ]
            let fields = [
                ("code", "string"), ("stdin", "string"), ("interactive", "a boolean"), ("files", "an object of strings"),
                ("timeoutMs", "an integer"), ("memoryMb", "an integer"), ("maxOutputBytes", "an integer"), ("cpuTimeMs", "an integer"),
            ]
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    var id: Int64 = 0
                    func refusal(_ text: String, id: Int64) async throws -> String {
                        try await client.sendText(text)
                        let error = try await client.response(.integer(id))["error"]
                        return "\(error?["code"]?.intValue ?? 0) \(error?["message"]?.stringValue ?? "")"
                    }
                    for (field, expected) in fields {
                        for value in wrong[expected]! {
                            id += 1
                            var params = field == "code" ? "{" : #"{"code":"print(1)","#
                            params += #""\#(field)":\#(value)}"#
                            let answer = try await refusal(#"{"jsonrpc":"2.0","id":\#(id),"method":"run","params":\#(params)}"#, id: id)
                            let article = expected == "string" ? "a string" : expected
                            // A file that is neither text nor {"base64": …} is named.
                            let prefix = field == "files" && value.hasPrefix("{")
                                ? #"files: 'a': must be a string or {"base64": string}"# : "\(field): must be \(article)"
                            #expect(answer.hasPrefix("-32602 Invalid params: \(prefix)"), "\(field) = \(value): \(answer)")
                        }
                    }
                    // A required member given as null is missing; optional ones given as null are absent.
                    id += 1
                    #expect(try await refusal(#"{"jsonrpc":"2.0","id":\#(id),"method":"run","params":{"code":null}}"#, id: id)
                        .hasPrefix("-32602 Invalid params: code: "))
                    let nulls = #"{"code":"print('nulls')","stdin":null,"interactive":null,"files":null,"timeoutMs":null,"memoryMb":null,"maxOutputBytes":null,"cpuTimeMs":null}"#
                    try await client.sendText(#"{"jsonrpc":"2.0","id":"nulls","method":"run","params":\#(nulls)}"#)
                    #expect(try await client.transcript(of: "nulls").stdout == "nulls\n")
                    // The envelope: params, jsonrpc and method of the wrong type.
                    for (value, expected) in [(#""x""#, "params must be an object"), ("[1]", "params must be an object"), ("7", "params must be an object")] {
                        id += 1
                        let answer = try await refusal(#"{"jsonrpc":"2.0","id":\#(id),"method":"run","params":\#(value)}"#, id: id)
                        #expect(answer.hasPrefix("-32602 Invalid params: \(expected)"), "params = \(value): \(answer)")
                    }
                    for value in ["2.0", #""1.0""#, "null", "[]"] {
                        id += 1
                        let answer = try await refusal(#"{"jsonrpc":\#(value),"id":\#(id),"method":"initialize"}"#, id: id)
                        #expect(answer == #"-32600 Invalid request: 'jsonrpc' must be "2.0""#, "jsonrpc = \(value): \(answer)")
                    }
                    for value in ["7", "null", "[]", "{}", "true"] {
                        id += 1
                        let answer = try await refusal(#"{"jsonrpc":"2.0","id":\#(id),"method":\#(value)}"#, id: id)
                        #expect(answer == "-32600 Invalid request: 'method' must be a string", "method = \(value): \(answer)")
                    }
                    // initialize's clientInfo.
                    for (clientInfo, expected) in [
                        (#""me""#, "clientInfo: must be an object"),
                        (#"{"name":"x"}"#, "clientInfo.version: required string missing"),
                        (#"{"name":1,"version":"1"}"#, "clientInfo.name: must be a string"),
                        (#"{"name":"x","version":null}"#, "clientInfo.version: required string missing"),
                    ] {
                        id += 1
                        let answer = try await refusal(#"{"jsonrpc":"2.0","id":\#(id),"method":"initialize","params":{"clientInfo":\#(clientInfo)}}"#, id: id)
                        #expect(answer.hasPrefix("-32602 Invalid params: \(expected)"), "clientInfo = \(clientInfo): \(answer)")
                    }
                    try await client.sendText(#"{"jsonrpc":"2.0","id":"ci","method":"initialize","params":{"clientInfo":null}}"#)
                    #expect(try await client.response("ci")["result"]?["protocolVersion"] == 1)
                    let pending = await client.inbox.pending
                    #expect(pending.isEmpty, "\(pending)")
                }
            }
        }

        @Test func unknownMembersAreRefusedInParamsAndIgnoredInTheEnvelope() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.sendText(#"{"jsonrpc":"2.0","id":1,"method":"initialize","extra":{"a":[1]},"result":5}"#)
                    #expect(try await client.response(1)["result"]?["protocolVersion"] == 1)
                    try await client.sendText(#"{"jsonrpc":"2.0","id":2,"method":"run","params":{"code":"print(2)"},"x-trace":"abc"}"#)
                    #expect(try await client.transcript(of: 2).stdout == "2\n")
                    for (id, params, field) in [
                        (3, #"{"code":"pass","timeout":5000}"#, "timeout"),
                        (4, #"{"code":"pass","Code":"pass"}"#, "Code"),
                        (5, #"{"code":"pass","":1}"#, ""),
                    ] {
                        try await client.sendText(#"{"jsonrpc":"2.0","id":\#(id),"method":"run","params":\#(params)}"#)
                        #expect(try await client.response(.integer(Int64(id)))["error"]?["message"] == .string("Invalid params: unknown field '\(field)'"))
                    }
                    for (id, params, field) in [
                        (6, #"{"verbose":true}"#, "verbose"),
                        (7, #"{"clientInfo":{"name":"x","version":"1","os":"linux"}}"#, "clientInfo.os"),
                    ] {
                        try await client.sendText(#"{"jsonrpc":"2.0","id":\#(id),"method":"initialize","params":\#(params)}"#)
                        #expect(try await client.response(.integer(Int64(id)))["error"]?["message"] == .string("Invalid params: unknown field '\(field)'"))
                    }
                    let pending = await client.inbox.pending
                    #expect(pending.isEmpty, "\(pending)")
                }
            }
        }

        @Test func idsOfEveryJSONType() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    // Strings and integers come back unchanged.
                    for id: JSONValue in ["s", "", "1", " spaced \"quoted\" ", "ünï©ødé 🎉", 0, -1, 42] {
                        try await client.request(id, Method.initialize)
                        #expect(try await client.response(id)["result"]?["protocolVersion"] == 1, "id \(id)")
                    }
                    // Every other type is refused with id null, and runs nothing.
                    for id in ["1.5", "-0.25", "null", "true", "false", "[]", "[1]", "{}", #"{"id":1}"#] {
                        try await client.sendText(#"{"jsonrpc":"2.0","id":\#(id),"method":"run","params":{"code":"print('ran')"}}"#)
                        let error = try await client.response(.null)["error"]
                        #expect(error?["code"] == -32600, "id \(id)")
                        #expect(error?["message"]?.stringValue?.hasPrefix("Invalid request: id must be a string or an integer") == true, "id \(id)")
                    }
                    // "1" and 1 are different runs, each answered once with its own output.
                    try await client.request("1", Method.run, ["code": "import time; time.sleep(0.3); print('string')"])
                    try await client.request(1, Method.run, ["code": "print('integer')"])
                    #expect(try await client.transcript(of: 1).stdout == "integer\n")
                    #expect(try await client.transcript(of: "1").stdout == "string\n")
                    try await Task.sleep(for: .milliseconds(300))
                    let leftovers = await client.inbox.pending
                    #expect(leftovers.isEmpty, "\(leftovers)")
                    #expect(await !client.inbox.log.contains { $0["params"]?["text"]?.stringValue?.contains("ran") == true })
                }
            }
        }

        @Test func badNotificationsAreIgnoredAndTheRunGoesOn() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request("r", Method.run, ["code": "print(input()); print(input())", "interactive": true])
                    for text in [
                        #"{"jsonrpc":"2.0","method":"run/stdin","params":{"id":"r","data":5}}"#,
                        #"{"jsonrpc":"2.0","method":"run/stdin","params":{"id":"r","data":"x","eof":"yes"}}"#,
                        #"{"jsonrpc":"2.0","method":"run/stdin","params":{"id":["r"],"data":"x\n"}}"#,
                        #"{"jsonrpc":"2.0","method":"run/stdin","params":{"data":"x\n"}}"#,
                        #"{"jsonrpc":"2.0","method":"run/stdin"}"#,
                        #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":{"id":"r"}}}"#,
                        #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"R"}}"#,
                        #"{"jsonrpc":"2.0","method":"$/cancelRequest"}"#,
                        #"{"jsonrpc":"2.0","method":"run","params":{"code":"print('a run without an id is a notification')"}}"#,
                    ] {
                        try await client.sendText(text)
                    }
                    try await client.notify(Method.runStdin, ["id": "r", "data": "first\nsecond\n", "eof": true])
                    let run = try await client.transcript(of: "r")
                    #expect(run.status == "ok" && run.stdout == "first\nsecond\n", "\(run.response)")
                    try await Task.sleep(for: .milliseconds(300))
                    let pending = await client.inbox.pending
                    #expect(pending.isEmpty, "\(pending)")
                }
            }
        }
    }
}
