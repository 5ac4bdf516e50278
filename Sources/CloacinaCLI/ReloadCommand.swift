import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina reload`: asks a running host to reload its drop directory (sends it SIGHUP).
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Ask a running host to reload its drop directory.",
        discussion: """
            Sends SIGHUP to the host in the PID file, only if that host is alive and holds the file's lock, and \
            is a `cloacina serve` of this data directory (a stale file naming another process is refused). The \
            host logs what loaded and what failed; for a report, use POST /admin/reload.
            """
    )

    @Option(help: ArgumentHelp("The host's PID file (default: <data-dir>/cloacina.pid).", valueName: "path"))
    var pidFile: String?

    @Option(help: "Data directory (default: $CLOACINA_DATA_DIR, else .cloacina/data).")
    var dataDir: String?

    func run() throws {
        let pid = try Self.signalHost(pidFile: pidFile, dataDir: dataDir)
        print("sent SIGHUP to \(pid)")
    }

    /// Sends SIGHUP to the `cloacina serve` of the PID file (`pidFile`, else `<data-dir>/cloacina.pid`), checked to
    /// be alive, to hold the file's lock and to serve this data directory; returns its process id.
    static func signalHost(pidFile: String?, dataDir: String?) throws -> pid_t {
        let dataDirectory = TenantOptions.dataDirectory(dataDir)
        let path = pidFile ?? "\(dataDirectory)/cloacina.pid"
        let pid = try PIDFile.holder(path)
        let host = HostProcess(pid: pid)
        guard host.isServe else {
            throw UsageError(message: "process \(pid) of the PID file \(path) is not a `cloacina serve`; not signalled")
        }
        // With --pid-file alone, the lock on that file identifies the host; otherwise it must serve this directory.
        if pidFile == nil || dataDir != nil || Environment.value("CLOACINA_DATA_DIR") != nil {
            let mine = HostProcess.resolved(dataDirectory, from: nil)
            guard let theirs = host.dataDirectory, mine != nil, theirs == mine else {
                throw UsageError(
                    message: "process \(pid) of the PID file \(path) serves the data directory "
                        + "\(host.dataDirectory ?? "(unknown)"), not \(dataDirectory); not signalled"
                )
            }
        }
        guard kill(pid, SIGHUP) == 0 else {
            throw UsageError(message: "cannot signal process \(pid) from \(path): \(String(cString: strerror(errno)))")
        }
        return pid
    }
}
