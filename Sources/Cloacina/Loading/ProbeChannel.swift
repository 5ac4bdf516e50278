#if canImport(Glibc)
internal import Glibc
#endif

/// The private channel between a loading process and its parent: one end of an `AF_UNIX` `SOCK_SEQPACKET` socket
/// pair, carrying one frame per message (a kind byte, then its payload).
///
/// Why a socket and not the child's standard output: package code writes to standard output (and may write
/// anything, such as a genuine-looking report line), and standard output is the first thing it would forge. The
/// child's end sits at a random descriptor number above 63 that appears nowhere (not in `argv`, not in the
/// environment); the child finds it by looking for its one sequenced-packet socket before any package code runs.
/// Package code can find it the same way (`/proc/self/fd`), so the number is no secret: what protects the parent is
/// what it checks on every frame. The kernel tells it the sender's process id (`SCM_CREDENTIALS`), so a process the
/// package forked cannot speak for the child; frames must come in the protocol's order; and a report counts only
/// when it carries the answer to a challenge the parent sent after the load returned (see ``PackageProbe``).
/// Descriptors a child tries to pass are closed, never used.
struct ProbeChannel {
    /// What a frame is.
    enum Kind: UInt8 {
        // Parent to child.
        /// Load one file: JSON `{"file": path, "cache": directory}`.
        case load = 0x4C  // "L"
        /// The nonce for the report of the file just loaded: 32 random bytes.
        case challenge = 0x43  // "C"
        /// No more work: remove the copies and exit 0.
        case exit = 0x58  // "X"
        // Child to parent.
        /// A stage of the current load started: its name.
        case stage = 0x73  // "s"
        /// The current load returned (every line of the package's code that the load runs has run).
        case loaded = 0x6C  // "l"
        /// A piece of the report's JSON.
        case report = 0x72  // "r"
        /// The report is complete: hex SHA-256 of the nonce followed by the report's bytes.
        case reportEnd = 0x65  // "e"
    }

    /// The largest frame, and so the size of a report piece.
    static let maximumFrame = 48 * 1024

    let fd: Int32

    /// A connected pair (parent's end, child's end), both close-on-exec; the parent's end receives the sender's
    /// credentials with every frame.
    static func pair() throws(FileSystem.Failure) -> (parent: ProbeChannel, child: Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw FileSystem.Failure(description: "cannot create a socket pair: \(FileSystem.errorText())")
        }
        var on: Int32 = 1
        guard setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            let reason = FileSystem.errorText()
            for fd in fds { Glibc.close(fd) }
            throw FileSystem.Failure(description: "cannot ask for sender credentials: \(reason)")
        }
        return (ProbeChannel(fd: fds[0]), fds[1])
    }

    /// The child's side: its one `AF_UNIX` sequenced-packet socket, found among its open descriptors. Call it before
    /// any package code runs.
    static func findInChild() -> ProbeChannel? {
        var found: [Int32] = []
        for name in (try? FileSystem.listDirectory("/proc/self/fd")) ?? [] {
            guard let fd = Int32(name), fd > 2 else { continue }
            var type: Int32 = 0
            var domain: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0,
                type == Int32(SOCK_SEQPACKET.rawValue)
            else { continue }
            length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0, domain == AF_UNIX else { continue }
            found.append(fd)
        }
        guard found.count == 1 else { return nil }
        _ = fcntl(found[0], F_SETFD, FD_CLOEXEC)
        return ProbeChannel(fd: found[0])
    }

    /// Sends one frame; false when the peer is gone (or, with `wait` false, would not take it now).
    @discardableResult
    func send(_ kind: Kind, _ payload: [UInt8] = [], wait: Bool = true) -> Bool {
        let frame = [kind.rawValue] + payload
        let flags = Int32(MSG_NOSIGNAL) | (wait ? 0 : Int32(MSG_DONTWAIT))
        while true {
            let sent = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, flags) }
            if sent < 0 && errno == EINTR { continue }
            return sent == frame.count
        }
    }

    /// One frame received.
    struct Frame {
        var kind: Kind?
        var payload: [UInt8]
        /// The sending process, as the kernel saw it (parent's end only).
        var sender: pid_t?
        /// The frame was larger than ``ProbeChannel/maximumFrame``.
        var truncated: Bool
    }

    /// What ``receive(wait:)`` found.
    enum Received {
        case frame(Frame)
        /// Nothing now (only without waiting).
        case nothing
        /// End of stream, or an error: nothing more will come.
        case closed
    }

    /// Receives one frame, blocking; nil at end of stream or on error.
    func receive() -> Frame? {
        guard case .frame(let frame) = receive(wait: true) else { return nil }
        return frame
    }

    /// Receives one frame, waiting for it or not.
    func receive(wait: Bool) -> Received {
        let capacity = Self.maximumFrame + 1
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        let controlSize = 256
        let control = UnsafeMutableRawPointer.allocate(byteCount: controlSize, alignment: 8)
        defer {
            buffer.deallocate()
            control.deallocate()
        }
        var vector = iovec(iov_base: buffer, iov_len: capacity)
        var count = 0
        var message = msghdr()
        withUnsafeMutablePointer(to: &vector) { vectorPointer in
            while true {
                message = msghdr()
                message.msg_iov = vectorPointer
                message.msg_iovlen = 1
                message.msg_control = control
                message.msg_controllen = controlSize
                count = recvmsg(fd, &message, Int32(MSG_CMSG_CLOEXEC) | (wait ? 0 : Int32(MSG_DONTWAIT)))
                if count < 0 && errno == EINTR { continue }
                return
            }
        }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return .nothing }
        guard count > 0 else { return .closed }
        let sender = Self.credentials(control, length: Int(message.msg_controllen))
        let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: min(count, Self.maximumFrame + 1)))
        let truncated = message.msg_flags & Int32(MSG_TRUNC) != 0 || count > Self.maximumFrame
        return .frame(
            Frame(
                kind: Kind(rawValue: bytes[0]),
                payload: Array(bytes.dropFirst()),
                sender: sender,
                truncated: truncated
            )
        )
    }

    /// The sender's process id from the control messages, closing any descriptors passed with them.
    private static func credentials(_ control: UnsafeMutableRawPointer, length: Int) -> pid_t? {
        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } followed by data aligned to 8 bytes.
        let header = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
        var offset = 0
        var sender: pid_t?
        while offset + header <= length {
            let total = control.load(fromByteOffset: offset, as: Int.self)
            let level = control.load(fromByteOffset: offset + MemoryLayout<Int>.size, as: Int32.self)
            let type = control.load(fromByteOffset: offset + MemoryLayout<Int>.size + 4, as: Int32.self)
            guard total >= header, offset + total <= length else { break }
            let data = offset + header
            // SCM_CREDENTIALS (2) carries struct ucred { pid_t pid; uid_t uid; gid_t gid; }.
            if level == SOL_SOCKET && type == 2 && total - header >= 12 {
                sender = control.load(fromByteOffset: data, as: pid_t.self)
            } else if level == SOL_SOCKET && type == Int32(SCM_RIGHTS) {
                var at = data
                while at + 4 <= offset + total {
                    Glibc.close(control.load(fromByteOffset: at, as: Int32.self))
                    at += 4
                }
            }
            offset += (total + 7) & ~7
        }
        return sender
    }

    func close() {
        _ = Glibc.close(fd)
    }
}
