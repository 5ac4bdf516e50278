#if canImport(Glibc)
import Glibc
#endif

/// Reads what a command is given by path: a file, or standard input for `-`.
enum InputFile {
    /// The whole content of `path` (standard input for `-`), at most 64 MiB; `what` names it in errors.
    static func read(_ path: String, what: String) throws -> [UInt8] {
        let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw UsageError(message: "cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
        }
        defer { if fd != 0 { close(fd) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw UsageError(message: "cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= 64 << 20 else { throw UsageError(message: "the \(what) \(path) is over 64 MiB") }
        }
    }
}
