import Foundation
import SandboxProtocol

/// Checks what a frame carries. Frames come from inside the sandbox, so
/// each is untrusted input: anything unexpected is dropped, never trusted.
enum FrameDecoding {
    /// A display frame: `{"data": {mime: content}, "metadata"?: {…}}`.
    /// Unknown MIME types are dropped; nil without a `text/plain` string.
    static func display(_ payload: [UInt8]) -> Display? {
        guard case .object(let frame)? = try? JSONDecoder().decode(JSONValue.self, from: Data(payload)),
              case .object(let bundle)? = frame["data"]
        else { return nil }
        var data: [String: JSONValue] = [:]
        for (mime, content) in bundle where DisplayMIME.supported.contains(mime) {
            switch content {
            case .string(let text) where DisplayMIME.binary.contains(mime):
                if Base64.decode(text) != nil { data[mime] = content }
            case .string:
                data[mime] = content
            default:
                if mime == DisplayMIME.json { data[mime] = content }
            }
        }
        guard case .string? = data[DisplayMIME.plainText] else { return nil }
        var metadata: [String: JSONValue]?
        if case .object(let given)? = frame["metadata"], !given.isEmpty { metadata = given }
        return Display(data: data, metadata: metadata, bytes: payload.count)
    }

    /// The files frame the bootstrap writes when the program ends:
    /// `{"files": [{"path", "base64"}], "omitted": [{"path", "reason"}]}`.
    /// The program can forge this frame, so nothing in it is taken on trust:
    /// a file comes back only if its path stays inside the working directory
    /// and matches one of the run's own patterns, once; an omitted entry
    /// names a pattern or a path one matches; the limits are enforced again
    /// here, and each list holds at most `RunRequest.maxReturnedFiles`.
    static func returnedFiles(
        _ payload: [UInt8], patterns: [ReturnPattern], maxBytes: Int
    ) -> (files: [ReturnedFile], omitted: [OmittedFile])? {
        guard case .object(let frame)? = try? JSONDecoder().decode(JSONValue.self, from: Data(payload)),
              case .array(let entries)? = frame["files"], case .array(let omittedEntries)? = frame["omitted"]
        else { return nil }
        let limit = RunRequest.maxReturnedFiles
        var files: [ReturnedFile] = []
        var omitted: [OmittedFile] = []
        var total = 0
        var seen = Set<String>()
        for entry in entries {
            guard case .object(let members) = entry, case .string(let path)? = members["path"],
                  isInsideWorkdir(path), ReturnPattern.anyMatches(patterns, path), seen.insert(path).inserted
            else { continue }
            guard case .string(let encoded)? = members["base64"], let content = Base64.decode(encoded) else {
                if omitted.count < limit { omitted.append(OmittedFile(path: path, reason: .unreadable)) }
                continue
            }
            guard total + content.count <= maxBytes, files.count < limit else {
                if omitted.count < limit { omitted.append(OmittedFile(path: path, reason: .overLimit)) }
                continue
            }
            total += content.count
            files.append(ReturnedFile(path: path, content: content))
        }
        let patternTexts = Set(patterns.map(\.text))
        for entry in omittedEntries where omitted.count < limit {
            guard case .object(let members) = entry, case .string(let path)? = members["path"],
                  case .string(let reason)? = members["reason"], let known = OmittedFile.Reason(rawValue: reason)
            else { continue }
            let named = switch known {
            case .noMatch, .notCollected: patternTexts.contains(path)
            // Shown escaped (`\xNN`), so it is not a path a pattern can be checked against.
            case .nameNotUTF8: !path.isEmpty && path.utf8.count <= 4096 && !path.hasPrefix("/")
            case .symlink, .notRegularFile, .overLimit, .unreadable:
                isInsideWorkdir(path) && ReturnPattern.anyMatches(patterns, path)
            }
            guard named, seen.insert(path).inserted else { continue }
            omitted.append(OmittedFile(path: path, reason: known))
        }
        return (files, omitted)
    }

    private static func isInsideWorkdir(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("/") && !path.utf8.contains(0)
            && !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == ".." || $0 == "." || $0.isEmpty }
    }
}
