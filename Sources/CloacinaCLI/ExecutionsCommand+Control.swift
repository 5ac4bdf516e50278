import ArgumentParser
import Cloacina

extension ExecutionsCommand {
    /// `cloacina executions pause ID`.
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause an execution: no task of it starts until it is resumed; running attempts finish.",
            discussion: """
                The pause is recorded in the tenant's store, so it outlasts restarts. The host running the \
                execution applies it at once on PostgreSQL (notified), else at its next lease renewal. Pausing a \
                paused execution changes nothing (exit 0); an execution that ended cannot be paused (exit 1).
                """
        )

        @Argument(help: "The execution id, or a prefix of it that only one execution has.")
        var id: String

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            let result = try await ExecutionsCommand.withResult(id, tenantOptions) { runner, id throws(CloacinaError) in
                try await runner.pause(id)
            }
            switch output {
            case .json: Swift.print(result.json.serializedString(pretty: true))
            case .text:
                Swift.print(
                    "paused execution \(result.executionID): no task of it starts until "
                        + "`cloacina executions resume \(result.executionID)`"
                )
            }
        }
    }

    /// `cloacina executions retry ID` and `rerun ID`.
    struct Retry: AsyncParsableCommand, LoggingCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a failed or cancelled execution again from its failure, and wait for it.",
            discussion: """
                The new execution reuses the recorded outputs of the tasks that completed (with all their \
                dependencies) and runs the failed, skipped, cancelled and never-run ones; it records which \
                execution it retries (retry_of). It runs the package version the original was pinned to (from \
                the package cache), or with --latest the version in the drop directory now. Exits 0 when it \
                completed, 1 otherwise; a running or completed execution cannot be retried (exit 1).
                """
        )

        @OptionGroup var options: DerivedRunOptions
        var logging: LoggingOptions { options.logging }
        var showsTaskLogs: Bool { true }

        func run() async throws { try await options.run(retry: true) }
    }

    struct Rerun: AsyncParsableCommand, LoggingCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run an execution's workflow again from the start with the same input, and wait for it.",
            discussion: """
                Any execution can be run again, whatever its status. The new one records which execution it \
                runs again (rerun_of) and runs the package version the original was pinned to, or with --latest \
                the version in the drop directory now. Exits 0 when it completed, 1 otherwise.
                """
        )

        @OptionGroup var options: DerivedRunOptions
        var logging: LoggingOptions { options.logging }
        var showsTaskLogs: Bool { true }

        func run() async throws { try await options.run(retry: false) }
    }
}

/// What `executions retry` and `executions rerun` take, and how both run.
struct DerivedRunOptions: ParsableArguments {
    @Argument(help: "The execution id, or a prefix of it that only one execution has.")
    var id: String

    @Flag(help: "Run the package version serving the workflow in the drop directory now, not the pinned one.")
    var latest = false

    @Option(help: "Drop directory for --latest (default: $CLOACINA_WORKFLOWS_DIR, else .cloacina/workflows).")
    var workflows: String?

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var tenantOptions: TenantOptions
    @OptionGroup var tuning: TuningOptions
    @OptionGroup(title: "Isolation") var isolation: IsolationOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if workflows != nil && !latest { throw ValidationError("--workflows is for --latest") }
    }

    func run(retry: Bool) async throws {
        // The origin first (its workflow names the package --latest needs), through a runner without packages.
        let (reader, tenant) = try await ExecutionsCommand.openRunner(tenantOptions)
        guard let reader else { throw UsageError(message: "no execution \(id) in tenant \(tenant)") }
        let read = await capture { () async throws(CloacinaError) in
            try await reader.executionStatus(try await ExecutionsCommand.executionID(id, in: reader))
        }
        await reader.shutdown()
        let origin = try read.mapError(RunCommand.cliError).get()

        var configuration = try tenantOptions.configuration(tenant: tenant, tuning: tuning)
        configuration.invoker = try isolation.invoker()
        if latest {
            configuration.packages = [
                try await RunCommand.provider(
                    of: origin.workflow,
                    in: workflows ?? Environment.workflowsDirectory,
                    configuration,
                    tenantOptions
                )
            ]
        } else {
            try RunCommand.refuseQuarantined(origin.workflow, sha256: origin.package?.sha256, tenantOptions)
        }
        let runner = try await RunCommand.open(configuration)
        let outcome = await capture { () async throws(CloacinaError) in
            let started =
                retry
                ? try await runner.retry(origin.executionID, latest: latest)
                : try await runner.rerun(origin.executionID, latest: latest)
            return try await runner.waitForExecution(started)
        }
        await runner.shutdown(timeout: .zero)
        let result = try outcome.mapError(RunCommand.cliError).get()
        switch output {
        case .json: print(result.json.serializedString(pretty: true))
        case .text: print(ExecutionText.render(result, truncating: true), terminator: "")
        }
        if result.status != .completed { throw ExitCode.failure }
    }
}
