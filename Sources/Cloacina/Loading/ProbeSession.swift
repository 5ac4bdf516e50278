internal import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// One loading process, seen from its parent: the child, its private channel (``ProbeChannel``), the pipe that
/// collects what it writes to standard output and standard error, and a `pidfd` that becomes readable when it ends.
///
/// The child runs in a process group of its own, so ending the session also kills what the package forked.
/// Not thread-safe except ``kill()``: one thread at a time drives a session (its ``ProbeRun``, handed between
/// threads under a lock), and any thread may kill it.
final class ProbeSession: @unchecked Sendable {
    let pid: pid_t
    let channel: ProbeChannel
    /// Standard output and standard error of the child (and of anything it started).
    private(set) var output: Int32
    /// Readable when the child ends; -1 when the kernel has no `pidfd_open` (the channel's end is used instead).
    private(set) var exitWatch: Int32
    /// The last 64 KiB the child wrote to standard output or standard error.
    private(set) var outputTail: [UInt8] = []
    private(set) var termination: ChildProcess.Termination?
    /// Whether the parent still reads the channel (its peer has not closed it).
    private(set) var channelOpen = true
    /// Whether the child was killed, and whether it was reaped (its pid may then belong to another process, so
    /// nothing may signal it any more).
    private let signalling = Mutex((killed: false, reaped: false))

    private static let outputLimit = 64 * 1024

    private init(pid: pid_t, channel: ProbeChannel, output: Int32, exitWatch: Int32) {
        self.pid = pid
        self.channel = channel
        self.output = output
        self.exitWatch = exitWatch
    }

