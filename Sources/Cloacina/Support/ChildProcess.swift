internal import CloacinaModel

#if canImport(Glibc)
internal import Glibc
#endif

/// Starting child processes the way the host must: with a clean signal mask and default signal dispositions
/// (threads of this process may block or ignore signals, and a child must not inherit that), standard input on
/// `/dev/null`, and only the descriptors asked for (everything the host opens is close-on-exec).
enum ChildProcess {
    /// How a child ended.
    enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        /// It ran past its time limit (or was otherwise killed by the parent).
        case timedOut
    }

    /// Starts `arguments[0]` with `arguments` and the complete `environment`, with each `(from, to)` of
    /// `descriptors` duplicated to descriptor `to` in the child, in a new process group when `ownGroup` is true.
    static func spawn(
        _ arguments: [String],
        environment: [String],
        descriptors: [(from: Int32, to: Int32)],
        ownGroup: Bool
    ) throws(FileSystem.Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (from, to) in descriptors { posix_spawn_file_actions_adddup2(&actions, from, to) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw FileSystem.Failure(description: "cannot start \(arguments[0]): \(FileSystem.errorText(spawned))")
        }
        return pid
    }

    /// How a process ended, from a `waitpid` status.
    static func termination(_ status: Int32) -> Termination {
        status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .signalled(status & 0x7F)
    }

    /// "SIGSEGV (Segmentation fault)" for signal 11, and so on; without `long`, "SIGSEGV".
    static func signalName(_ signal: Int32, long: Bool = true) -> String {
        let names: [Int32: String] = [
            SIGILL: "SIGILL", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL",
            SIGSEGV: "SIGSEGV", SIGTERM: "SIGTERM", SIGTRAP: "SIGTRAP", SIGSYS: "SIGSYS", SIGPIPE: "SIGPIPE",
            SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT",
            SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGALRM: "SIGALRM",
        ]
        let name = names[signal] ?? "signal \(signal)"
        guard long else { return name }
        let description = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
        return "\(name) (\(description))"
    }
}
