internal import CloacinaStorage

#if canImport(Glibc)
internal import Glibc
#endif

extension ChildProcess {
    /// Starts `arguments[0]` with `arguments` and returns its pid; the caller waits for it.
    ///
    /// The child gets a clean signal mask and default signal dispositions (threads of this process may block
    /// signals, and a child must not inherit that), standard input from `/dev/null`, each `(fd, as)` of
    /// `descriptors` as its descriptor `as`, and this process's environment without the variables in `removing`,
    /// with `environment` added. Descriptors of this process not named should be close-on-exec.
    static func spawn(
        _ arguments: [String],
        environment: [String: String] = [:],
        removing: Set<String> = [],
        descriptors: [(fd: Int32, as: Int32)]
    ) throws(FileSystem.Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (fd, target) in descriptors { posix_spawn_file_actions_adddup2(&actions, fd, target) }

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
            if let equals = text.firstIndex(of: "="), !removing.contains(String(text[..<equals])) {
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
        guard spawned == 0 else {
            throw FileSystem.Failure(description: "cannot start \(arguments[0]): \(FileSystem.errorText(spawned))")
        }
        return pid
    }

    /// How a process ended, from a `waitpid` status.
    static func termination(_ status: Int32) -> Termination {
        status & 0x7F == 0 ? .exited((status >> 8) & 0xFF) : .signalled(status & 0x7F)
    }
}
