import Foundation
import SandboxProtocol
import Testing

/// What Python writes reaches every client in the order it was written,
/// across stdout and stderr (PROTOCOL.md §4.6): a thousand generated
/// programs each through the WebSocket, `POST /v1/run` and the CLI.
extension SandboxSuite {
    @Suite("output order")
    struct OutputOrderTests {
        static let count = 1000
        static let programs = (0..<count).map { OrderedProgram(number: $0) }
        /// A thousand runs a test, from one client: past the default 600 a minute.
        static let server = TestServer.configuration { $0.runsPerMinute = 100_000 }

        @Test func overTheWebSocketSeqFollowsTheProgram() async throws {
            try await TestServer.with(Self.server) { port in
                try await ProtocolClient.connect(port: port) { client in
                    let window = 16
                    for start in stride(from: 0, to: Self.count, by: window) {
                        let batch = Self.programs[start..<min(start + window, Self.count)]
                        for program in batch {
                            try await client.request(.integer(Int64(program.number)), Method.run, ["code": .string(program.code)])
                        }
                        for program in batch {
                            let transcript = try await client.transcript(of: .integer(Int64(program.number)))
                            #expect(transcript.response["error"] == nil, "\(transcript.response)")
                            let outputs = transcript.outputs.compactMap { $0["params"] }
                            #expect(outputs.map { $0["seq"]?.intValue } == Array(0..<outputs.count), "\(program.code)")
                            let pieces = outputs.sorted { ($0["seq"]?.intValue ?? 0) < ($1["seq"]?.intValue ?? 0) }
                                .map { OrderedProgram.Piece(stream: $0["stream"]?.stringValue ?? "", text: $0["text"]?.stringValue ?? "") }
                            program.check(pieces, status: transcript.status)
                        }
                    }
                }
            }
        }

        @Test func overRESTTheOutputListFollowsTheProgram() async throws {
            try await TestServer.with(Self.server) { port in
                let window = 8
                for start in stride(from: 0, to: Self.count, by: window) {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for program in Self.programs[start..<min(start + window, Self.count)] {
                            group.addTask {
                                let body = JSONValue.object(["code": .string(program.code)]).description
                                let reply = try await HTTP.post(port, "/v1/run", body)
                                #expect(reply.status == 200, "\(reply.json)")
                                let output = reply.json["output"]?.arrayValue ?? []
                                let pieces = output.map {
                                    OrderedProgram.Piece(stream: $0["stream"]?.stringValue ?? "", text: $0["text"]?.stringValue ?? "")
                                }
                                program.check(pieces, status: reply.json["status"]?.stringValue)
                                // The streams' own text is the same text, each apart.
                                #expect(reply.json["stdout"]?.stringValue == pieces.filter { $0.stream == "stdout" }.map(\.text).joined())
                                #expect(reply.json["stderr"]?.stringValue == pieces.filter { $0.stream == "stderr" }.map(\.text).joined())
                            }
                        }
                        try await group.waitForAll()
                    }
                }
            }
        }

        /// The CLI writes each stream to its own descriptor as it arrives; with
        /// both on one pipe, the text reads as a terminal would show it.
        @Test func theCLIPrintsBothStreamsInOrder() async throws {
            let perInvocation = 100
            try await TestServer.with(Self.server) { port in
                for start in stride(from: 0, to: Self.count, by: perInvocation) {
                    let batch = Array(Self.programs[start..<min(start + perInvocation, Self.count)])
                    let files = Dictionary(uniqueKeysWithValues: batch.map { ("p\($0.number).py", $0.code) })
                    try await CLITests.withFolder(files) { folder in
                        let names = batch.map { "p\($0.number).py" }
                        let command = "exec \"$0\" run -q --url \(CLITests.url(port)) \"$@\" 2>&1"
                        let result = try await ChildProcess.run(
                            "/bin/sh", ["-c", command, ChildProcess.executable("sandbox")] + names, directory: folder)
                        let sections = result.stdout.components(separatedBy: "==> ").dropFirst()
                        #expect(sections.count == batch.count, "\(result.stdout.prefix(2000))")
                        for (program, section) in zip(batch, sections) {
                            let header = "p\(program.number).py <==\n"
                            #expect(section.hasPrefix(header), "\(section.prefix(200))")
                            // A newline parts one file's output from the next header (with -q, no table follows the last).
                            let text = section.dropFirst(header.count)
                            program.check(combined: String(program.number == batch.last?.number ? text : text.dropLast()))
                        }
                    }
                }
            }
        }
    }
}

