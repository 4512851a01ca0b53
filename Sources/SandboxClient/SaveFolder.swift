import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The folder of `sandbox run --save`, into which displays and returned
/// files are written. Their paths come from the service, which the CLI does
/// not trust with the user's disk (a program can forge its returned files): a
/// path must be relative and stay inside the folder, no symbolic link already
/// in the folder is followed, and no file already there is replaced or
/// written through. Each component is opened relative to its parent's
/// descriptor with O_NOFOLLOW, so no link, whenever made, can redirect a
/// write; each file is made with O_EXCL, mode 0644 (folders 0755), less the umask.
public final class SaveFolder: Sendable {
    /// As given on the command line, for messages.
    public let path: String
    private let descriptor: Int32
    private struct State {
        /// Relative paths written by this invocation: none is overwritten by another item.
        var written: Set<String> = []
        var failed = false
    }
    private let state = Mutex(State())

    /// Opens the folder at `path`, creating it (and its parents) when missing.
    /// The folder itself may be a link: the user named it.
    public init(_ path: String) throws(SaveError) {
        // mkdir(2) one level at a time, for its errno: Foundation's message names no cause.
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o777) != 0 && errno != EEXIST { throw .cannotCreateFolder(path, errno) }
        }
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotCreateFolder(path, errno) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Whether anything could not be saved: the CLI then exits with `ExitStatus.cannotSave`.
    public var anyFailed: Bool { state.withLock { $0.failed } }

    public func recordFailure() {
        state.withLock { $0.failed = true }
    }

    /// Where `relativePath` is, as the user would type it (for messages).
    public func userPath(_ relativePath: String) -> String {
        path.hasSuffix("/") ? path + relativePath : path + "/" + relativePath
    }

    /// Writes `bytes` to a new file at `relativePath` in the folder, creating
    /// its parent folders; a file (or anything else) already there is left as
    /// it is and the write refused.
    public func write(_ bytes: [UInt8], to relativePath: String) throws(SaveError) {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !relativePath.isEmpty, !relativePath.contains("\0"),
              components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else { throw .unsafePath(relativePath) }
        let isNew = state.withLock { $0.written.insert(relativePath).inserted }
        guard isNew else { throw .alreadySaved(relativePath) }

        var parent = descriptor
        defer { if parent != descriptor { close(parent) } }
        for (index, component) in components.dropLast().enumerated() {
            let soFar = components[...index].joined(separator: "/")
            if mkdirat(parent, component, 0o755) != 0 && errno != EEXIST { throw .system(soFar, errno) }
            let child = openat(parent, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { throw Self.openFailure(soFar, errno, in: parent, component, folder: self) }
            if parent != descriptor { close(parent) }
            parent = child
        }
        // O_EXCL: a new file or none. Whatever is there (a file of the user's, a
        // hard link to one elsewhere, a link, a FIFO) is neither replaced nor written through.
        let file = openat(parent, components.last!, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard file >= 0 else { throw Self.openFailure(relativePath, errno, in: parent, components.last!, folder: self) }
        defer { close(file) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw .system(relativePath, errno) }
            offset += count
        }
    }

    /// What `openat(parent, name)` failing with `error` means; O_NOFOLLOW
    /// gives ELOOP or ENOTDIR for a link, and O_EXCL EEXIST for anything, so a
    /// link is told apart by lstat.
    private static func openFailure(_ path: String, _ error: Int32, in parent: Int32, _ name: String, folder: SaveFolder) -> SaveError {
        var status = stat()
        let found = fstatat(parent, name, &status, AT_SYMLINK_NOFOLLOW) == 0 ? status.st_mode & S_IFMT : nil
        if found == S_IFLNK { return .symbolicLink(path) }
        switch error {
        case EEXIST where found == S_IFREG: return .exists(folder.userPath(path))
        case EEXIST: return .notRegularFile(path)
        case ENOTDIR: return .notAFolder(path)
        case EISDIR: return .notRegularFile(path)
        default: return .system(path, error)
        }
    }
}

/// Why an item could not be saved; paths are relative to the folder, but for `exists`.
public enum SaveError: Error, CustomStringConvertible {
    case cannotCreateFolder(String, Int32)
    /// Absolute, empty, or with an empty, `.` or `..` component: it could leave the folder.
    case unsafePath(String)
    case symbolicLink(String)
    case notAFolder(String)
    case notRegularFile(String)
    /// A file is already there, as the user would type its path: --save replaces none.
    case exists(String)
    /// Another item of this invocation was saved there.
    case alreadySaved(String)
    case system(String, Int32)

    public var description: String {
        switch self {
        case .cannotCreateFolder(let path, let error): "cannot use \(path) as the folder of --save: \(String(cString: strerror(error)))"
        case .unsafePath(let path): "refused '\(path)': not a relative path inside the folder"
        case .symbolicLink(let path): "\(path) is a symbolic link, which is not followed"
        case .notAFolder(let path): "\(path) is not a folder"
        case .notRegularFile(let path): "\(path) exists and is not a regular file"
        case .exists(let path): "\(path) already exists, and --save replaces no file"
        case .alreadySaved(let path): "\(path) was already saved by this command"
        case .system(let path, let error): "\(path): \(String(cString: strerror(error)))"
        }
    }
}
