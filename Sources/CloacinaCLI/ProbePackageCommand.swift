import ArgumentParser
import Cloacina
import Logging

/// The child side of isolated loading (see `PackageProbe`): loads files in order and reports on standard output.
/// Internal; not shown in help.
struct ProbePackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe-package",
        abstract: "Load package files and report (used internally by check and workflows list).",
        shouldDisplay: false
    )

    @Option(help: "Directory for the content-addressed image cache.")
    var cache: String

    @Argument(help: "The package files.")
    var files: [String]

    func run() {
        // The parent reports the outcome; only errors are worth logging here.
        var logger = Logger(label: "cloacina.loader")
        logger.logLevel = .error
        PackageProbe.serve(files: files, cacheDirectory: cache, logger: logger)
    }
}
