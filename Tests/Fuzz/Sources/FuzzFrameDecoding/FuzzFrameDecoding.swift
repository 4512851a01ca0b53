import SandboxProtocol
@testable import SandboxRuntime

/// A frame's payload as the service decodes it (`FrameDecoding`). The first
/// byte chooses: even, a display frame; odd, the files frame, whose
/// patterns (the run's `returnFiles`, tab-separated, also untrusted: a
/// client sends them) are the line before the payload. A decoded display
/// has its `text/plain`; returned files stay inside the working directory,
/// match a pattern, come once, and within the byte and count limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoding(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let input = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let mode = input.first else { return 0 }
    let rest = Array(input.dropFirst())
    if mode % 2 == 0 {
        if let display = FrameDecoding.display(rest) {
            guard case .string? = display.data[DisplayMIME.plainText], display.bytes == rest.count else {
                fatalError("a display without its text/plain, or of the wrong size")
            }
        }
        return 0
    }
    let newline = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
    let patternTexts = String(decoding: rest[..<newline], as: UTF8.self)
        .split(separator: "\t", omittingEmptySubsequences: true).prefix(RunRequest.maxReturnPatterns).map(String.init)
    let patterns = patternTexts.map(ReturnPattern.init)
    let payload = Array(rest[min(newline + 1, rest.endIndex)...])
    let maxBytes = 4096
    guard let (files, omitted) = FrameDecoding.returnedFiles(payload, patterns: patterns, maxBytes: maxBytes) else {
        return 0
    }
    guard files.count <= RunRequest.maxReturnedFiles, omitted.count <= RunRequest.maxReturnedFiles else {
        fatalError("more than \(RunRequest.maxReturnedFiles) entries in a list")
    }
    guard files.reduce(0, { $0 + $1.content.count }) <= maxBytes else { fatalError("returned files over maxBytes") }
    var seen = Set<String>()
    for file in files {
        guard seen.insert(file.path).inserted else { fatalError("\(file.path) returned twice") }
        guard ReturnPattern.anyMatches(patterns, file.path), !file.path.hasPrefix("/"),
              !file.path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0.isEmpty })
        else { fatalError("\(file.path) returned, yet no pattern asked for it or it leaves the working directory") }
    }
    for entry in omitted {
        guard seen.insert(entry.path).inserted else { fatalError("\(entry.path) listed twice") }
    }
    return 0
}
