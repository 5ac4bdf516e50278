import ArgumentParser
import Cloacina

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina executions list|show|cancel|resume`: a tenant's executions.
struct ExecutionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "executions",
        abstract: "List, show, cancel and resume a tenant's executions.",
        subcommands: [List.self, Show.self, Cancel.self, Resume.self]
    )

    /// Opens the tenant's runner without resuming anything; nil when its SQLite file does not exist (no
    /// executions, and nothing is created by looking).
    static func openRunner(_ options: TenantOptions) async throws -> (DefaultRunner?, String) {
        let tenant = try options.tenantID()
        let configuration = try options.configuration(tenant: tenant, tuning: nil)
        if let path = try options.sqlitePath(configuration.databaseURL), access(path, F_OK) != 0 {
            return (nil, tenant)
        }
        return (try await RunCommand.open(configuration), tenant)
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List executions, newest first.")

        @Option(
            name: .customLong("status"),
            help: "Only this status (repeatable): Pending, Running, Completed, Failed, Cancelled."
        )
        var statuses: [String] = []

        @Option(help: "Only this workflow.")
        var workflow: String?

        @Option(help: "At most this many.")
        var limit = 50

        @Option(help: "Skip this many.")
        var offset = 0

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
            guard offset >= 0 else { throw ValidationError("--offset must not be negative") }
            for status in statuses where ExecutionsCommand.status(status) == nil {
                throw ValidationError("unknown status \"\(status)\" (Pending, Running, Completed, Failed, Cancelled)")
            }
        }

        func run() async throws {
            let (runner, _) = try await ExecutionsCommand.openRunner(tenantOptions)
            var summaries: [ExecutionSummary] = []
            if let runner {
                let query = ExecutionQuery(
                    statuses: Set(statuses.compactMap(ExecutionsCommand.status)),
                    workflow: workflow,
                    limit: limit,
                    offset: offset
                )
                let listed = await capture { () async throws(CloacinaError) in try await runner.listExecutions(query) }
                await runner.shutdown()
                summaries = try listed.mapError(RunCommand.cliError).get()
            }
            switch output {
            case .json: print(JSONValue.array(summaries.map(\.json)).serializedString(pretty: true))
            case .text: print(ExecutionText.render(summaries), terminator: "")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one execution with its tasks and final context (the keys of `run --output json`)."
        )

        @Argument(help: "The execution id.")
        var id: String

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            let result = try await ExecutionsCommand.withResult(id, tenantOptions) { runner throws(CloacinaError) in
                try await runner.executionStatus(id)
            }
            ExecutionsCommand.show(result, output)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel an execution.",
            discussion: """
                If its host is gone, the execution is cancelled at once; if a live host runs it, the request is \
                recorded and that host stops it within a third of its lease. Cancelling a finished execution \
                changes nothing.
                """
        )

        @Argument(help: "The execution id.")
        var id: String

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            let result = try await ExecutionsCommand.withResult(id, tenantOptions) { runner throws(CloacinaError) in
                try await runner.cancel(id, reason: "cancelled with cloacina executions cancel")
            }
            ExecutionsCommand.show(result, output)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume the tenant's unfinished executions that no live host owns, and wait for them.",
            discussion: """
                Picks up executions left by a host that crashed or stopped, and executions submitted with \
                `run --no-wait`, each on the package version it is pinned to (from the package cache). Exits 0 \
                when every resumed execution completed, 1 otherwise.
                """
        )

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions
        @OptionGroup var tuning: TuningOptions

        func run() async throws {
            let tenant = try tenantOptions.tenantID()
            let configuration = try tenantOptions.configuration(tenant: tenant, tuning: tuning)
            if let path = try tenantOptions.sqlitePath(configuration.databaseURL), access(path, F_OK) != 0 {
                print(output == .json ? "[]" : "nothing to resume")
                return
            }
            let runner = try await RunCommand.open(configuration)
            let results = await capture { () async throws(CloacinaError) -> [ExecutionResult] in
                let report = try await runner.resumeUnfinished()
                for (id, reason) in report.failed { printError("execution \(id) cannot be resumed: \(reason)") }
                var results: [ExecutionResult] = []
                for id in report.resumed + report.failed.map(\.id) {
                    results.append(try await runner.waitForExecution(id))
                }
                return results
            }
            await runner.shutdown()
            let finished = try results.mapError(RunCommand.cliError).get()
            switch output {
            case .json: Swift.print(JSONValue.array(finished.map(\.json)).serializedString(pretty: true))
            case .text:
                if finished.isEmpty { Swift.print("nothing to resume") }
                for result in finished { Swift.print(ExecutionText.render(result)) }
            }
            if finished.contains(where: { $0.status != .completed }) { throw ExitCode.failure }
        }
    }

    /// Runs `body` on the tenant's runner; an execution that does not exist is a usage error.
    static func withResult(
        _ id: String,
        _ options: TenantOptions,
        _ body: (DefaultRunner) async throws(CloacinaError) -> ExecutionResult
    ) async throws -> ExecutionResult {
        let (runner, tenant) = try await openRunner(options)
        guard let runner else { throw UsageError(message: "no execution \(id) in tenant \(tenant)") }
        let result = await capture { () async throws(CloacinaError) in try await body(runner) }
        await runner.shutdown()
        return try result.mapError(RunCommand.cliError).get()
    }

    static func show(_ result: ExecutionResult, _ output: OutputFormat) {
        switch output {
        case .json: Swift.print(result.json.serializedString(pretty: true))
        case .text: Swift.print(ExecutionText.render(result), terminator: "")
        }
    }

    /// The status named `name`, in any letter case.
    static func status(_ name: String) -> ExecutionStatus? {
        ExecutionStatus.allCases.first { $0.rawValue.lowercased() == name.lowercased() }
    }
}

/// Runs `body` and returns its outcome as a value, so cleanup can happen before the error is rethrown.
func capture<T>(_ body: () async throws(CloacinaError) -> T) async -> Result<T, CloacinaError> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}
