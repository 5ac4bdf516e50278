import ArgumentParser
import Cloacina
import CloacinaDaemon

/// `cloacina workflows ...`: what a drop directory contains.
struct WorkflowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflows",
        abstract: "Inspect the workflow packages of a drop directory.",
        subcommands: [List.self, Unquarantine.self]
    )

    /// `cloacina workflows list --workflows DIR`.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load every package of a drop directory and list its workflows, one entry per file.",
            discussion: "Exits 0 when every file loads and 1 when any is rejected."
        )

        @Option(help: "Drop directory (default: $CLOACINA_WORKFLOWS_DIR, else .cloacina/workflows).")
        var workflows: String?

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @Option(help: "Seconds one file may take to load before it is rejected.")
        var timeout: Int = 60

        @Option(
            help:
                "Data directory whose quarantined versions are marked (default: $CLOACINA_DATA_DIR, else .cloacina/data)."
        )
        var dataDir: String?

        func validate() throws {
            guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        }

        func run() throws {
            let directory = workflows ?? Environment.workflowsDirectory
            let reports = try CommandPipeline.withTemporaryProbe(timeout: .seconds(timeout)) { pipeline in
                try CommandPipeline.load(directory: directory, with: pipeline)
            }
            let quarantined = QuarantineFiles(dataDirectory: TenantOptions.dataDirectory(dataDir)).load().entries
            try CommandPipeline.finish(
                reports,
                format: output,
                quarantine: Dictionary(quarantined.map { ($0.sha256, $0) }) { first, _ in first }
            )
        }
    }

    /// `cloacina workflows unquarantine PACKAGE|SHA256`.
    struct Unquarantine: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End the quarantine of a package version, so its workflows may start again.",
            discussion: """
                A host quarantines a package version when its tasks killed --quarantine-crashes worker processes \
                within --quarantine-window (see `cloacina serve --help`); a reload that serves a new version ends \
                it too. This removes the quarantine from the data directory and, when a host runs, makes it \
                reload (SIGHUP) so it takes effect at once. Over HTTP, a host also takes \
                DELETE /admin/quarantine/{package or sha256}.
                """
        )

        @Argument(help: "A package name (all its quarantined versions) or a version's SHA-256.")
        var package: String

        @Option(help: "Data directory (default: $CLOACINA_DATA_DIR, else .cloacina/data).")
        var dataDir: String?

        @Option(help: ArgumentHelp("The host's PID file (default: <data-dir>/cloacina.pid).", valueName: "path"))
        var pidFile: String?

        func run() throws {
            let files = QuarantineFiles(dataDirectory: TenantOptions.dataDirectory(dataDir))
            let matching = files.load().entries.filter { $0.sha256 == package || $0.package == package }
            guard !matching.isEmpty else {
                throw UsageError(message: "no quarantined package version matches \"\(package)\" in \(files.directory)")
            }
            for entry in matching {
                do throws(CloacinaError) {
                    try files.remove(entry.sha256)
                } catch {
                    throw UsageError(message: error.message)
                }
                print("quarantine ended: \(entry.package) \(entry.version) (sha256 \(entry.sha256))")
            }
            do {
                let pid = try ReloadCommand.signalHost(pidFile: pidFile, dataDir: dataDir)
                print("sent SIGHUP to \(pid) so it serves the version again")
            } catch let error as UsageError {
                print("no running host was told (\(error.message)); a host started later serves the version")
            }
        }
    }
}
