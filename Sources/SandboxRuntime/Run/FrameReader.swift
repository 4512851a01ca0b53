import SandboxProtocol
import Synchronization

/// The stdout frame parser of one run, set up when its program is handed
/// over, and the returned files it has seen.
final class FrameReader: Sendable {
    private struct State {
        var frames: StdoutFrames?
        var patterns: [String] = []
        /// Only the first files frame counts: the bootstrap writes one, last.
        var filesFrameSeen = false
        /// A session's cell ends at its first end frame; a one-off run has none of its own.
        var endFrameSeen = false
        var maxReturnBytes = 0
        var returned: (files: [ReturnedFile], omitted: [OmittedFile])?
    }

    private let state = Mutex(State())

    func expect(_ delivery: RunDelivery) {
        let maxDisplay = delivery.maxDisplayBytes
        // Base64 of the limit, plus room for the JSON of full lists of paths.
        let entries = 2 * RunRequest.maxReturnedFiles + RunRequest.maxReturnPatterns
        let maxFiles = delivery.maxReturnBytes / 3 * 4 + 4 + entries * 4200
        state.withLock {
            $0.frames = StdoutFrames(marker: delivery.frameMarker) { kind in
                switch kind {
                case .display: maxDisplay
                case .files: maxFiles
                case .stderr: StdoutFrames.Kind.maxStderrPayload
                case .packages: PackagesRequests.maxPayload
                case .displayTooLarge, .end, .stdinWanted: 24
                }
            }
            $0.patterns = delivery.returnFiles
            $0.maxReturnBytes = delivery.maxReturnBytes
            $0.filesFrameSeen = false
            $0.endFrameSeen = false
            $0.returned = nil
        }
    }

    /// Before `expect`, stdout carries nothing but the ready signal: passed on as text.
    func feed(_ bytes: some Collection<UInt8>) -> [StdoutFrames.Piece] {
        state.withLock { state in
            guard state.frames != nil else { return [.text(Array(bytes))] }
            return state.frames!.feed(bytes)
        }
    }

    func finish() -> [StdoutFrames.Piece] {
        state.withLock { $0.frames?.finish() ?? [] }
    }

    /// Takes the run's files frame; false for any after the first, which is
    /// ignored (the caller charges it to the output limit).
    func received(filesFrame payload: [UInt8]) -> Bool {
        let expected: (patterns: [String], maxBytes: Int)? = state.withLock { state in
            guard !state.filesFrameSeen else { return nil }
            state.filesFrameSeen = true
            return (state.patterns, state.maxReturnBytes)
        }
        guard let expected else { return false }
        // Megabytes of JSON: decoded outside the lock.
        let returned = FrameDecoding.returnedFiles(
            payload, patterns: expected.patterns.map(ReturnPattern.init), maxBytes: expected.maxBytes)
        state.withLock { $0.returned = returned }
        return true
    }

    /// Whether this is the first end frame; any other is forged.
    func receivedEndFrame() -> Bool {
        state.withLock { state in
            defer { state.endFrameSeen = true }
            return !state.endFrameSeen
        }
    }

    /// nil without `returnFiles`; without a files frame (the program did
    /// not end by itself), every pattern is listed as not collected.
    func returnedFiles() -> ([ReturnedFile]?, [OmittedFile]?) {
        state.withLock { state in
            guard !state.patterns.isEmpty else { return (nil, nil) }
            guard let returned = state.returned else {
                return ([], state.patterns.map { OmittedFile(path: $0, reason: .notCollected) })
            }
            return (returned.files, returned.omitted)
        }
    }
}
