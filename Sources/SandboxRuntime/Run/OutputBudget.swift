import Synchronization

/// Counts output against the run's limit; the reader cuts at the limit.
final class OutputBudget: Sendable {
    private struct State {
        var limit: Int
        var stdout = 0
        var stderr = 0
        var display = 0
        /// Frames that carry no output, counted toward the limit alone.
        var overhead = 0
        var truncated = false
        /// Cut short: nothing more is passed on.
        var closed = false

        var used: Int { stdout + stderr + display + overhead }
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(limit: limit))
    }

    /// A warm sandbox learns its run's output limit only when the run arrives.
    func setLimit(_ limit: Int) {
        state.withLock { $0.limit = limit }
    }

    /// How many of `count` new bytes of `stream` may be passed on.
    func admit(_ count: Int, from stream: OutputChunk.Stream) -> Int {
        state.withLock { state in
            let used = state.used
            let allowed = state.closed ? 0 : max(0, min(count, state.limit - used))
            if allowed < count { state.truncated = true }
            switch stream {
            case .stdout: state.stdout += allowed
            case .stderr: state.stderr += allowed
            }
            return allowed
        }
    }

    /// Output the run was ended for without counting it (a frame too large
    /// or malformed): the output is cut there all the same.
    func cutShort() {
        state.withLock {
            $0.truncated = true
            $0.closed = true
        }
    }

    /// Counts `count` bytes of frames that carry no output; false past the limit.
    func admitOverhead(_ count: Int) -> Bool {
        admitWhole(count, into: \.overhead)
    }

    /// Whether a whole display of `count` bytes fits: a display is never cut.
    func admitDisplay(_ count: Int) -> Bool {
        admitWhole(count, into: \.display)
    }

    private func admitWhole(_ count: Int, into counter: WritableKeyPath<State, Int>) -> Bool {
        state.withLock { state in
            guard !state.closed, state.used + count <= state.limit else {
                state.truncated = true
                return false
            }
            state[keyPath: counter] += count
            return true
        }
    }

    var totals: (stdout: Int, stderr: Int, display: Int, truncated: Bool) {
        state.withLock { ($0.stdout, $0.stderr, $0.display, $0.truncated) }
    }
}
