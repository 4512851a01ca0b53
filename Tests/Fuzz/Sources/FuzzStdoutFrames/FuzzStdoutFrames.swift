@testable import SandboxRuntime

/// A run's stdout through `StdoutFrames`: the first byte says how the rest
/// is cut into reads (the pipe hands them over in any sizes), the rest is
/// what the program wrote. The pieces must not depend on the cuts: fed
/// whole or read by read, the same text and frames come out.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStdoutFrames(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let seed = input.first else { return 0 }
    let stdout = Array(input.dropFirst())

    var whole = parser()
    let expected = normalized(whole.feed(stdout) + whole.finish())

    var cut = parser()
    var pieces: [StdoutFrames.Piece] = []
    var offset = 0
    var step = Int(seed % 17) + 1
    while offset < stdout.count {
        let end = min(stdout.count, offset + step)
        pieces += cut.feed(stdout[offset..<end])
        offset = end
        step = step % 7 + Int(seed >> 4) + 1
    }
    pieces += cut.finish()
    let got = normalized(pieces)
    guard got == expected else {
        fatalError("the pieces depend on how stdout was cut into reads: \(expected) fed whole, \(got) in pieces")
    }
    var carried = 0
    for piece in got {
        switch piece {
        case .text(let text): carried += text.count
        case .frame(_, let payload): carried += payload.count
        case .oversized, .malformed: break
        }
    }
    guard carried <= stdout.count else { fatalError("more bytes came out than went in") }
    return 0
}

/// A short marker, so that the fuzzer finds it; the seeds use it.
private let marker = Array("\0pysandbox:f:".utf8)

private func parser() -> StdoutFrames {
    StdoutFrames(marker: marker) { kind in
        switch kind {
        case .display: 2048
        case .files: 4096
        case .stderr: StdoutFrames.Kind.maxStderrPayload
        case .packages: 64 << 10
        case .displayTooLarge, .end, .stdinWanted: 24
        }
    }
}

/// Adjacent text pieces joined: how text is split is not meaningful.
private func normalized(_ pieces: [StdoutFrames.Piece]) -> [StdoutFrames.Piece] {
    var joined: [StdoutFrames.Piece] = []
    for piece in pieces {
        if case .text(let more) = piece, case .text(let previous)? = joined.last {
            joined[joined.count - 1] = .text(previous + more)
        } else if case .text(let text) = piece, text.isEmpty {
            continue
        } else {
            joined.append(piece)
        }
    }
    return joined
}
