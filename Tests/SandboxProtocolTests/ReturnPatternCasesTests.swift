import Foundation
import SandboxProtocol
import TestSupport
import Testing

@Suite("ReturnPattern against the bootstrap")
struct ReturnPatternCasesTests {
    /// Patterns and paths, with whether each matches, as PROTOCOL.md describes `returnFiles`.
    static let cases: [(pattern: String, path: String, matches: Bool)] = [
        ("*.csv", "a.csv", true),
        ("*.csv", "sub/a.csv", false),  // * stays within one name
        ("*.csv", ".hidden.csv", false),  // no wildcard matches a leading dot
        ("*", ".bashrc", false),
        ("*", "notes.txt", true),
        (".*", ".bashrc", true),  // the pattern names the dot
        (".bashrc", ".bashrc", true),
        ("?bashrc", ".bashrc", false),
        ("[.]bashrc", ".bashrc", false),
        ("**", "a/b/c.txt", true),
        ("**", ".git/hooks/pre-commit", false),
        ("**", "a/.git/config", false),
        ("**/*.png", "p.png", true),  // ** is any number of directories, none included
        ("**/*.png", "out/deep/p.png", true),
        ("**/*.png", "out/.cache/p.png", false),
        ("out/**", "out", false),
        ("out/**", "out/a", true),
        ("out/**", "out/a/b", true),
        ("out/**/*.csv", "out/x.csv", true),
        ("out/**/*.csv", "out/a/b/x.csv", true),
        ("out/**/*.csv", "outx.csv", false),
        ("out/.*", "out/.env", true),
        ("out/.*", "out/sub/.env", false),
        (".git/hooks/*", ".git/hooks/pre-commit", true),
        ("*/hooks/*", ".git/hooks/pre-commit", false),
        ("data?.bin", "data1.bin", true),
        ("data?.bin", "data12.bin", false),
        ("r[0-9].txt", "r7.txt", true),
        ("r[0-9].txt", "rx.txt", false),
        ("r[!0-9].txt", "rx.txt", true),
        ("r[!0-9].txt", "r7.txt", false),
        ("r[^0-9].txt", "rx.txt", true),
        ("[]]x", "]x", true),
        ("[a-]x", "-x", true),
        ("a[b", "a[b", true),  // no closing bracket: a [ of its own
        ("*a*b*c", "xaybzc", true),
        ("*a*b*c", "xaybzcd", false),
        ("a*", "a", true),
        ("f(1)+.txt", "f(1)+.txt", true),  // regex characters are themselves
        ("f.txt", "fxtxt", false),
        ("é*", "été.txt", true),
        ("*.txt", "", false),
        ("x.txt", "x.txt/", false),
    ]

    @Test func matchesAsProtocolSays() {
        for (pattern, path, expected) in Self.cases {
            #expect(ReturnPattern(pattern).matches(path) == expected, "\(pattern) against \(path)")
        }
    }

    /// Many `**` against a deep path: checked segment by segment, not by trying every split.
    @Test func manyDoubleStarsAgainstADeepPathStayCheap() {
        let pattern = ReturnPattern(Array(repeating: "**", count: 40).joined(separator: "/") + "/x")
        let deep = Array(repeating: "d", count: 2000).joined(separator: "/")
        #expect(pattern.matches(deep + "/x"))
        #expect(!pattern.matches(deep + "/y"))
    }

    /// The sandbox's own matcher (the bootstrap's `pattern_regex`, read from
    /// its file) gives the same answer for every case: the client and the
    /// sandbox cannot drift apart unnoticed. Needs a `python3` on the host.
    @Test(.enabled(if: Self.python != nil, "no python3 on this host to run the bootstrap's matcher"))
    func agreesWithTheBootstrapsMatcher() throws {
        let source = try String(contentsOf: Self.bootstrapSource, encoding: .utf8)
        let start = try #require(source.range(of: "def pattern_regex(pattern):"), "pattern_regex is gone from \(Self.bootstrapSource.path)")
        let end = try #require(source.range(of: "\ndef ", range: start.upperBound..<source.endIndex))
        let function = String(source[start.lowerBound..<end.lowerBound])
        let table = try JSONSerialization.data(withJSONObject: Self.cases.map { [$0.pattern, $0.path] })
        let program = function + """

            import json, sys
            print(json.dumps([bool(pattern_regex(p).match(s)) for p, s in json.load(sys.stdin)]))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python!)
        process.arguments = ["-c", program]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(table)
        try input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let sandboxAnswers = try JSONDecoder().decode([Bool].self, from: answer)
        try #require(sandboxAnswers.count == Self.cases.count)
        for (index, (pattern, path, _)) in Self.cases.enumerated() {
            #expect(ReturnPattern(pattern).matches(path) == sandboxAnswers[index], "\(pattern) against \(path): the sandbox says \(sandboxAnswers[index])")
        }
    }

    static let bootstrapSource = Checkout.url("Sources/SandboxRuntime/Python/bootstrap/returned_files.py")

    static let python: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")
        .split(separator: ":").map { $0 + "/python3" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}
