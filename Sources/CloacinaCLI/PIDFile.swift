#if canImport(Glibc)
import Glibc
#endif

/// The file that tells `cloacina reload` which process to signal.
///
/// A host writes its id into the file and holds a write lock on it (`fcntl`, for the host's lifetime; the kernel
/// drops it when the process ends, however it ends). A reader trusts the id only when the lock is held and its
/// holder is the process the file names, so a file left by a host that died (whose id the system may have given
/// to any other process) is recognised as stale.
enum PIDFile {
    /// Locks `path` (created if missing) for this process and writes this process's id into it; refuses when a
    /// live host holds it. The lock lasts until the process ends: the descriptor is never closed.
    static func write(_ path: String) throws {
        descriptor = try lock(path, writing: "\(getpid())\n", naming: "the PID file") { pid, _ in
            "another host (pid \(pid)) is running with the PID file \(path)"
        }
    }

    /// Locks `path` (created if missing) for this process's lifetime and writes `contents` into it, returning the
    /// descriptor that holds the lock. When a live process holds it, throws `refusal` of that process's id and of
    /// what it wrote there.
    static func lock(
        _ path: String,
        writing contents: String,
        naming name: String,
        refusal: (pid_t, String) -> String
    ) throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw UsageError(message: "cannot write \(name) \(path): \(String(cString: strerror(errno)))")
        }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_SETLK, &lock) == 0 else {
            let reason = errno
            var holder = flock()
            holder.l_type = Int16(F_WRLCK)
            holder.l_whence = Int16(SEEK_SET)
            let pid = fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != Int16(F_UNLCK) ? holder.l_pid : 0
            var bytes = [UInt8](repeating: 0, count: 512)
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
            guard reason == EACCES || reason == EAGAIN else {
                throw UsageError(message: "cannot lock \(name) \(path): \(String(cString: strerror(reason)))")
            }
            let written = String(decoding: bytes.prefix(max(count, 0)), as: UTF8.self)
            throw UsageError(message: refusal(pid, String(written.split(separator: "\n").first ?? "")))
        }
        let text = Array(contents.utf8)
        let written = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == text.count, ftruncate(fd, off_t(text.count)) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw UsageError(message: "cannot write \(name) \(path): \(reason)")
        }
        return fd
    }

    /// The descriptor that holds this process's lock (never closed: closing any descriptor of the file would drop
    /// the lock).
    nonisolated(unsafe) private static var descriptor: Int32 = -1

    /// Removes `path` if it is the file this process locked (so no other host's file is removed). It opens
    /// nothing: closing a descriptor of the file would drop the lock.
    static func remove(_ path: String) {
        var locked = stat()
        var named = stat()
        guard descriptor >= 0, fstat(descriptor, &locked) == 0, stat(path, &named) == 0,
            locked.st_dev == named.st_dev, locked.st_ino == named.st_ino
        else { return }
        unlink(path)
    }

    /// The id of the live process that holds `path`'s lock and is named in it; an error saying why not otherwise.
    /// (Not for the holder itself: its own lock does not show, and closing the descriptor would drop it.)
    static func holder(_ path: String) throws -> pid_t {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw UsageError(message: "cannot read the PID file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let text = String(decoding: bytes.prefix(max(count, 0)), as: UTF8.self).filter { !$0.isWhitespace }
        guard let pid = pid_t(text), pid > 0 else {
            throw UsageError(message: "the PID file \(path) holds no process id")
        }
        let owner = locker(fd)
        guard owner != 0 else {
            throw UsageError(
                message: "the PID file \(path) is stale: no host holds it (it names process \(pid), which is not "
                    + "a running host for it; is the host running?)"
            )
        }
        guard owner == pid else {
            throw UsageError(message: "the PID file \(path) names process \(pid), but process \(owner) holds it")
        }
        return pid
    }

    /// The process holding a write lock on `fd`'s file, 0 when none does.
    private static func locker(_ fd: Int32) -> pid_t {
        var probe = flock()
        probe.l_type = Int16(F_WRLCK)
        probe.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_GETLK, &probe) == 0, probe.l_type != Int16(F_UNLCK) else { return 0 }
        return probe.l_pid
    }
}
