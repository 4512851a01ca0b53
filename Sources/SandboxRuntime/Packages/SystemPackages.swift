import Foundation
import SandboxProtocol

/// The distributions the interpreter already has (Debian's python3-numpy and
/// friends), read from their metadata in its site directories, first one
/// of a name winning as on `sys.path`. A layer holds only what these lack.
struct SystemPackages: Sendable {
    struct Distribution: Sendable {
        var name: String
        var version: String
        /// Its `.dist-info` or `.egg-info` (a directory or a file).
        var metadata: String
    }

    /// By PEP 503-normalized name.
    var distributions: [String: Distribution]

    /// Changes whenever a system package is added, removed or changes version:
    /// layers resolved against the old set are not reused.
    var fingerprint: String {
        SHA256.hex(distributions.values.map { "\($0.name)==\($0.version)" }.sorted().joined(separator: "\n"))
    }

    static func scan(_ directories: [String]) -> SystemPackages {
        var found: [String: Distribution] = [:]
        for directory in directories {
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
            for entry in entries where entry.hasSuffix(".dist-info") || entry.hasSuffix(".egg-info") {
                let path = directory + "/" + entry
                guard let (name, version) = readMetadata(path) else { continue }
                let normalized = PackageRequirement.normalize(name)
                if found[normalized] == nil {
                    found[normalized] = Distribution(name: normalized, version: version, metadata: path)
                }
            }
        }
        return SystemPackages(distributions: found)
    }

    /// `Name:` and `Version:` of METADATA (dist-info), PKG-INFO (an
    /// egg-info directory) or the egg-info file itself.
    static func readMetadata(_ path: String) -> (String, String)? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        let file = isDirectory.boolValue ? path + (path.hasSuffix(".dist-info") ? "/METADATA" : "/PKG-INFO") : path
        guard let handle = FileHandle(forReadingAtPath: file) else { return nil }
        defer { try? handle.close() }
        // The headers come first; a long description after them is not needed.
        let head = String(decoding: handle.readData(ofLength: 16384), as: UTF8.self)
        var name: String?
        var version: String?
        for line in head.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty || line == "\r" { break }
            if line.hasPrefix("Name:") { name = line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines) }
            if line.hasPrefix("Version:") { version = line.dropFirst(8).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        guard let name, let version, !name.isEmpty, !version.isEmpty else { return nil }
        return (name, version)
    }
}
