import ArgumentParser

/// `cloacina workflows ...`: what a drop directory contains.
struct WorkflowsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflows",
        abstract: "Inspect the workflow packages of a drop directory.",
        subcommands: [List.self]
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

        func validate() throws {
            guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        }

        func run() throws {
            let directory = workflows ?? Environment.workflowsDirectory
            let reports = try CommandPipeline.withTemporaryProbe(timeout: .seconds(timeout)) { pipeline in
                try CommandPipeline.load(directory: directory, with: pipeline)
            }
            try CommandPipeline.finish(reports, format: output)
        }
    }
}
