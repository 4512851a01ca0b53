/// Splits the program's stdout into its text and the frames the bootstrap
/// writes there: what Python wrote to stderr, a blocking read of stdin,
/// displays, and at the end the returned files; in a session, the end of
/// each cell (on stderr too). A frame is
/// `marker kind SP length LF payload`, where the marker starts with a NUL
/// and carries a nonce fresh for each run, so no program prints one by
/// accident. Frames ride on stdout, not a pipe of their own, so a display
/// lands exactly where the program showed it among its printed lines.
///
/// The program can forge frames (it can read its own memory); a forged one
/// can do no more than `display()` could, and the service checks every
/// frame as untrusted input. A pure state machine: bytes in, pieces out.
struct StdoutFrames {
    enum Kind: String, Sendable {
        case display
        /// A display past `maxDisplayBytes`, announced by its size alone.
        case displayTooLarge = "display_too_large"
        case files
        /// A session's cell has ended; the payload is its exit status.
        case end
        /// What Python wrote to `sys.stderr`, in its place among stdout's text.
        case stderr
        /// The program blocks reading stdin with nothing to read.
        case stdinWanted = "stdin_wanted"
        /// `pip install` in the program: the requirements it asks the service for (`PackagesWanted`).
        case packages

        /// The bootstrap writes a `stderr` frame in one write of at most PIPE_BUF bytes.
        static let maxStderrPayload = 4096
    }

    enum Piece: Equatable {
        case text([UInt8])
        case frame(Kind, [UInt8])
        /// A frame whose header announced more than its kind may carry; the
        /// rest of stdout is discarded (the caller ends the run).
        case oversized(Kind, Int)
        /// A header that is not `kind SP length LF`; the rest of stdout is discarded.
        case malformed
    }

    private enum State {
        /// Plain text; `heldBack` is a possible start of the marker at the end of the last read.
        case text(heldBack: [UInt8])
        case header([UInt8])
        case payload(Kind, remaining: Int, collected: [UInt8])
        case discarding
    }

    static let maxHeaderBytes = 32

    let marker: [UInt8]
    let maxPayload: @Sendable (Kind) -> Int
    private var state = State.text(heldBack: [])

    init(marker: [UInt8], maxPayload: @escaping @Sendable (Kind) -> Int) {
        precondition(marker.first == 0 && marker.count > 1)
        self.marker = marker
        self.maxPayload = maxPayload
    }

    /// The pieces `bytes` completes, in order; text never waits for more than a partial marker.
    mutating func feed(_ bytes: some Collection<UInt8>) -> [Piece] {
        var pieces: [Piece] = []
        var input = ArraySlice(bytes)
        while !input.isEmpty {
            switch state {
            case .text(let heldBack):
                let data = heldBack.isEmpty ? input : ArraySlice(heldBack + input)
                // What follows a marker is read in this loop, not by recursion:
                // a read of many small frames costs linear time and no stack.
                input = scanText(data, into: &pieces)
            case .header(var header):
                guard let newline = input.firstIndex(of: UInt8(ascii: "\n")) else {
                    header += input
                    input = []
                    state = header.count > Self.maxHeaderBytes ? .discarding : .header(header)
                    if case .discarding = state { pieces.append(.malformed) }
                    continue
                }
                header += input[..<newline]
                input = input[(newline + 1)...]
                startPayload(header: header, into: &pieces)
            case .payload(let kind, let remaining, var collected):
                let taken = input.prefix(remaining)
                collected += taken
                input = input.dropFirst(taken.count)
                if taken.count == remaining {
                    pieces.append(.frame(kind, collected))
                    state = .text(heldBack: [])
                } else {
                    state = .payload(kind, remaining: remaining - taken.count, collected: collected)
                }
            case .discarding:
                input = []
            }
        }
        return pieces
    }

    /// The end of stdout: a held-back partial marker was text after all; a
    /// frame cut short (the program died writing it) is dropped.
    mutating func finish() -> [Piece] {
        defer { state = .discarding }
        if case .text(let heldBack) = state, !heldBack.isEmpty { return [.text(heldBack)] }
        return []
    }

    /// Passes on the text of `data` up to the first marker; returns what follows it.
    private mutating func scanText(_ data: ArraySlice<UInt8>, into pieces: inout [Piece]) -> ArraySlice<UInt8> {
        var rest = data
        let textStart = rest.startIndex
        while let nul = rest.firstIndex(of: 0) {
            let candidate = rest[nul...]
            if candidate.count < marker.count {
                if marker.starts(with: candidate) {
                    appendText(data[textStart..<nul], into: &pieces)
                    state = .text(heldBack: Array(candidate))
                    return []
                }
            } else if candidate.starts(with: marker) {
                appendText(data[textStart..<nul], into: &pieces)
                state = .header([])
                return candidate.dropFirst(marker.count)
            }
            rest = rest[(nul + 1)...]
        }
        appendText(data[textStart...], into: &pieces)
        state = .text(heldBack: [])
        return []
    }

    private func appendText(_ text: ArraySlice<UInt8>, into pieces: inout [Piece]) {
        guard !text.isEmpty else { return }
        if case .text(let previous)? = pieces.last {
            pieces[pieces.count - 1] = .text(previous + text)
        } else {
            pieces.append(.text(Array(text)))
        }
    }

    private mutating func startPayload(header: [UInt8], into pieces: inout [Piece]) {
        let fields = header.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 2, let kind = Kind(rawValue: String(decoding: fields[0], as: UTF8.self)),
              fields[1].count <= 12, fields[1].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let length = Int(String(decoding: fields[1], as: UTF8.self))
        else {
            pieces.append(.malformed)
            state = .discarding
            return
        }
        guard length <= maxPayload(kind) else {
            pieces.append(.oversized(kind, length))
            state = .discarding
            return
        }
        if length == 0 {
            pieces.append(.frame(kind, []))
            state = .text(heldBack: [])
        } else {
            state = .payload(kind, remaining: length, collected: [])
        }
    }
}