    /// Starts `arguments` (`arguments[0]` is the program) with `environment` (complete), standard input on
    /// `/dev/null`, standard output and standard error on one pipe, and the child's end of a new channel at a
    /// random descriptor number.
    static func start(_ arguments: [String], environment: [String]) throws(FileSystem.Failure) -> ProbeSession {
        let (channel, childEnd) = try ProbeChannel.pair()
        // A socket pair rather than a pipe: it is created close-on-exec at once, so a child another thread starts
        // meanwhile cannot inherit it (and hold it open).
        var outputPipe: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &outputPipe) == 0
        else {
            let reason = FileSystem.errorText()
            channel.close()
            Glibc.close(childEnd)
            throw FileSystem.Failure(description: "cannot create the output socket: \(reason)")
        }
        shutdown(outputPipe[0], Int32(SHUT_WR))
        // Not a number the two ends already have here (a dup2 onto itself would keep it close-on-exec).
        var target = randomDescriptor()
        var tries = 0
        while target == childEnd || target == outputPipe[1], tries < 100 {
            target = randomDescriptor()
            tries += 1
        }
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                arguments,
                environment: environment,
                descriptors: [(outputPipe[1], 1), (outputPipe[1], 2), (childEnd, target)],
                ownGroup: true
            )
        } catch {
            for fd in [outputPipe[0], outputPipe[1], childEnd] { Glibc.close(fd) }
            channel.close()
            throw error
        }
        Glibc.close(outputPipe[1])
        Glibc.close(childEnd)
        return ProbeSession(pid: pid, channel: channel, output: outputPipe[0], exitWatch: pidfdOpen(pid))
    }

    /// A descriptor number from 64 up to the descriptor limit (at most 1023), chosen at random.
    private static func randomDescriptor() -> Int32 {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let top = Int32(clamping: min(UInt64(limit.rlim_cur), 1024))
        guard top > 66 else { return Int32.random(in: 3..<max(top, 5)) }
        return Int32.random(in: 64..<top)
    }

    /// `pidfd_open(pid, 0)`, looked up at run time (glibc 2.36 has it, its Swift module does not declare it).
    private static func pidfdOpen(_ pid: pid_t) -> Int32 {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pidfd_open") else { return -1 }
        typealias Open = @convention(c) (pid_t, UInt32) -> Int32
        let fd = unsafeBitCast(symbol, to: Open.self)(pid, 0)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fd
    }

    /// The descriptors to poll: the channel, the output pipe while open, and the exit watch.
    var pollDescriptors: [Int32] {
        (channelOpen ? [channel.fd] : []) + (output >= 0 ? [output] : []) + (exitWatch >= 0 ? [exitWatch] : [])
    }

    /// Stops reading the channel (its peer closed it).
    func closeChannel() {
        guard channelOpen else { return }
        channelOpen = false
        channel.close()
    }

    /// Reads what is available on the output pipe (once poll said it is readable); closes it at its end. Returns
    /// the number of bytes read.
    @discardableResult
    func drainOutput() -> Int {
        guard output >= 0 else { return 0 }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
        if count < 0 && (errno == EINTR || errno == EAGAIN) { return 0 }
        guard count > 0 else {
            Glibc.close(output)
            output = -1
            return 0
        }
        outputTail.append(contentsOf: chunk[0..<count])
        if outputTail.count > Self.outputLimit { outputTail.removeFirst(outputTail.count - Self.outputLimit) }
        return count
    }

    /// Whether the child has ended, reaping it (and killing what it left in its process group); with `wait`,
    /// waits for its end.
    @discardableResult
    func reap(wait: Bool) -> Bool {
        if termination != nil { return true }
        // Wait without reaping, so the pid (and its process group) stays the child's until it is reaped below.
        var info = siginfo_t()
        var result: Int32
        repeat {
            result = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | (wait ? 0 : WNOHANG))
        } while result < 0 && errno == EINTR
        guard result == 0, info._sifields._sigchld.si_pid == pid else { return false }
        var status: Int32 = 0
        let killed = signalling.withLock { state in
            // What the package forked into the group goes with it.
            Glibc.kill(-pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            state.reaped = true
            return state.killed
        }
        if killed {
            termination = .timedOut
        } else if status & 0x7F == 0 {
            termination = .exited((status >> 8) & 0xFF)
        } else {
            termination = .signalled(status & 0x7F)
        }
        return true
    }

    /// Reaps the child if it ended or is ending: its descriptors close a moment before its exit can be waited for,
    /// so a child whose channel just closed gets that moment (its exit watch, at most 200 ms). False when it still
    /// runs after it; a child that ended on its own keeps its own exit status as its end (not a time-out).
    @discardableResult
    func reapIfEnding() -> Bool {
        if termination != nil || reap(wait: false) { return true }
        if exitWatch >= 0 {
            var watch = pollfd(fd: exitWatch, events: Int16(POLLIN), revents: 0)
            _ = poll(&watch, 1, 200)
        }
        return reap(wait: false)
    }

    /// Kills the child and its process group (what the package forked); its end is then recorded as a time-out.
    /// Thread-safe; idempotent; does nothing once the child was reaped.
    func kill() {
        signalling.withLock { state in
            guard !state.killed && !state.reaped else { return }
            state.killed = true
            Glibc.kill(-pid, SIGKILL)
            Glibc.kill(pid, SIGKILL)
        }
    }

    /// Ends the session: kills and reaps the child if it still runs, collects the rest of its output (without
    /// waiting for processes that keep the pipe open), and closes every descriptor.
    func finish() {
        if termination == nil, !reapIfEnding() {
            kill()
            reap(wait: true)
        }
        if output >= 0 {
            _ = fcntl(output, F_SETFL, fcntl(output, F_GETFL) | O_NONBLOCK)
            // Bounded: a process that left the group and keeps writing does not hold the parent.
            var rounds = 0
            while output >= 0, rounds < 64, drainOutput() > 0 { rounds += 1 }
            if output >= 0 { Glibc.close(output) }
            output = -1
        }
        if exitWatch >= 0 { Glibc.close(exitWatch) }
        exitWatch = -1
        closeChannel()
    }
}
