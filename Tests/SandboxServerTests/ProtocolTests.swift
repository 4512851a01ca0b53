import Foundation
import SandboxProtocol
import Testing

/// Transport and error behaviour the transcripts cannot express.
extension SandboxSuite {
    @Suite("Protocol v1 over WebSocket")
    struct ProtocolTests {
        @Test func subprotocolIsEchoedOrRefused() async throws {
            try await TestServer.with { (port) async throws in
                // Offered and known, or not offered: a working connection.
                for offered in [[webSocketSubprotocol], [], ["other", webSocketSubprotocol]] {
                    try await ProtocolClient.connect(port: port, subprotocols: offered) { (client) async throws in
                        try await client.request(1, Method.initialize)
                        #expect(try await client.response(1)["result"]?["protocolVersion"] == 1)
                    }
                }
                // Offered and unknown: refused before the upgrade.
                await #expect(throws: (any Error).self) {
                    try await ProtocolClient.connect(port: port, subprotocols: ["graphql-ws"]) { _ in }
                }
            }
        }

        @Test func binaryFrameIsAnInvalidRequestAndTheConnectionStaysUsable() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.sendBinary([1, 2, 3])
                    let error = try await client.response(.null)
                    #expect(error["error"]?["code"] == .integer(Int64(RPCErrorCode.invalidRequest.rawValue)))
                    #expect(error["error"]?["message"]?.stringValue?.contains("binary") == true)
                    let run = try await client.run(2, ["code": "print('after binary')"])
                    #expect(run.stdout == "after binary\n")
                }
            }
        }

        @Test func messageOverTheLimitClosesWith1009() async throws {
            let configuration = TestServer.configuration { $0.maxCodeBytes = 1000; $0.maxMessageBytes = 64 << 10 }
            try await TestServer.with(configuration) { (port) async throws in
                let close = try await ProtocolClient.connect(port: port) { (client) async throws in
                    let code = String(repeating: "x", count: 100 << 10)
                    try await client.request(1, Method.run, ["code": .string(code)])
                    #expect(await client.inbox.waitUntilClosed(within: .seconds(10)))
                }
                #expect(close?.closeCode == .messageTooLarge)
                // The server is unaffected.
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    #expect(try await client.run(1, ["code": "print(1)"]).stdout == "1\n")
                }
            }
        }

        @Test func codeLargerThanTheLimitIsRefusedWithItsOwnCode() async throws {
            try await TestServer.with(TestServer.configuration { $0.maxCodeBytes = 1000 }) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.run, ["code": .string(String(repeating: "#", count: 1001))])
                    let error = try await client.response(1)["error"]
                    #expect(error?["code"] == .integer(Int64(RPCErrorCode.codeTooLarge.rawValue)))
                    #expect(error?["data"]?["maxCodeBytes"] == 1000)
                    #expect(try await client.run(2, ["code": .string("print(1)" + String(repeating: " ", count: 990))]).status == "ok")
                }
            }
        }

        @Test func limitsAboveTheMaximumSayTheMaximum() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for (field, value, maximum) in [("memoryMb", 4096, "1024"), ("maxOutputBytes", 1 << 30, "16777216"), ("cpuTimeMs", 90_000, "60000")] {
                        try await client.request(.string(field), Method.run, ["code": "pass", .init(field): .integer(Int64(value))])
                        let message = try await client.response(.string(field))["error"]?["message"]?.stringValue ?? ""
                        #expect(message.hasPrefix("Invalid params: \(field)") && message.hasSuffix(maximum), "\(message)")
                    }
                }
            }
        }

        @Test func runsOverTheInFlightCapAreRefused() async throws {
            try await TestServer.with(TestServer.configuration { $0.maxInFlight = 2 }) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    for id in 1...2 { try await client.request(.integer(Int64(id)), Method.run, ["code": "import time; time.sleep(1)"]) }
                    try await client.request(3, Method.run, ["code": "print(3)"])
                    let error = try await client.response(3)["error"]
                    #expect(error?["code"] == .integer(Int64(RPCErrorCode.tooManyInFlight.rawValue)))
                    #expect(error?["data"]?["limit"] == 2)
                    for id in 1...2 { #expect(try await client.transcript(of: .integer(Int64(id))).status == "ok") }
                    // Once they are answered, there is room again.
                    #expect(try await client.run(4, ["code": "print(4)"]).stdout == "4\n")
                }
            }
        }

        @Test func fullQueueRefusesWithARetryHint() async throws {
            let configuration = TestServer.configuration { $0.workers = 1; $0.queueCapacity = 1; $0.maxInFlight = 10 }
            try await TestServer.with(configuration) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.run, ["code": "import time; time.sleep(1)"])
                    try await client.request(2, Method.run, ["code": "print(2)"])
                    try await client.request(3, Method.run, ["code": "print(3)"])
                    let error = try await client.response(3)["error"]
                    #expect(error?["code"] == .integer(Int64(RPCErrorCode.queueFull.rawValue)))
                    #expect((error?["data"]?["retryAfterMs"]?.intValue ?? 0) > 0)
                    #expect(try await client.transcript(of: 1).status == "ok")
                    let second = try await client.transcript(of: 2)
                    #expect(second.states == ["queued", "running"])
                    #expect(second.notifications.first?["params"]?["position"] == 0)
                    #expect(second.stdout == "2\n")
                }
            }
        }

        @Test func cancellingAQueuedRunAnswersAtOnce() async throws {
            try await TestServer.with(TestServer.configuration { $0.workers = 1 }) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.run, ["code": "import time; time.sleep(2)"])
                    try await client.request(2, Method.run, ["code": "print('never')"])
                    _ = try await client.inbox.take { $0["params"]?["id"] == 2 && $0["params"]?["state"] == "queued" }
                    try await client.notify(Method.cancelRequest, ["id": 2])
                    let second = try await client.transcript(of: 2, within: .seconds(1))
                    #expect(second.status == "cancelled")
                    #expect(second.stdout == "")
                    try await client.notify(Method.cancelRequest, ["id": 1])
                    #expect(try await client.transcript(of: 1).status == "cancelled")
                }
            }
        }

        @Test func stdinSentWhileQueuedIsKept() async throws {
            try await TestServer.with(TestServer.configuration { $0.workers = 1 }) { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.run, ["code": "import time; time.sleep(0.5)"])
                    try await client.request(2, Method.run, ["code": "print(input()[::-1]); print(input())", "interactive": true, "stdin": "olleh\n"])
                    try await client.notify(Method.runStdin, ["id": 2, "data": "dlrow"])
                    try await client.notify(Method.runStdin, ["id": 2, "data": "\n", "eof": true])
                    let second = try await client.transcript(of: 2)
                    #expect(second.stdout == "hello\ndlrow\n")
                    #expect(second.status == "ok")
                }
            }
        }

        @Test func outputStreamsBeforeTheRunEnds() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    try await client.request(1, Method.run, ["code": "import time\nprint('first')\ntime.sleep(1)\nprint('second')"])
                    var first = ""
                    while first != "first\n" {
                        first += try await client.inbox.take { $0["method"] == .string(Method.runOutput) }["params"]?["text"]?.stringValue ?? ""
                    }
                    #expect(await !client.inbox.contains { $0["id"] == 1 && $0["method"] == nil }, "the verdict came with the first output")
                    let rest = try await client.transcript(of: 1)
                    #expect(rest.stdout == "second\n")
                }
            }
        }

        @Test func largeOutputIsSplitIntoWholeCharacters() async throws {
            try await TestServer.with { (port) async throws in
                try await ProtocolClient.connect(port: port) { (client) async throws in
                    // 3-byte characters, 300 KB in all, written in odd-sized pieces.
                    let code = "import sys\nfor _ in range(1000): sys.stdout.buffer.write(('€' * 100).encode()[:299] + ('€' * 100).encode()[299:])"
                    let run = try await client.run(1, ["code": .string(code)])
                    #expect(run.stdout == String(repeating: "€", count: 100_000))
                    #expect(run.outputs.allSatisfy { ($0["params"]?["text"]?.stringValue?.utf8.count ?? 0) <= 65536 })
                    #expect(run.outputs.count >= 5)
                    let invalid = try await client.run(2, ["code": "import sys; sys.stdout.buffer.write(b'a\\xffb\\xe2\\x82')"])
                    #expect(invalid.stdout == "a\u{FFFD}b\u{FFFD}")
                }
            }
        }
    }
}
