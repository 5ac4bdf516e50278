import ArgumentParser
import Cloacina
import CloacinaDaemon

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina run WORKFLOW`: run a workflow from the drop directory and print its result.
struct RunCommand: AsyncParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a workflow from the drop directory and print its result.",
        discussion: """
            The packages of the drop directory are checked in separate processes; the one providing WORKFLOW is \
            loaded and the workflow runs here, its state stored for the tenant (by default in a SQLite file under \
            the data directory). A tenant other than "default" must exist (`cloacina tenant create`) unless \
            --create-tenant is given. It reports and exits as soon as the execution ends, also when a task timed out \
            (the abandoned attempt's late result is discarded). Exits 0 when the execution completed (or was \
            submitted with --no-wait), 1 when it failed or was cancelled, 2 for usage or configuration errors, in \
            which case nothing is written. Tasks run in worker processes (--isolation process, the default): a task \
            that crashes or exits fails its attempt with the cause, and one past its timeout is killed after \
            --kill-grace seconds.

            Prefer --database-file, $DATABASE_URL, or a URL without a password and $PGPASSWORD or ~/.pgpass \
            (libpq reads them) to a password in --database. Logs go to standard error: --log-level or \
            $CLOACINA_LOG_LEVEL (default: warning, and the tasks' own log lines at info).
            """
    )

    @Argument(help: "The workflow to run.")
    var workflow: String

    @Option(help: "The input context, a JSON object (default: {}).")
    var context: String?

    @Option(help: ArgumentHelp("Read the input context from a file, or - for standard input.", valueName: "path"))
    var contextFile: String?

    @Option(help: "Drop directory (default: $CLOACINA_WORKFLOWS_DIR, else .cloacina/workflows).")
    var workflows: String?

    @Flag(help: "Record the execution and print its id without running it; a host resuming the tenant runs it.")
    var noWait = false

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Flag(help: "Create the tenant if it does not exist (without it, only \"default\" is created when missing).")
    var createTenant = false

    @OptionGroup var tenantOptions: TenantOptions
    @OptionGroup var tuning: TuningOptions
    @OptionGroup(title: "Isolation") var isolation: IsolationOptions
    @OptionGroup var logging: LoggingOptions

    var showsTaskLogs: Bool { true }

    func validate() throws {
        if context != nil && contextFile != nil {
            throw ValidationError("give the context with --context or --context-file, not both")
        }
    }

    func run() async throws {
        let input = try readContext()
        let tenant = try tenantOptions.tenantID()
        try await TenantOptions.requireExisting(tenant, in: try tenantOptions.storage(), create: createTenant)
        var configuration = try tenantOptions.configuration(tenant: tenant, tuning: tuning)
        configuration.invoker = try isolation.invoker()
        let package = try await Self.provider(
            of: workflow,
            in: workflows ?? Environment.workflowsDirectory,
            configuration,
            tenantOptions
        )
        configuration.packages = [package]
        let progress = output == .text ? ProgressLine.ifTerminal(workflow: workflow) : nil
        if let progress {
            configuration.observer = { event in progress.record(event) }
        }

        let runner = try await Self.open(configuration)
        let outcome: Result<ExecutionResult?, CloacinaError>
        do throws(CloacinaError) {
            if noWait {
                let id = try await runner.submit(workflow, contextJSON: input)
                print(
                    output == .json
                        ? JSONValue.object([
                            "execution_id": .string(id), "tenant": .string(tenant), "status": "Pending",
                        ]).serializedString(pretty: true)
                        : "submitted execution \(id) (tenant \(tenant)); `cloacina executions resume` or `cloacina serve` runs it"
                )
                outcome = .success(nil)
            } else {
                outcome = .success(try await runner.execute(workflow, contextJSON: input))
            }
        } catch {
            outcome = .failure(error)
        }
        progress?.finish()
        guard case .success(let result?) = outcome, result.status.isFinished else {
            await runner.shutdown()
            _ = try outcome.mapError(Self.cliError).get()
            return
        }
        switch output {
        case .json: print(result.json.serializedString(pretty: true))
        case .text: print(ExecutionText.render(result, truncating: true), terminator: "")
        }
        // The execution ended: an attempt still running was abandoned (timed out) and its result is discarded, so
        // there is nothing to wait for.
        await runner.shutdown(timeout: .zero)
        if result.status != .completed { throw ExitCode.failure }
    }

    /// The package of `directory` that provides `workflow`, through the pipeline of `configuration`'s invoker.
    /// Every package is checked in a child process first; then only the package providing the workflow goes on:
    /// loaded here (in-process), or registered from its report without being opened here (worker processes).
    /// Either way its image is kept in the runner's package cache, so a host can resume the execution on it later.
    /// A version a host of this data directory quarantined is refused.
    static func provider(
        of workflow: String,
        in directory: String,
        _ configuration: DefaultRunner.Configuration,
        _ tenantOptions: TenantOptions
    ) async throws -> LoadedPackage {
        let pipeline = PackagePipeline(
            probe: nil,
            loader: PackageLoader(cacheDirectory: configuration.packageCacheDirectory, logger: configuration.logger),
            for: configuration.invoker
        )
        let (probed, loaded) = try await Self.offThePool {
            try CommandPipeline.withTemporaryProbe(timeout: PackageProbe.defaultTimeout) {
                checking -> ([PackageReport], PackageReport?) in
                let probed = try CommandPipeline.load(directory: directory, with: checking)
                let provider = probed.first { $0.isLoaded && $0.workflows.contains { $0.name == workflow } }
                guard let provider else { return (probed, nil) }
                // Nothing is written before the workflow is known to exist.
                try tenantOptions.prepareDataDirectory()
                return (probed, pipeline.complete(provider))
            }
        }
        for report in probed where !report.isLoaded {
            printError("warning: skipping \(report.file): \(report.error.map(String.init(describing:)) ?? "rejected")")
        }
        guard let loaded else {
            let known = probed.filter(\.isLoaded).flatMap(\.workflows).map(\.name).sorted()
            throw UsageError(
                message: "no package in \(directory) provides workflow \"\(workflow)\""
                    + (known.isEmpty ? "" : " (available: \(known.joined(separator: ", ")))")
            )
        }
        guard let package = loaded.package else {
            throw UsageError(message: "\(loaded.file): \(loaded.error.map(String.init(describing:)) ?? "rejected")")
        }
        try refuseQuarantined(workflow, sha256: package.sha256, tenantOptions)
        return package
    }

    /// A version a host of this data directory quarantined is not started here either.
    static func refuseQuarantined(_ workflow: String, sha256: String?, _ tenantOptions: TenantOptions) throws {
        let quarantine = QuarantineFiles(dataDirectory: tenantOptions.dataDirectory)
        if let sha256, let entry = quarantine.load().entries.first(where: { $0.sha256 == sha256 }) {
            throw UsageError(message: "workflow \(workflow) cannot start: \(entry.reason)")
        }
    }

    /// The input context as JSON bytes, checked to be an object.
    private func readContext() throws -> [UInt8] {
        let bytes: [UInt8]
        let source: String
        if let context {
            bytes = Array(context.utf8)
            source = "--context"
        } else if let contextFile {
            source = contextFile == "-" ? "standard input" : contextFile
            bytes = try InputFile.read(contextFile, what: "context file")
        } else {
            return Array("{}".utf8)
        }
        do {
            guard case .object = try JSONValue(parsing: bytes) else {
                throw UsageError(message: "the context (\(source)) must be a JSON object")
            }
        } catch let error as JSONParseError {
            throw UsageError(message: "the context (\(source)) is not valid JSON: \(error)")
        }
        return bytes
    }

    /// Runs `body` (package code, child processes: blocking) off the cooperative pool.
    private static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingCall.run { Result { try body() } }.get()
    }

    /// Opens the runner; configuration problems are usage errors.
    static func open(_ configuration: DefaultRunner.Configuration) async throws -> DefaultRunner {
        do {
            return try await DefaultRunner.Builder(configuration: configuration).build()
        } catch {
            throw cliError(error)
        }
    }

    /// Invalid input and configuration are usage errors (exit 2); anything else is a failure (exit 1).
    static func cliError(_ error: CloacinaError) -> any Error {
        switch error.code {
        case .invalidInput, .unknownWorkflow, .configuration, .notFound:
            return UsageError(message: error.message)
        default:
            printError("error: \(error.message)")
            return ExitCode.failure
        }
    }
}
