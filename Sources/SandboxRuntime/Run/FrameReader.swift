import SandboxProtocol
import Synchronization

/// The stdout frame parser of one run, set up when its program is handed
/// over, and the returned files it has seen.
final class FrameReader: Sendable {
    private struct State {
        var frames: StdoutFrames?
        var patterns: [String] = []
        var maxReturnBytes = 0
        var returned: (files: [ReturnedFile], omitted: [OmittedFile])?
    }

    private let state = Mutex(State())

    func expect(_ delivery: RunDelivery) {
        let maxDisplay = delivery.maxDisplayBytes
        // Base64 of the limit, plus room for the JSON of a full count of paths.
        let maxFiles = delivery.maxReturnBytes / 3 * 4 + 4 + RunRequest.maxReturnedFiles * 4200
        state.withLock {
            $0.frames = StdoutFrames(marker: delivery.frameMarker) { kind in
                switch kind {
                case .display: maxDisplay
                case .files: maxFiles
                case .stderr: StdoutFrames.Kind.maxStderrPayload
                case .displayTooLarge, .end, .stdinWanted: 24
                }
            }
            $0.patterns = delivery.returnFiles
            $0.maxReturnBytes = delivery.maxReturnBytes
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

    func received(filesFrame payload: [UInt8]) {
        let maxBytes = state.withLock { $0.maxReturnBytes }
        let returned = FrameDecoding.returnedFiles(payload, maxBytes: maxBytes)  // megabytes of JSON: not under the lock
        state.withLock { $0.returned = returned }
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
