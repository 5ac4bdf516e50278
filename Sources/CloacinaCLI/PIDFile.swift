#if canImport(Glibc)
import Glibc
#endif

/// The file that tells `cloacina reload` which process to signal.
enum PIDFile {
    /// Writes this process's id to `path` (write then rename); refuses when a live process's id is already there.
    static func write(_ path: String) throws {
        if let pid = try? read(path), pid != getpid(), kill(pid, 0) == 0 {
            throw UsageError(message: "another host (pid \(pid)) is running with the PID file \(path)")
        }
        let temporary = "\(path).\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw UsageError(message: "cannot write the PID file \(path): \(String(cString: strerror(errno)))")
        }
        let text = Array("\(getpid())\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == text.count, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw UsageError(message: "cannot write the PID file \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes `path` if it still holds this process's id.
    static func remove(_ path: String) {
        if (try? read(path)) == getpid() { unlink(path) }
    }

    /// The process id in `path`.
    static func read(_ path: String) throws -> pid_t {
        let bytes = try InputFile.read(path, what: "PID file")
        let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        guard let pid = pid_t(text), pid > 0 else {
            throw UsageError(message: "the PID file \(path) holds no process id")
        }
        return pid
    }
}
