#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Files only the server's user may read: the data directory (0700), secrets and exports (0600),
/// each created with its mode by open(2)/mkdir(2), so there is no moment another local user could read it.
public enum PrivateFiles {
    /// A file-system call that failed, with `errno`'s text.
    public struct Failure: Error, CustomStringConvertible {
        public let operation: String
        public let path: String
        public let code: Int32
        public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    /// Creates `path` (and missing parents) with mode 0700; an existing directory of ours that
    /// group or others can enter is tightened to 0700. Returns the mode it had when it was
    /// tightened (so the caller can warn), nil otherwise.
    @discardableResult
    public static func directory(_ path: String) throws -> mode_t? {
        var info = stat()
        if stat(path, &info) != 0 {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty, parent != path, stat(parent, &info) != 0 {
                try directory(parent)
            }
            // The mode is given to mkdir itself: never a moment with wider permissions (whatever the umask adds).
            if mkdir(path, 0o700) != 0, errno != EEXIST { throw Failure(operation: "mkdir", path: path, code: errno) }
            return nil
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 != 0, info.st_uid == geteuid() else { return nil }
        if chmod(path, 0o700) != 0 { throw Failure(operation: "chmod", path: path, code: errno) }
        return mode
    }

    /// Writes `data` to a new file created with mode 0600 (`O_CREAT|O_EXCL`: fails if `path` exists,
    /// follows no symbolic link planted there), then fsyncs it.
    public static func createNew(_ path: String, contents data: Data) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode_t(0o600))
        guard fd >= 0 else { throw Failure(operation: "open", path: path, code: errno) }
        var failure: Failure?
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let written = write(fd, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = Failure(operation: "write", path: path, code: errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = Failure(operation: "fsync", path: path, code: errno) }
        close(fd)
        if let failure {
            unlink(path)
            throw failure
        }
    }

    /// Replaces `path` atomically with a file of mode 0600: written under a fresh temporary name in
    /// the same folder (created like `createNew`), then renamed over `path`.
    public static func replace(_ path: String, contents data: Data) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (folder as NSString).appendingPathComponent(".\(name).\(UInt64.random(in: 0...UInt64.max)).tmp")
        try createNew(temporary, contents: data)
        if rename(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            throw Failure(operation: "rename", path: path, code: code)
        }
    }

    /// Takes group and other permission bits off an existing file (a file written by an older version).
    public static func tighten(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_mode & 0o077 != 0, info.st_uid == geteuid() else { return }
        _ = chmod(path, info.st_mode & 0o700)
    }

    /// The permission bits of `path` (nil when it does not exist).
    public static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o777
    }
}
