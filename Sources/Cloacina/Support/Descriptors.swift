internal import CloacinaStorage

#if canImport(Glibc)
internal import Glibc
#endif

/// File descriptors made close-on-exec from the start, so a child another thread starts meanwhile never inherits
/// them (a pipe end held by an unrelated child would keep its reader from ever seeing the end of the stream).
enum Descriptors {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32

    /// glibc's `pipe2` and `pidfd_open`, which the Glibc module does not declare.
    private static let pipe2: Pipe2? = dlsym(nil, "pipe2").map { unsafeBitCast($0, to: Pipe2.self) }
    private static let pidfdOpen: PidfdOpen? = dlsym(nil, "pidfd_open").map {
        unsafeBitCast($0, to: PidfdOpen.self)
    }

    /// A pipe, both ends close-on-exec: `(read, write)`.
    static func pipe() throws(FileSystem.Failure) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let status: Int32
        if let pipe2 {
            status = pipe2(&fds, O_CLOEXEC)
        } else {
            status = Glibc.pipe(&fds)
            for fd in fds where status == 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        guard status == 0 else {
            throw FileSystem.Failure(description: "cannot create a pipe: \(FileSystem.errorText())")
        }
        return (fds[0], fds[1])
    }

    /// A connected pair of Unix stream sockets, both close-on-exec.
    static func socketPair() throws(FileSystem.Failure) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw FileSystem.Failure(description: "cannot create a socket pair: \(FileSystem.errorText())")
        }
        return (fds[0], fds[1])
    }

    /// A descriptor that becomes readable when process `pid` (a child of this one) ends; nil where the kernel or
    /// the C library has none (Linux before 5.3, glibc before 2.36).
    static func processHandle(_ pid: pid_t) -> Int32? {
        guard let pidfdOpen else { return nil }
        let fd = pidfdOpen(pid, 0)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Makes `fd` non-blocking.
    static func setNonBlocking(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }
}
