import ArgumentParser
import Cloacina

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina check FILE.so...`: load and validate packages without running anything.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Load and validate workflow packages without running anything.",
        discussion: """
            Each file is loaded in a separate process, so a damaged or hostile file is reported, never fatal. \
            Prints each package's name, version, SHA-256, ABI version and workflows. Exits 0 when every file is \
            valid and 1 when any is not.
            """
    )

    @Argument(
        help: "Workflow package files (.so), foreign library manifests (.workflow.json), or drop directories."
    )
    var files: [String]

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(help: "Seconds one file may take to load before it is rejected.")
    var timeout: Int = 60

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one package file") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    /// The files given, each directory replaced by its package files (as a host would load them).
    private func expanded() throws -> [String] {
        var paths: [String] = []
        for file in files {
            var isDirectory = stat()
            if stat(file, &isDirectory) == 0 && (isDirectory.st_mode & S_IFMT) == S_IFDIR {
                paths += try PackageLoader.files(in: file)
            } else {
                paths.append(file)
            }
        }
        return paths
    }

    func run() throws {
        let reports = try CommandPipeline.withTemporaryProbe(timeout: .seconds(timeout)) { pipeline in
            PackageCatalog.resolveConflicts(pipeline.load(files: try expanded()))
        }
        try CommandPipeline.finish(reports, format: output)
    }
}
