import Foundation
import SandboxProtocol
import Testing

@testable import SandboxRuntime

/// The files frame is written inside the sandbox, where the program can
/// forge it: the service checks it against the run's own request.
@Suite("Returned files are checked against the run's patterns")
struct ReturnedFilesTrustTests {
    private func frame(_ files: [(String, String)], omitted: [(String, String)] = []) -> [UInt8] {
        let object: [String: Any] = [
            "files": files.map { ["path": $0.0, "base64": $0.1] },
            "omitted": omitted.map { ["path": $0.0, "reason": $0.1] },
        ]
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }

    private func decode(_ payload: [UInt8], _ patterns: [String], maxBytes: Int = 1 << 20)
        -> (files: [ReturnedFile], omitted: [OmittedFile])?
    {
        FrameDecoding.returnedFiles(payload, patterns: patterns.map(ReturnPattern.init), maxBytes: maxBytes)
    }

    @Test func onlyPathsThePatternsMatchComeBackOnce() throws {
        let content = Base64.encode(Array("1\n".utf8))
        let forged = [
            ".bashrc", ".git/hooks/pre-commit", "../up.csv", "/etc/x.csv", "a//b.csv", "./x.csv", "sub/x.csv",
            ".hidden.csv", "x.csv\0.txt", "", "ok.csv", "ok.csv",
        ]
        let decoded = try #require(decode(frame(forged.map { ($0, content) }), ["*.csv"]))
        #expect(decoded.files.map(\.path) == ["ok.csv"])
        #expect(decoded.omitted.isEmpty)
        // A pattern that names a dot file lets it come back.
        let dotted = try #require(decode(frame([(".env", content), ("x/.env", content)]), [".env"]))
        #expect(dotted.files.map(\.path) == [".env"])
    }

    @Test func omittedEntriesNameAPatternOrAPathOneMatches() throws {
        let omitted = [
            ("*.csv", "noMatch"), ("*.txt", "noMatch"), ("*.csv", "notCollected"), ("a.csv", "symlink"),
            (".bashrc", "unreadable"), ("../a.csv", "overLimit"), ("b.csv", "bogus"), ("caf\\xe9.csv", "nameNotUTF8"),
            ("/etc/x", "nameNotUTF8"),
        ]
        let decoded = try #require(decode(frame([], omitted: omitted), ["*.csv"]))
        #expect(decoded.omitted == [
            OmittedFile(path: "*.csv", reason: .noMatch), OmittedFile(path: "a.csv", reason: .symlink),
            OmittedFile(path: "caf\\xe9.csv", reason: .nameNotUTF8),
        ])
    }

    @Test func eachListIsCapped() throws {
        let many = (0..<5000).map { ("f\($0).csv", "not base64!") }
        let omitted = (0..<5000).map { ("o\($0).csv", "overLimit") }
        let decoded = try #require(decode(frame(many, omitted: omitted), ["*.csv"]))
        #expect(decoded.files.isEmpty)
        #expect(decoded.omitted.count == RunRequest.maxReturnedFiles)
        let valid = (0..<1500).map { ("f\($0).csv", Base64.encode([1])) }
        let full = try #require(decode(frame(valid), ["*.csv"]))
        #expect(full.files.count == RunRequest.maxReturnedFiles)
        // The bootstrap lists at most that many itself: entries past it are forged, and not even read.
        #expect(full.omitted.isEmpty)
        // A frame of a hundred thousand entries is scanned, not decoded entry by entry.
        let flood = (0..<100_000).map { ("f\($0).csv", "!") }
        let flooded = try #require(decode(frame(flood, omitted: flood.map { ($0.0, "unreadable") }), ["*.csv"]))
        #expect(flooded.files.isEmpty && flooded.omitted.count == RunRequest.maxReturnedFiles)
    }

    @Test func theBytesLimitHoldsWhateverTheFrameClaims() throws {
        let big = Base64.encode([UInt8](repeating: 7, count: 600))
        let decoded = try #require(decode(frame([("a.csv", big), ("b.csv", big)]), ["*.csv"], maxBytes: 1000))
        #expect(decoded.files.map(\.path) == ["a.csv"])
        #expect(decoded.omitted == [OmittedFile(path: "b.csv", reason: .overLimit)])
    }

    @Test func onlyTheFirstFilesFrameCounts() throws {
        let reader = FrameReader()
        reader.expect(RunDelivery(
            body: [], timeout: .seconds(1), maxOutputBytes: 1000, maxDisplayBytes: 100, maxReturnBytes: 1000,
            returnFiles: ["*.csv"], frameMarker: StdoutFramesTests.marker))
        #expect(reader.received(filesFrame: frame([("a.csv", Base64.encode([1]))])))
        #expect(!reader.received(filesFrame: frame([("b.csv", Base64.encode([2]))])))
        let (files, _) = reader.returnedFiles()
        #expect(files?.map(\.path) == ["a.csv"])
        #expect(reader.receivedEndFrame())
        #expect(!reader.receivedEndFrame())
    }

    /// The service's matcher and the bootstrap's regex (the real one, in
    /// Python) agree on random patterns and paths over a small alphabet.
    @Test func theServiceMatchesAsTheBootstrapDoes() throws {
        var random = SystemRandomNumberGenerator()
        let nameParts = ["a", "b", ".", "*", "?", "[ab]", "[!a]", "[a-", "]", "-", "é", "[^b]", "[z-a]", "\\"]
        let pathParts = ["a", "b", ".", "-", "é", "]", "[", "\\"]
        func name(_ parts: [String], _ maxLength: Int) -> String {
            (0..<Int.random(in: 1...maxLength, using: &random)).map { _ in parts.randomElement(using: &random)! }.joined()
        }
        let patterns = (0..<300).map { _ in
            (0..<Int.random(in: 1...3, using: &random)).map { _ in
                Int.random(in: 0..<6, using: &random) == 0 ? "**" : name(nameParts, 3)
            }.joined(separator: "/")
        }
        let paths = (0..<200).map { _ in
            (0..<Int.random(in: 1...3, using: &random)).map { _ in name(pathParts, 3) }.joined(separator: "/")
        }
        let script = Bootstrap.returnedFiles + #"""

import json, re, sys
request = json.load(sys.stdin)
result = {}
for pattern in request["patterns"]:
    try:
        regex = pattern_regex(pattern)
    except re.error:
        continue
    result[pattern] = [bool(regex.match(path)) for path in request["paths"]]
print(json.dumps(result))
"""#
        let input = try JSONSerialization.data(withJSONObject: ["patterns": patterns, "paths": paths])
        let output = try Self.python(script, input: input)
        let expected = try #require(try JSONSerialization.jsonObject(with: output) as? [String: [Bool]])
        #expect(expected.count > 100, "most random patterns compile")
        for (pattern, matches) in expected {
            let swift = ReturnPattern(pattern)
            for (path, match) in zip(paths, matches) where swift.matches(path) != match {
                Issue.record("'\(pattern)' vs '\(path)': the bootstrap says \(match)")
            }
        }
    }

    static func python(_ script: String, input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-I", "-c", "import os\n" + script]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return output
    }
}

