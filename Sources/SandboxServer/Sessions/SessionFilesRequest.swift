import Foundation
import SandboxProtocol
import SandboxRuntime

/// A `session/files/*` request (PROTOCOL.md §4.16) as a request of the
/// session's own kind (`RunRequest.Kind.files`), queued behind its runs:
/// `SessionFilesProgram` acts inside the session's sandbox, where the
/// folder is, and its answer is checked here as the untrusted input it is
/// (the session's program may have shaped it).
struct SessionFilesRequest: Sendable {
    let params: SessionFilesParams
    let configuration: ServerConfiguration

    static let maxEntries = 1000
    /// A write's content, as the helper finds it (`SESSION_FILES`).
    static let contentName = "content"

    var maxReadBytes: Int { configuration.maxReturnBytes }

    /// The most the helper's answer may take: a read's base64, or a list's entries.
    var maxAnswerBytes: Int { max(maxReadBytes / 3 * 4 + 4, Self.maxEntries * 2048) + 65536 }

    func runRequest() -> RunRequest {
        var limits = RunAdmission.warmLimits(configuration)
        limits.timeout = .seconds(10)
        limits.maxOutputBytes = maxAnswerBytes
        limits.maxDisplayBytes = 0
        limits.maxReturnBytes = 0
        let helperRequest = params.helperRequest(maxReadBytes: maxReadBytes, maxEntries: Self.maxEntries)
        let stdin = Array((try? JSONEncoder().encode(helperRequest)) ?? Data("{}".utf8))
        var request = RunRequest(
            code: SessionFilesProgram.source, stdin: .bytes(stdin),
            files: params.content.map { [Self.contentName: $0.bytes] } ?? [:], limits: limits)
        request.kind = .files
        return request
    }

    /// The response for the helper's `stdout` and the verdict of its request.
    func result(stdout: [UInt8], verdict: RunResult) -> Result<any Encodable & Sendable, RPCError> {
        guard verdict.status == .ok,
              case .object(let answer)? = try? JSONDecoder().decode(JSONValue.self, from: Data(stdout))
        else {
            return .failure(failure(verdict))
        }
        if case .object(let error)? = answer["error"] {
            return .failure(refusal(error))
        }
        guard case .object(let ok)? = answer["ok"] else {
            return .failure(fileError(.failed, "the session's answer was not understood"))
        }
        switch params.method {
        case .list: return list(ok).map { $0 }
        case .read: return read(ok).map { $0 }
        case .write:
            return .success(SessionFilesWriteResult(
                path: params.path, size: ok["size"]?.intValue ?? params.content?.bytes.count ?? 0,
                created: ok["created"] == .bool(true)))
        case .remove:
            let removed = ok["removed"]?.stringValue.flatMap { Self.types.contains($0) ? $0 : nil } ?? "other"
            return .success(SessionFilesRemoveResult(path: params.path, removed: removed))
        }
    }

    private static let types: Set = ["file", "directory", "symlink", "other"]

    private func list(_ ok: [String: JSONValue]) -> Result<SessionFilesListResult, RPCError> {
        var entries: [SessionFilesListResult.Entry] = []
        var names = Set<String>()
        for case .object(let entry) in (ok["entries"]?.arrayValue ?? []).prefix(Self.maxEntries) {
            // A name is one path segment; anything else is not a name of this folder.
            guard let name = entry["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 1024,
                  name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0), names.insert(name).inserted
            else { continue }
            entries.append(.init(
                name: name, type: entry["type"]?.stringValue.flatMap { Self.types.contains($0) ? $0 : nil } ?? "other",
                size: max(entry["size"]?.intValue ?? 0, 0), modifiedMs: entry["modifiedMs"]?.intValue ?? 0,
                nameNotUTF8: entry["nameNotUTF8"] == .bool(true) ? true : nil))
        }
        entries.sort { $0.name < $1.name }
        let truncated = ok["truncated"] == .bool(true) || (ok["entries"]?.arrayValue?.count ?? 0) > Self.maxEntries
        return .success(SessionFilesListResult(path: params.path, entries: entries, truncated: truncated))
    }

    private func read(_ ok: [String: JSONValue]) -> Result<SessionFilesReadResult, RPCError> {
        let size: Int
        var result = SessionFilesReadResult(path: params.path, size: 0)
        if let text = ok["text"]?.stringValue {
            size = text.utf8.count
            result.text = text
        } else if let encoded = ok["base64"]?.stringValue, let bytes = Base64.decode(encoded) {
            size = bytes.count
            result.base64 = encoded
        } else {
            return .failure(fileError(.failed, "the session's answer was not understood"))
        }
        guard size <= maxReadBytes else { return .failure(tooLarge(size: size)) }
        result.size = size
        return .success(result)
    }

    /// The helper's refusal, with a reason the protocol knows and a message
    /// this side words (the helper's text is the program's to shape).
    private func refusal(_ error: [String: JSONValue]) -> RPCError {
        let reason = error["reason"]?.stringValue.flatMap(SessionFileErrorReason.init(rawValue:)) ?? .failed
        switch reason {
        case .notFound: return fileError(reason, "'\(params.path)' does not exist")
        case .notADirectory:
            return fileError(reason, params.method == .list
                ? "'\(params.path)' is not a folder" : "a part of '\(params.path)' is not a folder")
        case .isADirectory: return fileError(reason, "'\(params.path)' is a folder")
        case .symlink: return fileError(reason, "'\(params.path)' is or goes through a symbolic link, which is never followed")
        case .notRegularFile: return fileError(reason, "'\(params.path)' is not a regular file (a FIFO, a socket or a device)")
        case .tooLarge: return tooLarge(size: error["size"]?.intValue)
        case .noSpace: return fileError(reason, "the session's folder is full (its size limit)")
        case .failed:
            let detail = error["message"]?.stringValue.map { String($0.prefix(200)) } ?? "the session could not do it"
            return fileError(reason, "'\(params.path)': \(detail)")
        }
    }

    private func tooLarge(size: Int?) -> RPCError {
        var data: [String: JSONValue] = [
            "reason": .string(SessionFileErrorReason.tooLarge.rawValue), "path": .string(params.path),
            "limit": .integer(Int64(maxReadBytes)),
        ]
        if let size { data["size"] = .integer(Int64(size)) }
        let sizeText = size.map { "\($0) bytes" } ?? "larger"
        return RPCError(.fileError, "'\(params.path)' is \(sizeText), the limit is \(maxReadBytes)", data: .object(data))
    }

    private func fileError(_ reason: SessionFileErrorReason, _ message: String) -> RPCError {
        RPCError(.fileError, message, data: .object(["reason": .string(reason.rawValue), "path": .string(params.path)]))
    }

    /// The helper gave no answer: its request was stopped or the session ended.
    private func failure(_ verdict: RunResult) -> RPCError {
        switch verdict.status {
        case .ok: fileError(.failed, "the session's answer was not understood")
        case .cancelled where verdict.message?.hasPrefix("the session ended") == true:
            RPCError(.sessionEnded, verdict.message ?? "", data: .object(["reason": .string("cancelled")]))
        default:
            fileError(.failed, "the session did not answer (\(verdict.status.rawValue)\(verdict.message.map { ": \($0)" } ?? ""))")
        }
    }
}
