import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// File-level steps on a layer's folder. None follows a symbolic link.
enum LayerFiles {
    /// Makes every file read-only (0444, 0555 if it was executable) and
    /// every folder 0555, below and including `path`; returns the space it
    /// takes on disk. Anything but files, folders and links is refused: a
    /// wheel holds nothing else.
    static func seal(_ path: String) throws(PackageError) -> Int64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw .installerFailed(detail: "\(path) vanished while sealing the layer") }
        var total = Int64(info.st_blocks) * 512
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                total += try seal(path + "/" + entry)
            }
            chmod(path, 0o555)
        case S_IFREG:
            chmod(path, info.st_mode & 0o111 != 0 ? 0o555 : 0o444)
        case S_IFLNK:
            break
        default:
            throw .installerFailed(detail: "the layer holds \(path), which is neither a file nor a folder")
        }
        return total
    }

    /// Removes a tree that may be sealed: its folders are made writable first.
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR { unsealFolders(path) }
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func unsealFolders(_ path: String) {
        chmod(path, 0o700)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
            var info = stat()
            let child = path + "/" + entry
            if lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { unsealFolders(child) }
        }
    }

    /// Sets a folder's modification time to now: the layer's last use, kept across restarts.
    static func touch(_ path: String) {
        utimensat(AT_FDCWD, path, nil, 0)
    }

    static func modificationTime(_ path: String) -> Int {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        return Int(info.st_mtim.tv_sec)
    }
}
