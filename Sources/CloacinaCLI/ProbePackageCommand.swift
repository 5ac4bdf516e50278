import ArgumentParser
import Cloacina
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina worker`: a loading process (the child side of `PackageProbe`), started by the host with nothing on
/// its command line but this word; what to load arrives over its private channel. Internal; not shown in help.
///
/// The name is the worker process's: a package cannot tell from `argv` whether it is being probed or loaded to run
/// tasks (see `PackageProbe`).
struct ProbePackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: PackageProbe.subcommand,
        abstract: "Load packages for the host over its private channel (started by the host only).",
        shouldDisplay: false
    )

    func run() {
        // The parent reports the outcome; only errors are worth logging here.
        var logger = Logger(label: "cloacina.loader")
        logger.logLevel = .error
        Glibc.exit(PackageProbe.runLoadingProcess(logger: logger))
    }
}
