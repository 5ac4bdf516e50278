import ArgumentParser
import Cloacina
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina worker`: a process the host starts to run package code, with nothing on its command line but this
/// word, so a package cannot tell from `argv` what it is being loaded for. Internal; not shown in help.
///
/// Two kinds, told apart before any package code runs by what the host handed over: a task worker (see
/// `ProcessTaskInvoker`) gets its protocol on descriptors 3 and 4 and runs task calls; a loading process (the child
/// side of `PackageProbe`) gets a private channel at a descriptor it must find, and loads what arrives over it.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: PackageProbe.subcommand,
        abstract: "Run package code for a host (started by run, serve and check only).",
        shouldDisplay: false
    )

    func run() {
        if fcntl(3, F_GETFD) != -1 {
            TaskWorker.serve()
            return
        }
        // The parent reports the outcome; only errors are worth logging here.
        var logger = Logger(label: "cloacina.loader")
        logger.logLevel = .error
        Glibc.exit(PackageProbe.runLoadingProcess(logger: logger))
    }
}
