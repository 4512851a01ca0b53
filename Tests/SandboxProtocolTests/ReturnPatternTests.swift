import SandboxProtocol
import Testing

/// `returnFiles` globs as PROTOCOL.md gives them.
@Suite("returnFiles patterns")
struct ReturnPatternTests {
    @Test(arguments: [
        ("*.csv", "a.csv", true), ("*.csv", "sub/a.csv", false), ("*.csv", ".a.csv", false),
        (".*.csv", ".a.csv", true), ("out/*", "out/a", true), ("out/*", "out/a/b", false),
        ("out/**/*.csv", "out/a.csv", true), ("out/**/*.csv", "out/x/y/a.csv", true),
        ("out/**/*.csv", "out/.git/a.csv", false), ("**", "a/b/c", true), ("**", ".env", false),
        ("**/.env", "a/.env", true), ("data?.txt", "data1.txt", true), ("data?.txt", "data12.txt", false),
        ("[ab].txt", "a.txt", true), ("[!ab].txt", "a.txt", false), ("[!ab].txt", "c.txt", true),
        ("[a-c]x", "bx", true), ("[a-c]x", "dx", false), ("[x", "[x", true), ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false), ("é?", "éé", true), ("*", ".bashrc", false), (".bashrc", ".bashrc", true),
    ])
    func matches(_ pattern: String, _ path: String, _ expected: Bool) {
        #expect(ReturnPattern(pattern).matches(path) == expected, "'\(pattern)' against '\(path)'")
    }
}
