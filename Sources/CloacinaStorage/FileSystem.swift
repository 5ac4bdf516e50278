#if canImport(Glibc)
package import Glibc
#endif

/// The few file operations the host and the SQLite store need, as thin, error-reporting wrappers over POSIX calls.
///
/// Every failure names the path and the system's reason. Writes are atomic (a temporary file in the same directory,
/// flushed, then renamed), so a reader never sees half a file.
package enum FileSystem {
    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var description: String

        package init(description: String) {
            self.description = description
        }
    }

    /// The message for the current `errno`.
    package static func errorText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Reads a whole regular file, refusing anything larger than `limit` bytes.
    package static func readFile(_ path: String, limit: Int = 1 << 30) throws(Failure) -> [UInt8] {
        // Non-blocking, so a FIFO named like a package cannot hang the reader; regular files read normally.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw Failure(description: "cannot open: \(errorText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(description: "cannot stat: \(errorText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let kind = (info.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
            throw Failure(description: "\(kind), not a shared object")
        }
        guard info.st_size <= limit else {
            throw Failure(description: "the file is \(info.st_size) bytes, larger than the \(limit)-byte limit")
        }
        // The file shrank while it was read (a writer not using rename): keep what is there; the ELF check decides.
        return try readAll(fd, size: Int(info.st_size))
    }

    /// Reads a small file holding a secret (a password, a connection string), refusing it unless it is a regular
    /// file, not a symbolic link, owned by this process's user, with no permission for group or others (mode 0600
    /// or 0400), and at most `limit` bytes. Each refusal says what is wrong with the file; none shows its content.
    package static func readPrivateFile(_ path: String, limit: Int = 64 << 10) throws(Failure) -> [UInt8] {
        // O_NOFOLLOW: a symbolic link is refused, not followed (someone else could point it anywhere).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ELOOP { throw Failure(description: "is a symbolic link; it must be a regular file") }
            throw Failure(description: "cannot be opened: \(errorText())")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Failure(description: "cannot be examined: \(errorText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw Failure(description: "is not a regular file")
        }
        guard info.st_uid == geteuid() else {
            throw Failure(
                description: "belongs to another user (uid \(info.st_uid)); it must be owned by uid \(geteuid())"
            )
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 == 0 else {
            let octal = String(mode, radix: 8)
            throw Failure(
                description: "has mode \(String(repeating: "0", count: max(0, 4 - octal.count)) + octal), which lets "
                    + "group or others read or change it; it must be 0600 or 0400 (chmod 600)"
            )
        }
        guard info.st_size <= limit else {
            throw Failure(description: "is \(info.st_size) bytes, larger than the \(limit)-byte limit")
        }
        return try readAll(fd, size: Int(info.st_size))
    }

    /// Up to `size` bytes from `fd`: fewer when the file ends first.
    private static func readAll(_ fd: Int32, size: Int) throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw Failure(description: "cannot read: \(errorText())") }
            if count == 0 { break }
            filled += count
        }
        if filled < bytes.count { bytes.removeSubrange(filled...) }
        return bytes
    }

    /// Writes `bytes` to `path` atomically with permissions `mode`.
    /// Without `sync`, the data is not forced to disk before the rename (for throwaway copies).
    package static func writeAtomically(
        _ bytes: [UInt8],
        to path: String,
        mode: mode_t = 0o644,
        sync: Bool = true
    ) throws(Failure) {
        let directory = parent(of: path)
        let temporary = "\(directory)/.\(basename(of: path)).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(description: "cannot create \(temporary): \(errorText())") }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                let reason = errorText()
                close(fd)
                unlink(temporary)
                throw Failure(description: "cannot write \(temporary): \(reason)")
            }
            written += count
        }
        guard !sync || fsync(fd) == 0, close(fd) == 0 else {
            let reason = errorText()
            unlink(temporary)
            throw Failure(description: "cannot flush \(temporary): \(reason)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = errorText()
            unlink(temporary)
            throw Failure(description: "cannot rename \(temporary) to \(path): \(reason)")
        }
    }

    /// Forces a file's (or a directory's) data and metadata to disk.
    package static func sync(_ path: String) throws(Failure) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(errorText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(description: "cannot flush \(path): \(errorText())") }
    }

    /// Creates `path` and missing parents with `mode`. With `private`, the final directory must belong to this
    /// user and not be writable by anyone else.
    package static func makeDirectory(
        _ path: String,
        mode: mode_t = 0o755,
        private isPrivate: Bool = false
    ) throws(Failure) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw Failure(description: "cannot create directory \(prefix): \(errorText())")
            }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw Failure(description: "cannot use directory \(path): \(errorText())") }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw Failure(description: "\(path) is not a directory") }
        if isPrivate {
            guard info.st_uid == geteuid() else {
                throw Failure(description: "\(path) belongs to another user (uid \(info.st_uid))")
            }
            guard info.st_mode & 0o022 == 0 else {
                throw Failure(
                    description: "\(path) is writable by other users (mode \(String(info.st_mode & 0o777, radix: 8)))"
                )
            }
        }
    }

    /// Removes the file at `path`; false when there was none.
    @discardableResult
    package static func removeFile(_ path: String) throws(Failure) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw Failure(description: "cannot remove \(path): \(errorText())")
    }

    /// Whether a file or directory exists at `path`; with `followingLinks` false, whether anything (a symbolic link
    /// too, wherever it points) has that name.
    package static func exists(_ path: String, followingLinks: Bool = true) -> Bool {
        var info = stat()
        return followingLinks ? stat(path, &info) == 0 : lstat(path, &info) == 0
    }

    /// The names in a directory, sorted; hidden entries (starting with ".") are left out.
    package static func listDirectory(_ path: String, includingHidden: Bool = false) throws(Failure) -> [String] {
        guard let directory = opendir(path) else {
            throw Failure(description: "cannot read directory \(path): \(errorText())")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if includingHidden ? name != "." && name != ".." : !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    /// An absolute, normalized form of `path` (relative paths are resolved against the working directory).
    package static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return normalize(path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return normalize(path) }
        let cwd = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return normalize(cwd + "/" + path)
    }

    private static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    package static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    package static func basename(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