/// A program that writes to stdout and stderr in turn, in the ways Python
/// programs do, and what it must look like at the client.
struct OrderedProgram: Sendable {
    struct Piece: Equatable, Sendable {
        var stream: String
        var text: String
    }

    let number: Int
    let code: String
    /// What it writes, in order, before its trailing exception (if any).
    let expected: [Piece]
    let raises: Bool

    init(number: Int) {
        var random = SplitMix(seed: UInt64(number) &* 0x9E37_79B9_7F4A_7C15 &+ 1)  // the same programs on every run
        var lines = ["import logging, os, sys", "logging.basicConfig(format='%(message)s')"]
        var expected: [Piece] = []
        for step in 0..<(2 + Int(random.next() % 9)) {
            let word = "p\(number)s\(step)" + String(repeating: "x", count: Int(random.next() % 40))
            switch random.next() % 7 {
            case 0: lines.append("print('\(word)')"); expected.append(Piece(stream: "stdout", text: word + "\n"))
            case 1: lines.append("print('\(word)', flush=False)"); expected.append(Piece(stream: "stdout", text: word + "\n"))
            case 2: lines.append("sys.stdout.write('\(word)')"); expected.append(Piece(stream: "stdout", text: word))
            case 3: lines.append("os.write(1, b'\(word)\\n')"); expected.append(Piece(stream: "stdout", text: word + "\n"))
            case 4: lines.append("print('\(word)', file=sys.stderr)"); expected.append(Piece(stream: "stderr", text: word + "\n"))
            case 5: lines.append("sys.stderr.write('\(word)')"); expected.append(Piece(stream: "stderr", text: word))
            default: lines.append("logging.warning('\(word)')"); expected.append(Piece(stream: "stderr", text: word + "\n"))
            }
        }
        raises = random.next() % 2 == 0
        if raises { lines.append("raise RuntimeError('p\(number) ends')") }
        self.number = number
        code = lines.joined(separator: "\n")
        self.expected = expected
    }

    private var traceback: String { "RuntimeError: p\(number) ends\n" }

    /// Checks pieces of output in order (adjacent ones of one stream are joined here).
    func check(_ pieces: [Piece], status: String?, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(status == (raises ? "error" : "ok"), "\(code)", sourceLocation: sourceLocation)
        var received = Self.joined(pieces)
        if raises {
            let last = received.popLast()
            #expect(last?.stream == "stderr" && last?.text.hasSuffix(traceback) == true,
                    "the traceback is not last in \(pieces) of\n\(code)", sourceLocation: sourceLocation)
            if let last, let start = last.text.range(of: "Traceback (most recent call last):")?.lowerBound,
               start > last.text.startIndex {
                // What the program wrote to stderr just before it raised.
                received.append(Piece(stream: "stderr", text: String(last.text[..<start])))
            }
        }
        #expect(received == Self.joined(expected), "\(code)", sourceLocation: sourceLocation)
    }

    /// Checks both streams as one text (a terminal's view).
    func check(combined text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let written = expected.map(\.text).joined()
        if raises {
            #expect(text.hasPrefix(written + "Traceback (most recent call last):") && text.hasSuffix(traceback),
                    "\(text.debugDescription) of\n\(code)", sourceLocation: sourceLocation)
        } else {
            #expect(text == written, "\(text.debugDescription) of\n\(code)", sourceLocation: sourceLocation)
        }
    }

    static func joined(_ pieces: [Piece]) -> [Piece] {
        var joined: [Piece] = []
        for piece in pieces where !piece.text.isEmpty {
            if joined.last?.stream == piece.stream {
                joined[joined.count - 1].text += piece.text
            } else {
                joined.append(piece)
            }
        }
        return joined
    }
}
