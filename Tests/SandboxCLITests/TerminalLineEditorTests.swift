import Synchronization
import Testing

@testable import sandbox

/// The REPL's line editor, typed at byte by byte, drawing into a string
/// instead of the terminal.
@Suite("TerminalLineEditor")
struct TerminalLineEditorTests {
    static let left = "\u{1B}[D", right = "\u{1B}[C", up = "\u{1B}[A", down = "\u{1B}[B"
    static let home = "\u{1B}[H", end = "\u{1B}[F", delete = "\u{1B}[3~"
    static let ctrlA = "\u{01}", ctrlC = "\u{03}", ctrlD = "\u{04}", ctrlE = "\u{05}", ctrlK = "\u{0B}", ctrlU = "\u{15}"
    static let backspace = "\u{7F}", enter = "\r"

    /// An editor on a terminal `width` columns wide, and what it drew.
    struct Screen {
        var editor: TerminalLineEditor
        let drawn: Drawn

        init(width: Int = 80, prompt: String = ">>> ", completesNames: Bool = false) {
            let drawn = Drawn()
            self.drawn = drawn
            editor = TerminalLineEditor(completesNames: completesNames, write: { drawn.append($0) }, columns: { width })
            editor.start(prompt: prompt)
        }

        /// Types `keys`; the events they made.
        mutating func type(_ keys: String) -> [LineEvent] {
            Array(keys.utf8).compactMap { editor.take($0) }
        }

        /// Types `keys` and Enter: the line entered.
        mutating func enter(_ keys: String) -> String? {
            guard case .line(let text)? = type(keys + TerminalLineEditorTests.enter).last else { return nil }
            editor.start(prompt: ">>> ")
            return text
        }
    }

    final class Drawn: Sendable {
        private let writes = Mutex<[String]>([])
        var all: [String] { writes.withLock { $0 } }
        var text: String { all.joined() }
        func append(_ text: String) { writes.withLock { $0.append(text) } }
    }

    @Test func typedTextIsTheLineAndTheStartDrawsThePrompt() {
        var screen = Screen()
        #expect(screen.drawn.all == [">>> "])
        #expect(screen.type("print(1)") == [])
        #expect(screen.type(Self.enter) == [.line("print(1)")])
        #expect(screen.drawn.all.last == "\n")
        #expect(screen.drawn.all.contains("\r>>> print(1)\u{1B}[K"))
    }

    @Test func backspaceDeletesBeforeTheCursorAndDeleteAtIt() {
        var screen = Screen()
        #expect(screen.enter("abc" + Self.backspace) == "ab")
        #expect(screen.enter("abc" + Self.home + Self.delete) == "bc")
        #expect(screen.enter("abc" + Self.left + Self.backspace) == "ac")
        #expect(screen.enter(Self.backspace + Self.delete + "x") == "x")
    }

    @Test func theCursorMovesAndTextGoesInWhereItIs() {
        var screen = Screen()
        #expect(screen.enter("ac" + Self.left + "b") == "abc")
        #expect(screen.enter("bc" + Self.home + "a" + Self.end + "d") == "abcd")
        #expect(screen.enter("bc" + Self.ctrlA + "a" + Self.ctrlE + "d") == "abcd")
        #expect(screen.enter("b" + Self.left + Self.left + Self.left + "a" + Self.right + Self.right + Self.right + "c") == "abc")
    }

    @Test func ctrlKAndCtrlUKillToTheEndAndToTheStart() {
        var screen = Screen()
        #expect(screen.enter("abcdef" + Self.left + Self.left + Self.left + Self.ctrlK) == "abc")
        #expect(screen.enter("abcdef" + Self.left + Self.left + Self.ctrlU + "x") == "xef")
    }

    @Test func tabIndentsByFourSpaces() {
        var screen = Screen()
        #expect(screen.enter("\tpass") == "    pass")
    }

    /// Without completion, Tab anywhere inserts four spaces.
    @Test func tabAfterTextIndentsWhenNamesAreNotCompleted() {
        var screen = Screen()
        #expect(screen.type("x") == [])
        #expect(screen.enter("\t1") == "x    1")
    }

    /// Tab after a name asks for its completion, with the line up to the
    /// cursor, and changes nothing itself; after only spaces it indents.
    @Test func tabAfterANameAsksForItsCompletion() {
        var screen = Screen(completesNames: true)
        #expect(screen.type("x = my_va\t") == [.completion(lineBeforeCursor: "x = my_va")])
        #expect(screen.type("  " + Self.left + Self.left + "\t") == [.completion(lineBeforeCursor: "x = my_va")])
        #expect(screen.enter("") == "x = my_va  ")
        #expect(screen.enter("  \tpass") == "      pass")
        #expect(screen.enter("\t\t") == "        ")
    }

    /// One match replaces the name before the cursor; what follows the cursor stays.
    @Test func aCompletionReplacesTheNameAndKeepsWhatFollows() {
        var screen = Screen(completesNames: true)
        _ = screen.type("print(my_va)" + Self.left)
        screen.editor.apply(LineCompletion(replacing: 5, text: "my_variable", candidates: []))
        #expect(screen.drawn.all.last == "\r>>> print(my_variable)\u{1B}[K\u{1B}[1D")
        #expect(screen.enter("") == "print(my_variable)")
    }

    /// Several matches: what they share is inserted, they are listed below
    /// the line, and the prompt and line are drawn again under them.
    @Test func severalMatchesAreListedBelowTheLine() {
        var screen = Screen(completesNames: true)
        _ = screen.type("my_a")
        let before = screen.drawn.all.count
        screen.editor.apply(LineCompletion(replacing: 4, text: "my_alp", candidates: ["my_alpha", "my_alps"]))
        #expect(screen.drawn.all[before...].joined() == "\r>>> my_alp\u{1B}[K" + "\nmy_alpha  my_alps\n" + "\r>>> my_alp\u{1B}[K")
        #expect(screen.enter("s") == "my_alps")
    }

