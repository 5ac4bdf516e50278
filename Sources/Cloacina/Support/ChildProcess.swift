internal import CloacinaModel

#if canImport(Glibc)
internal import Glibc
#endif

/// Runs a program to completion and collects its standard output and standard error, with a time limit.
///
/// Built on `posix_spawn` with a clean signal mask and default signal dispositions in the child (threads of this
/// process may block signals, and a child must not inherit that). Standard input is `/dev/null`. Blocks the calling
/// thread: call it from a thread of your own.
enum ChildProcess {
    /// How the program ended.
    enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// It ran past the time limit and was killed.
        case timedOut
    }

    struct Outcome: Sendable {
        var output: [UInt8]
        /// Standard error, of which only the last 64 KiB are kept.
        var errorOutput: [UInt8]
        var termination: Termination
    }

    private static let errorLimit = 64 * 1024

    /// Runs `arguments[0]` with `arguments`, adding `environment` to this process's environment.
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: Duration
    ) throws(FileSystem.Failure) -> Outcome {
        var outputPipe: [Int32] = [-1, -1]
        var errorPipe: [Int32] = [-1, -1]
        guard Glibc.pipe(&outputPipe) == 0 else {
            throw FileSystem.Failure(description: "cannot create a pipe: \(FileSystem.errorText())")
        }
        guard Glibc.pipe(&errorPipe) == 0 else {
            let reason = FileSystem.errorText()
            for fd in outputPipe { close(fd) }
            throw FileSystem.Failure(description: "cannot create a pipe: \(reason)")
        }
        for fd in outputPipe + errorPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var variables: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        variables.merge(environment) { _, new in new }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }

        var pid = pid_t()
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        close(outputPipe[1])
        close(errorPipe[1])
        guard spawned == 0 else {
            close(outputPipe[0])
            close(errorPipe[0])
            throw FileSystem.Failure(description: "cannot start \(arguments[0]): \(FileSystem.errorText(spawned))")
        }

        var output: [UInt8] = []
        var errorOutput: [UInt8] = []
        var open = [outputPipe[0], errorPipe[0]]
        var timedOut = false
        let deadline = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero && !timedOut {
                timedOut = true
                kill(pid, SIGKILL)
            }
            var pollers = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let wait = timedOut ? Int32(-1) : Int32(clamping: max(remaining.inMilliseconds, 1))
            let ready = poll(&pollers, nfds_t(pollers.count), wait)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            for poller in pollers where poller.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(poller.fd, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    close(poller.fd)
                    open.removeAll { $0 == poller.fd }
                    continue
                }
                if poller.fd == outputPipe[0] {
                    output.append(contentsOf: chunk[0..<count])
                } else {
                    errorOutput.append(contentsOf: chunk[0..<count])
                    if errorOutput.count > errorLimit { errorOutput.removeFirst(errorOutput.count - errorLimit) }
                }
            }
        }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let termination: Termination
        if timedOut {
            termination = .timedOut
        } else if status & 0x7F == 0 {
            termination = .exited((status >> 8) & 0xFF)
        } else {
            termination = .signalled(status & 0x7F)
        }
        return Outcome(output: output, errorOutput: errorOutput, termination: termination)
    }

    /// "SIGSEGV (Segmentation fault)" for signal 11, and so on.
    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGILL: "SIGILL", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL",
            SIGSEGV: "SIGSEGV", SIGTERM: "SIGTERM", SIGTRAP: "SIGTRAP", SIGSYS: "SIGSYS", SIGPIPE: "SIGPIPE",
        ]
        let description = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
        return "\(names[signal] ?? "signal \(signal)") (\(description))"
    }
}
