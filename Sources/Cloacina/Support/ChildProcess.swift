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
        let outputEnds = try Descriptors.pipe()
        let errorEnds: (read: Int32, write: Int32)
        do {
            errorEnds = try Descriptors.pipe()
        } catch {
            close(outputEnds.read)
            close(outputEnds.write)
            throw error
        }
        let outputPipe = [outputEnds.read, outputEnds.write]
        let errorPipe = [errorEnds.read, errorEnds.write]
        let pid: pid_t
        do {
            pid = try spawn(arguments, environment: environment, descriptors: [(outputPipe[1], 1), (errorPipe[1], 2)])
        } catch {
            for fd in outputPipe + errorPipe { close(fd) }
            throw error
        }
        close(outputPipe[1])
        close(errorPipe[1])

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
        } else {
            termination = Self.termination(status)
        }
        return Outcome(output: output, errorOutput: errorOutput, termination: termination)
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
