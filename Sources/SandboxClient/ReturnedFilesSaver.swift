import SandboxProtocol

/// Writes a verdict's returned files into a `SaveFolder`, believing nothing
/// the verdict says about which files those are: a program can forge its
/// files frame, and the service could be wrong. A file is written only when
/// its path is relative, stays inside the folder, and matches one of the
/// run's own `returnFiles` patterns as the sandbox matches them
/// (`ReturnPattern`), so a name with a part starting with a dot (`.bashrc`,
/// `.git/hooks/…`) is written only when a pattern names that dot itself.
public struct ReturnedFilesSaver: Sendable {
    public let folder: SaveFolder
    public let patterns: [ReturnPattern]
    /// The folder's subfolder the files go in (`RUN` when several programs ran); nil for the folder itself.
    public let subfolder: String?

    public init(folder: SaveFolder, patterns: [String], subfolder: String? = nil) {
        self.folder = folder
        self.patterns = patterns.map(ReturnPattern.init)
        self.subfolder = subfolder
    }

    /// Why a returned file is not written, before the folder is touched.
    public enum Refusal: Sendable, Equatable, CustomStringConvertible {
        /// Absolute, empty, or with an empty, `.` or `..` part: it could leave the folder.
        case unsafePath
        /// A part starts with a dot, and no pattern names that dot.
        case hiddenName
        /// It matches none of the run's patterns: the run did not ask for it.
        case notRequested

        public var description: String {
            switch self {
            case .unsafePath: "not a relative path inside the folder"
            case .hiddenName: "a name starting with a dot, which no --return pattern names"
            case .notRequested: "it matches no --return pattern"
            }
        }
    }

    /// What became of one file of the verdict.
    public enum Outcome: Sendable {
        /// Written, at `savedAt` as the user would type it.
        case saved(path: String, savedAt: String, bytes: Int)
        case refused(path: String, Refusal)
        case failed(path: String, SaveError)
    }

    /// Writes each of `files` that passes `refusal(of:)`; every other
    /// outcome marks the folder failed (the CLI's exit status 73). One file
    /// refused or failed does not keep the others from being written.
    public func save(_ files: [ReturnedFile]) -> [Outcome] {
        files.map { file in
            if let refusal = refusal(of: file.path) {
                folder.recordFailure()
                return .refused(path: file.path, refusal)
            }
            let path = subfolder.map { "\($0)/\(file.path)" } ?? file.path
            do throws(SaveError) {
                try folder.write(file.content, to: path)
                return .saved(path: file.path, savedAt: folder.userPath(path), bytes: file.content.count)
            } catch {
                folder.recordFailure()
                return .failed(path: file.path, error)
            }
        }
    }

    /// Nil when `path` may be written: it is a plain relative path and one of the patterns matches it.
    public func refusal(of path: String) -> Refusal? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if path.utf8.contains(0) || parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return .unsafePath
        }
        if patterns.contains(where: { $0.matches(path) }) { return nil }
        return parts.contains { $0.hasPrefix(".") } ? .hiddenName : .notRequested
    }
}
