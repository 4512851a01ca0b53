import SandboxProtocol

/// What Enter does with the block typed so far: run it, or ask for another
/// line. The service decides (`code/isComplete`, Python's own compiler);
/// without its answer (a server before 0.13.0, a failure, no answer in
/// time), `PythonBlock`'s rules do.
enum BlockDecision: Equatable, Sendable {
    case run
    /// Another line, started with `indent` (the block's indentation, spaces).
    case continueBlock(indent: String)

    /// The code `code/isComplete` is asked about: the lines as typed, so a
    /// last line that is empty (or only spaces) ends a block.
    static func code(of block: PythonBlock) -> String {
        block.lines.joined(separator: "\n")
    }

    static func decide(_ block: PythonBlock, serviceAnswer: IsCompleteResult?) -> BlockDecision {
        guard let answer = serviceAnswer else { return block.isComplete ? .run : .continueBlock(indent: "") }
        switch answer.status {
        // An invalid block runs: the run reports the syntax error, as Python's prompt does.
        case .complete, .invalid: return .run
        case .incomplete: return .continueBlock(indent: indentation(answer.indent ?? ""))
        }
    }

    /// The service's indent as the line will start: its leading spaces
    /// (what the protocol sends), at most 64; the editor draws nothing else as it is.
    private static func indentation(_ indent: String) -> String {
        String(repeating: " ", count: min(64, indent.prefix { $0 == " " }.count))
    }
}
