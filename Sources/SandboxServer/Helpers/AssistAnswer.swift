import Foundation
import SandboxProtocol

/// The helper's answer (`AssistProgram`'s JSON on stdout), checked as the
/// untrusted input it is (a session's program may have written it) and
/// bounded, or an empty answer that says why there is none.
struct AssistAnswer: Sendable {
    let params: CodeAssistParams
    let source: AssistMetadata.Source

    static let maxMatches = 1000
    static let maxMatchCharacters = 1000
    static let maxInspectCharacters = 65536

    /// The response's result for the helper's `stdout` and the run's verdict.
    func result(stdout: [UInt8], verdict: RunResult) -> any Encodable & Sendable {
        let answer = verdict.status == .ok ? try? JSONDecoder().decode(JSONValue.self, from: Data(stdout)) : nil
        let members: [String: JSONValue]
        if case .object(let object)? = answer {
            members = object
        } else {
            members = [:]
        }
        let failure = answer == nil ? Self.failure(verdict) : nil
        switch params.method {
        case .complete: return complete(members, failure: failure)
        case .inspect: return inspect(members, failure: failure)
        case .isComplete: return isComplete(members, failure: failure)
        }
    }

    private func complete(_ members: [String: JSONValue], failure: String?) -> CompleteResult {
        let metadata = members["metadata"]?.objectValue ?? [:]
        let length = params.code.unicodeScalars.count
        var matches: [String] = []
        var types: [String] = []
        let givenTypes = metadata["types"]?.arrayValue ?? []
        for (index, match) in (members["matches"]?.arrayValue ?? []).prefix(Self.maxMatches).enumerated() {
            guard let text = match.stringValue, !text.isEmpty, text.count <= Self.maxMatchCharacters else { continue }
            matches.append(text)
            let kind = index < givenTypes.count ? givenTypes[index].stringValue : nil
            types.append(kind.flatMap { Self.kinds.contains($0) ? $0 : nil } ?? "instance")
        }
        // The span the matches replace ends at the cursor and lies inside the code.
        var start = members["cursorStart"]?.intValue ?? params.cursor
        if start < 0 || start > params.cursor { start = params.cursor }
        let end = min(max(members["cursorEnd"]?.intValue ?? params.cursor, params.cursor), length)
        return CompleteResult(
            matches: matches, cursorStart: start, cursorEnd: end,
            metadata: AssistMetadata(source: source, types: types, error: failure ?? Self.error(metadata)))
    }

    private func inspect(_ members: [String: JSONValue], failure: String?) -> InspectResult {
        let metadata = AssistMetadata(source: source, error: failure ?? Self.error(members["metadata"]?.objectValue ?? [:]))
        guard members["found"] == .bool(true), let text = members["data"]?.objectValue?["text/plain"]?.stringValue else {
            return InspectResult(found: false, data: [:], metadata: metadata)
        }
        let bounded = text.count > Self.maxInspectCharacters ? String(text.prefix(Self.maxInspectCharacters - 1)) + "…" : text
        return InspectResult(found: true, data: ["text/plain": bounded], metadata: metadata)
    }

    private func isComplete(_ members: [String: JSONValue], failure: String?) -> IsCompleteResult {
        guard let status = members["status"]?.stringValue.flatMap(IsCompleteResult.Status.init(rawValue:)) else {
            // Undecided: the code runs as it is, and the run says what is wrong.
            return IsCompleteResult(status: .complete)
        }
        guard status == .incomplete else { return IsCompleteResult(status: status) }
        let indent = members["indent"]?.stringValue ?? ""
        let spaces = indent.allSatisfy { $0 == " " || $0 == "\t" } ? String(indent.prefix(80)) : ""
        return IsCompleteResult(status: .incomplete, indent: spaces)
    }

    private static let kinds: Set = ["module", "class", "function", "keyword", "instance"]

    private static func error(_ metadata: [String: JSONValue]) -> String? {
        metadata["error"]?.stringValue.map { $0.count > 500 ? String($0.prefix(499)) + "…" : $0 }
    }

    /// Why a helper gave no answer.
    private static func failure(_ verdict: RunResult) -> String {
        switch verdict.status {
        case .ok: "the helper's answer was not JSON"
        case .timeout: "the lookup took longer than its time limit"
        case .memoryLimit: "the lookup used more memory than it may"
        case .cancelled: "cancelled"
        default: "the helper ended with \(verdict.status.rawValue)\(verdict.message.map { ": \($0)" } ?? "")"
        }
    }
}
