import SandboxProtocol
import Testing

@testable import sandbox

/// What Tab asks the service (`code/complete`) and what its answer does to
/// the line: pure, no server.
@Suite("CompletionRequest")
struct CompletionRequestTests {
    static func answer(_ matches: [String], from start: Int, to end: Int) -> CompleteResult {
        CompleteResult(matches: matches, cursorStart: start, cursorEnd: end, metadata: .init(source: .session))
    }

    /// The block's lines so far and the line up to the cursor; the cursor at the end, in code points.
    @Test func theCodeIsTheBlockThenTheLineUpToTheCursor() {
        let alone = CompletionRequest(block: [], lineBeforeCursor: "my_va")
        #expect(alone.code == "my_va" && alone.cursor == 5 && alone.lineStart == 0)
        let inBlock = CompletionRequest(block: ["import math", "for é in x:"], lineBeforeCursor: "    math.sq")
        #expect(inBlock.code == "import math\nfor é in x:\n    math.sq")
        #expect(inBlock.lineStart == 24)
        #expect(inBlock.cursor == 35)
    }

    @Test func oneMatchReplacesTheNameTyped() {
        let request = CompletionRequest(block: ["import math"], lineBeforeCursor: "x = math.sq")
        #expect(request.completion(from: Self.answer(["sqrt"], from: 21, to: 23)) == LineCompletion(replacing: 2, text: "sqrt", candidates: []))
        let name = CompletionRequest(block: [], lineBeforeCursor: "my_va")
        #expect(name.completion(from: Self.answer(["my_variable"], from: 0, to: 5)) == LineCompletion(replacing: 5, text: "my_variable", candidates: []))
    }

    /// Several: listed, and what they all begin with replaces the name when it is longer.
    @Test func severalMatchesAreListedWithWhatTheyShareInserted() {
        let request = CompletionRequest(block: [], lineBeforeCursor: "my_a")
        #expect(request.completion(from: Self.answer(["my_alpha", "my_alps"], from: 0, to: 4))
            == LineCompletion(replacing: 4, text: "my_alp", candidates: ["my_alpha", "my_alps"]))
        let nothingShared = CompletionRequest(block: [], lineBeforeCursor: "math.is")
        #expect(nothingShared.completion(from: Self.answer(["isclose", "isinf"], from: 5, to: 7))
            == LineCompletion(replacing: 0, text: "", candidates: ["isclose", "isinf"]))
    }

    /// Matches that do not begin with the name typed (a server's own rule)
    /// never cut it: they are listed, nothing replaced.
    @Test func aSharedPrefixShorterThanTheNameTypedReplacesNothing() {
        let request = CompletionRequest(block: [], lineBeforeCursor: "abc")
        #expect(request.completion(from: Self.answer(["ab1", "ab2"], from: 0, to: 3)) == LineCompletion(replacing: 0, text: "", candidates: ["ab1", "ab2"]))
    }

    @Test func noMatchOrAnAnswerAboutAnotherPlaceDoesNothing() {
        let request = CompletionRequest(block: ["xy = 1"], lineBeforeCursor: "x")
        #expect(request.completion(from: Self.answer([], from: 7, to: 8)) == nil)
        // Not ending at the cursor, or starting on an earlier line, or backwards.
        #expect(request.completion(from: Self.answer(["xy"], from: 7, to: 7)) == nil)
        #expect(request.completion(from: Self.answer(["xy"], from: 3, to: 8)) == nil)
        #expect(request.completion(from: Self.answer(["xy"], from: 9, to: 8)) == nil)
    }

    /// A name is drawn as text: matches with control characters (a terminal's escapes) are dropped.
    @Test func matchesWithControlCharactersAreDropped() {
        let request = CompletionRequest(block: [], lineBeforeCursor: "x")
        #expect(request.completion(from: Self.answer(["x\u{1B}[2J", "xy"], from: 0, to: 1)) == LineCompletion(replacing: 1, text: "xy", candidates: []))
        #expect(request.completion(from: Self.answer(["x\n", ""], from: 0, to: 1)) == nil)
    }

    @Test func theCommonPrefixCountsCodePoints() {
        #expect(CompletionRequest.commonPrefix(["né1", "né2", "néa"]) == "né")
        #expect(CompletionRequest.commonPrefix(["a", "b"]) == "")
        #expect(CompletionRequest.commonPrefix(["same"]) == "same")
        #expect(CompletionRequest.commonPrefix([]) == "")
    }
}

