import Testing

@testable import sandbox

/// When the REPL runs what was typed: Python's own prompt's rules.
@Suite("PythonBlock")
struct PythonBlockTests {
    /// After each line of `lines`, whether the block is complete.
    static func completeness(_ lines: [String]) -> [Bool] {
        var block = PythonBlock()
        return lines.map { line in
            block.append(line)
            return block.isComplete
        }
    }

    @Test(arguments: [
        "x = 1", "print('a:')", "x = 1  # why:", "d = {'a': 1}", "y = x[1:]", "f = lambda: 0", "ifx = 1",
        "s = 'it\\'s'", "s = 'a\\\\'", "s = '#('", ")", "x: int = 1", "",
    ])
    func aSimpleStatementRunsAtOnce(_ line: String) {
        #expect(Self.completeness([line]) == [true])
    }

    @Test(arguments: [
        ["def f():", "    return 1", ""],
        ["class A:", "    pass", "   "],
        ["if x:", "    y()", "else:", "    z()", ""],
        ["async def f():", "    await g()", ""],
        ["match x:", "    case 1:", "        pass", ""],
    ])
    func aCompoundStatementRunsAfterAnEmptyLine(_ lines: [String]) {
        #expect(Self.completeness(lines) == lines.indices.map { $0 == lines.count - 1 })
    }

    /// Python's prompt continues a compound statement even with its body on the same line.
    @Test(arguments: ["for x in y: print(x)", "while True: break", "with a as b: pass", "try: f()", "@decorator", "  if x: y()"])
    func aCompoundStatementOnOneLineStillWaitsForAnEmptyLine(_ line: String) {
        #expect(Self.completeness([line, ""]) == [false, true])
    }

    @Test func openBracketsStringsAndBackslashesContinue() {
        #expect(Self.completeness(["print(1 +", "2)"]) == [false, true])
        // A colon inside brackets opens no block.
        #expect(Self.completeness(["x = [1, {", "    'a': 2:", "    }]"]) == [false, false, true])
        #expect(Self.completeness(["s = '''doc", "it's", "end'''"]) == [false, false, true])
        #expect(Self.completeness(["s = \"\"\"a", "b\"\"\""]) == [false, true])
        #expect(Self.completeness(["x = 1 + \\", "2"]) == [false, true])
        #expect(Self.completeness(["x = 1  # path\\"]) == [true])
        // A bracket inside a string or comment opens nothing.
        #expect(Self.completeness(["x = '('  # ["]) == [true])
        // A single-quoted string does not run past its line.
        #expect(Self.completeness(["s = 'open", "x = 1"]) == [true, true])
    }

    /// The code sent: the lines without the empty ones that ended the block.
    @Test func theCodeLeavesOutTheEndingEmptyLines() {
        var block = PythonBlock()
        for line in ["def f():", "", "    return 1", "", "  "] { block.append(line) }
        #expect(block.code == "def f():\n\n    return 1")
        #expect(!block.isEmpty)
        block.clear()
        #expect(block.isEmpty && !block.isComplete && block.code == "")
    }
}
