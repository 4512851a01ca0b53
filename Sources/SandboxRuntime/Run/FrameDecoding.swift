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
        guard let frame = try? JSONDecoder().decode(FilesFrame.self, from: Data(payload)) else { return nil }
        let limit = RunRequest.maxReturnedFiles
        var files: [ReturnedFile] = []
        var omitted: [OmittedFile] = []
        var total = 0
        var seen = Set<String>()
        for entry in frame.files.entries {
            guard let path = entry.path, isInsideWorkdir(path), ReturnPattern.anyMatches(patterns, path),
                  seen.insert(path).inserted
            else { continue }
            guard let encoded = entry.base64, let content = Base64.decode(encoded) else {
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
        for entry in frame.omitted.entries where omitted.count < limit {
            guard let path = entry.path, let reason = entry.reason, let known = OmittedFile.Reason(rawValue: reason)
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

/// The files frame as the bootstrap writes it. Entries are decoded as far
/// as the bootstrap ever writes them (`RunRequest.maxReturnedFiles` per
/// list): a forged frame of a million entries costs a scan of its bytes,
/// not a million values. An entry whose members have other types is read
/// as having none.
private struct FilesFrame: Decodable {
    struct Entry: Decodable {
        var path: String?
        var base64: String?
        var reason: String?

        init(from decoder: any Decoder) throws {
            let members = try? decoder.container(keyedBy: Key.self)
            path = try? members?.decodeIfPresent(String.self, forKey: .path)
            base64 = try? members?.decodeIfPresent(String.self, forKey: .base64)
            reason = try? members?.decodeIfPresent(String.self, forKey: .reason)
        }

        private enum Key: String, CodingKey { case path, base64, reason }
    }

    /// At most `RunRequest.maxReturnedFiles` entries of a JSON array.
    struct Entries: Decodable {
        var entries: [Entry] = []

        init(from decoder: any Decoder) throws {
            var list = try decoder.unkeyedContainer()
            while !list.isAtEnd, entries.count < RunRequest.maxReturnedFiles {
                entries.append(try list.decode(Entry.self))
            }
        }
    }

    var files: Entries
    var omitted: Entries
}