/// The matches' list below the prompt, in readline's columns.
@Suite("CompletionColumns")
struct CompletionColumnsTests {
    /// Columns two wider than the widest name, read down each column first, no trailing spaces.
    @Test func namesGoDownTheColumnsFirst() {
        let names = ["comb", "copysign", "cos", "cosh", "ceil"]
        // 10 columns each: 2 fit in 25 (the last column needs no gap), so 3 rows.
        #expect(CompletionColumns.rows(names, width: 25) == [
            "comb      cosh",
            "copysign  ceil",
            "cos",
        ])
        #expect(CompletionColumns.rows(names, width: 80) == ["comb      copysign  cos       cosh      ceil"])
    }

    /// A row never reaches the terminal's last column, where some terminals wrap.
    @Test func aRowLeavesTheLastColumnFree() {
        let names = ["abcd", "efgh"]
        // "abcd  efgh" is 10 wide: on a terminal 10 wide it would reach the last column.
        #expect(CompletionColumns.rows(names, width: 10) == ["abcd", "efgh"])
        #expect(CompletionColumns.rows(names, width: 11) == ["abcd  efgh"])
    }

    @Test func aNameWiderThanTheTerminalTakesARowOfItsOwn() {
        #expect(CompletionColumns.rows(["a_very_long_name", "b"], width: 8) == ["a_very_long_name", "b"])
        #expect(CompletionColumns.rows([], width: 80) == [])
    }
}

/// What Enter does with the block: the service's answer, or PythonBlock's rules without one.
@Suite("BlockDecision")
struct BlockDecisionTests {
    static func block(_ lines: String...) -> PythonBlock {
        var block = PythonBlock()
        for line in lines { block.append(line) }
        return block
    }

    @Test func theServiceDecidesWhenItAnswers() {
        let loop = Self.block("for i in range(2):")
        #expect(BlockDecision.decide(loop, serviceAnswer: .init(status: .incomplete, indent: "    ")) == .continueBlock(indent: "    "))
        #expect(BlockDecision.decide(loop, serviceAnswer: .init(status: .incomplete)) == .continueBlock(indent: ""))
        // PythonBlock would continue this one; the service's word is what counts.
        let oneLine = Self.block("while True: pass")
        #expect(BlockDecision.decide(oneLine, serviceAnswer: .init(status: .complete)) == .run)
        // The run reports the syntax error.
        #expect(BlockDecision.decide(Self.block("x = )"), serviceAnswer: .init(status: .invalid)) == .run)
    }

    @Test func withoutAnAnswerPythonBlocksRulesDecide() {
        #expect(BlockDecision.decide(Self.block("while True: pass"), serviceAnswer: nil) == .continueBlock(indent: ""))
        #expect(BlockDecision.decide(Self.block("def f():", "    return 1", ""), serviceAnswer: nil) == .run)
        #expect(BlockDecision.decide(Self.block("x = 1"), serviceAnswer: nil) == .run)
    }

    /// The indent is drawn as typed text: spaces only, and not a screenful.
    @Test func theIndentIsSpacesOnly() {
        let block = Self.block("if x:")
        #expect(BlockDecision.decide(block, serviceAnswer: .init(status: .incomplete, indent: "  \u{1B}[2J")) == .continueBlock(indent: "  "))
        #expect(BlockDecision.decide(block, serviceAnswer: .init(status: .incomplete, indent: "\t")) == .continueBlock(indent: ""))
        let wide = String(repeating: " ", count: 500)
        #expect(BlockDecision.decide(block, serviceAnswer: .init(status: .incomplete, indent: wide)) == .continueBlock(indent: String(wide.prefix(64))))
    }

    /// The lines as typed: a last line of spaces is sent as it is, and ends the block for the service.
    @Test func theServiceIsAskedAboutTheLinesAsTyped() {
        #expect(BlockDecision.code(of: Self.block("for i in x:", "    print(i)", "    ")) == "for i in x:\n    print(i)\n    ")
        #expect(BlockDecision.code(of: Self.block("for i in x:", "    print(i)", "")) == "for i in x:\n    print(i)\n")
    }
}