    /// Over a hundred matches: asked first, as readline does; y lists them,
    /// any other key does not, and the key is only the answer.
    @Test func manyMatchesAreListedOnlyWhenAsked() {
        let names = (0..<150).map { "name\($0)" }
        for (answer, listed) in [("y", true), ("n", false), (Self.enter, false)] {
            var screen = Screen(completesNames: true)
            _ = screen.type("na")
            screen.editor.apply(LineCompletion(replacing: 2, text: "name", candidates: names))
            #expect(screen.drawn.all.last == "\nDisplay all 150 possibilities? (y or n)")
            let before = screen.drawn.all.count
            #expect(screen.type(answer) == [])
            let drawn = screen.drawn.all[before...].joined()
            #expect(drawn.contains("name0 ") == listed)
            #expect(drawn.hasSuffix("\r>>> name\u{1B}[K"))
            #expect(screen.enter("1") == "name1")
        }
    }

    /// A continuation line may start with the block's indentation typed already.
    @Test func aLineMayStartWithTextTyped() {
        var screen = Screen()
        _ = screen.enter("for i in x:")
        screen.editor.start(prompt: "... ", text: "    ")
        #expect(screen.drawn.all.last == "\r...     \u{1B}[K")
        #expect(screen.enter("print(i)") == "    print(i)")
        screen.editor.start(prompt: "... ", text: "    ")
        #expect(screen.enter(Self.backspace + Self.backspace) == "  ")
    }

    @Test func multiByteCharactersAreEditedWhole() {
        var screen = Screen()
        #expect(screen.enter("né€😀" + Self.backspace + Self.left + Self.backspace) == "n€")
    }

    @Test func ctrlCDropsTheLineAndCtrlDEndsOnlyAnEmptyOne() {
        var screen = Screen()
        #expect(screen.type("abc" + Self.ctrlC) == [.interrupt])
        #expect(screen.drawn.all.last == "^C\n")
        screen.editor.start(prompt: ">>> ")
        #expect(screen.enter("ab" + Self.home + Self.ctrlD) == "b")
        #expect(screen.type(Self.ctrlD) == [.endOfInput])
        #expect(screen.editor.finish() == [.endOfInput])
    }

    /// Up and Down walk the lines entered (not blank ones, not a repeat),
    /// and Down past the newest brings back what was being typed.
    @Test func upAndDownWalkTheHistoryAndKeepTheDraft() {
        var screen = Screen()
        for line in ["one", "two", "two", "   "] { _ = screen.enter(line) }
        #expect(screen.enter(Self.up) == "two")
        #expect(screen.enter(Self.up + Self.up + Self.up + Self.up) == "one")
        #expect(screen.enter("dr" + Self.up + Self.up + Self.down + Self.down + "aft") == "draft")
        #expect(screen.enter(Self.down + "x") == "x")
        #expect(screen.enter(Self.up + Self.up + Self.backspace + "o") == "drafo")
    }

    @Test func aRedrawPutsTheCursorBackWhereItIs() {
        var screen = Screen()
        _ = screen.type("abc" + Self.left + Self.left)
        #expect(screen.drawn.all.last == "\r>>> abc\u{1B}[K\u{1B}[2D")
    }

    /// A line as wide as the terminal wraps at once: the cursor goes to the next row.
    @Test func aLineThatFillsTheRowWrapsOntoTheNext() {
        var screen = Screen(width: 10)
        _ = screen.type("12345")
        #expect(screen.drawn.all.last == "\r>>> 12345\u{1B}[K")
        _ = screen.type("6")
        let wrapped = screen.drawn.all.last ?? ""
        #expect(wrapped.hasSuffix(">>> 123456\n\r\r"))
        _ = screen.type("78")
        // From the second row: back up one, clear both, redraw.
        #expect(screen.drawn.all.last?.hasPrefix("\r\u{1B}[K\u{1B}[1A\r\u{1B}[K>>> 12345678") == true)
        #expect(screen.type(Self.enter) == [.line("12345678")])
    }

    /// The program's output left a row (its `input()` prompt): the line is typed after it.
    @Test func typedAfterTheProgramsPromptTheLineFollowsIt() {
        var screen = Screen()
        screen.editor.start(prompt: "")
        screen.editor.follow(output: "Name: ")
        _ = screen.type("Ada")
        #expect(screen.drawn.all.last == "\rName: Ada\u{1B}[K")
        #expect(screen.type(Self.enter) == [.line("Ada")])
    }
}

/// Stdin that is not a terminal: lines as they come.
@Suite("PipedLines")
struct PipedLinesTests {
    static func events(_ text: String) -> [LineEvent] {
        var lines = PipedLines()
        lines.start(prompt: ">>> ")
        return Array(text.utf8).compactMap { lines.take($0) } + lines.finish()
    }

    @Test func linesEndAtLineBreaksWithOrWithoutCarriageReturns() {
        #expect(Self.events("a\nb\r\n\nc") == [.line("a"), .line("b"), .line(""), .line("c"), .endOfInput])
        #expect(Self.events("x = 'é'\n") == [.line("x = 'é'"), .endOfInput])
        #expect(Self.events("") == [.endOfInput])
    }

    /// Control bytes are text here: no key is decoded without a terminal.
    @Test func controlBytesAreKeptAsText() {
        #expect(Self.events("a\u{03}\tb\n") == [.line("a\u{03}\tb"), .endOfInput])
    }
}
