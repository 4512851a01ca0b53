import Foundation
import SandboxProtocol
import SandboxRuntime

/// `session/fork` (PROTOCOL.md §4.15) as two requests of `SessionStateProgram`:
/// a capture in the original, which pickles its `__main__` and working
/// folder in a fork of its interpreter, and a restore in a new session of
/// its own sandbox. The state travels through the service as bytes it never
/// unpickles, bounded by `maxStateBytes`.
///
/// Why not a fork of the original's interpreter, copy-on-write: a forked
/// process stays in its parent's PID namespace (a new one can only nest
/// below it), so the copy would be visible to, and signalled by, the
/// original's processes; and creating namespaces from inside the sandbox
/// needs syscalls its seccomp filter denies to untrusted code.
struct SessionForking: Sendable {
    let configuration: ServerConfiguration

    /// The state's most bytes: the session's `/tmp` is 64 MiB, and the state travels base64 once.
    static let maxStateBytes = 64 << 20
    static let stateName = "state"

    var maxCaptureAnswerBytes: Int { Self.maxStateBytes / 3 * 4 + 4 + (1 << 20) }

    private func limits(answerBytes: Int) -> RunLimits {
        var limits = RunAdmission.warmLimits(configuration)
        limits.timeout = .seconds(20)
        limits.cpuTime = .seconds(20)
        limits.maxOutputBytes = answerBytes
        limits.maxDisplayBytes = 0
        limits.maxReturnBytes = 0
        return limits
    }

    func captureRequest() -> RunRequest {
        var request = RunRequest(
            code: SessionStateProgram.source,
            stdin: .bytes(Array(#"{"method": "capture", "maxBytes": \#(Self.maxStateBytes)}"#.utf8)),
            limits: limits(answerBytes: maxCaptureAnswerBytes))
        request.kind = .capture
        return request
    }

    func restoreRequest(_ state: CapturedState) -> RunRequest {
        var request = RunRequest(
            code: SessionStateProgram.source, stdin: .bytes(Array(#"{"method": "restore"}"#.utf8)),
            files: [Self.stateName: state.bytes], limits: limits(answerBytes: 1 << 20))
        request.kind = .restore
        return request
    }

    /// What the capture sent: the pickled state, as bytes.
    struct CapturedState: Sendable {
        var bytes: [UInt8]
    }

    func captured(stdout: [UInt8], verdict: RunResult) throws(RPCError) -> CapturedState {
        let ok = try answer(stdout: stdout, verdict: verdict, step: "copying the session's state out")
        guard let encoded = ok["state"]?.stringValue, let bytes = Base64.decode(encoded), bytes.count <= Self.maxStateBytes else {
            throw failed("copying the session's state out: the session's answer was not understood")
        }
        return CapturedState(bytes: bytes)
    }

    /// What the copy has, as its restore reported it.
    func copied(stdout: [UInt8], verdict: RunResult, state: CapturedState) throws(RPCError) -> SessionForkResult.Copied {
        let ok = try answer(stdout: stdout, verdict: verdict, step: "loading the state into the copy")
        var notCopied: [SessionForkResult.NotCopied] = []
        for case .object(let entry) in (ok["notCopied"]?.arrayValue ?? []).prefix(1000) {
            guard let name = entry["name"]?.stringValue else { continue }
            notCopied.append(.init(
                name: String(name.prefix(300)), reason: String((entry["reason"]?.stringValue ?? "not copied").prefix(300))))
        }
        return .init(
            names: max(ok["names"]?.intValue ?? 0, 0), files: max(ok["files"]?.intValue ?? 0, 0), bytes: state.bytes.count,
            notCopied: notCopied)
    }

    private func answer(stdout: [UInt8], verdict: RunResult, step: String) throws(RPCError) -> [String: JSONValue] {
        guard verdict.status == .ok else {
            if verdict.status == .cancelled, let message = verdict.message, message.hasPrefix("the session ended") {
                throw RPCError(.sessionEnded, message, data: .object(["reason": .string("cancelled")]))
            }
            throw failed("\(step): it ended \(verdict.status.rawValue)\(verdict.message.map { " (\($0))" } ?? "")")
        }
        guard case .object(let answer)? = try? JSONDecoder().decode(JSONValue.self, from: Data(stdout)) else {
            throw failed("\(step): the session's answer was not understood")
        }
        if case .object(let error)? = answer["error"] {
            let reason = error["reason"]?.stringValue
            if reason == "tooLarge" {
                throw failed("\(step): the session's state is larger than \(Self.maxStateBytes >> 20) MiB, the most a fork copies")
            }
            throw failed("\(step): \(error["message"]?.stringValue.map { String($0.prefix(300)) } ?? "it failed")")
        }
        guard case .object(let ok)? = answer["ok"] else {
            throw failed("\(step): the session's answer was not understood")
        }
        return ok
    }

    private func failed(_ message: String) -> RPCError {
        RPCError(.forkFailed, message)
    }
}
