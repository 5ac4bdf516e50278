import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina reload`: asks a running host to reload its drop directory (sends it SIGHUP).
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Ask a running host to reload its drop directory.",
        discussion:
            "Sends SIGHUP to the process in the PID file. The host logs what loaded and what failed; for a report, use POST /admin/reload."
    )

    @Option(help: ArgumentHelp("The host's PID file (default: <data-dir>/cloacina.pid).", valueName: "path"))
    var pidFile: String?

    @Option(help: "Data directory (default: $CLOACINA_DATA_DIR, else .cloacina/data).")
    var dataDir: String?

    func run() throws {
        var options = TenantOptions()
        options.dataDir = dataDir
        let path = pidFile ?? "\(options.dataDirectory)/cloacina.pid"
        let pid = try PIDFile.read(path)
        guard kill(pid, SIGHUP) == 0 else {
            printError("error: cannot signal process \(pid) from \(path): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        print("sent SIGHUP to \(pid)")
    }
}
