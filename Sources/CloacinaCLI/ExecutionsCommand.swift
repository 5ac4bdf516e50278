import ArgumentParser
import Cloacina

#if canImport(Glibc)
import Glibc
#endif

/// `cloacina executions list|show|cancel|resume`: a tenant's executions.
struct ExecutionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "executions",
        abstract: "List, show, cancel and resume a tenant's executions, and show their history and task logs.",
        subcommands: [
            List.self, Show.self, Events.self, Logs.self, Cancel.self, Pause.self, Resume.self, Retry.self, Rerun.self,
        ]
    )

    /// Opens the tenant's runner without resuming anything; nil when its SQLite file does not exist (no
    /// executions, and nothing is created by looking). A tenant other than the default must exist.
    static func openRunner(_ options: TenantOptions) async throws -> (DefaultRunner?, String) {
        let tenant = try options.tenantID()
        try await TenantOptions.requireExisting(tenant, in: try options.storage(), create: false)
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

        @Option(help: "Only executions this schedule started.")
        var schedule: String?

        @Option(help: "At most this many.")
        var limit = 50

        @Option(help: "Skip this many.")
        var offset = 0

        @Option(
            help: ArgumentHelp(
                "List the page after this cursor (printed after a full page; each page costs the same at any history "
                    + "size).",
                valueName: "cursor"
            )
        )
        var after: String?

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000") }
            guard offset >= 0 else { throw ValidationError("--offset must not be negative") }
            if let after {
                guard ExecutionCursor(token: after) != nil else {
                    throw ValidationError("--after \(after) is not a cursor that `executions list` printed")
                }
                guard offset == 0 else { throw ValidationError("give --after or --offset, not both") }
            }
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
                    scheduleID: schedule,
                    after: after.flatMap(ExecutionCursor.init(token:)),
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
            if summaries.count == limit, let last = summaries.last {
                // On standard error, so the listing itself stays what it was.
                let cursor = ExecutionCursor(createdAt: last.createdAt, id: last.executionID).token
                let line = Array("next page: --after \(cursor)\n".utf8)
                _ = line.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one execution with its tasks, input and final context (the keys of `run --output json`)."
        )

        @Argument(help: "The execution id, or a prefix of it that only one execution has.")
        var id: String

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            let result = try await ExecutionsCommand.withResult(id, tenantOptions) { runner, id throws(CloacinaError) in
                try await runner.executionStatus(id)
            }
            ExecutionsCommand.show(result, output)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel an execution.",
            discussion: """
                If its host is gone, the execution is cancelled at once (exit 0); if a live host runs it, the \
                request is recorded and that host stops it (exit 0, "cancel pending"): at once on PostgreSQL, which \
                notifies it, else at its next lease renewal, within a third of its lease. \
                A finished execution is left as it is, and the command says so (exit 1).
                """
        )

        @Argument(help: "The execution id, or a prefix of it that only one execution has.")
        var id: String

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            var finishedBefore: ExecutionStatus?
            let result = try await ExecutionsCommand.withResult(id, tenantOptions) { runner, id throws(CloacinaError) in
                let current = try await runner.executionStatus(id)
                guard !current.status.isFinished else {
                    finishedBefore = current.status
                    return current
                }
                return try await runner.cancel(id, reason: "cancelled with cloacina executions cancel")
            }
            if let status = finishedBefore {
                printError(
                    "error: execution \(result.executionID) already ended (\(status.rawValue)); nothing to cancel"
                )
                throw ExitCode.failure
            }
            switch output {
            case .json:
                var json = result.json
                if case .object(var fields) = json {
                    fields["cancel_pending"] = .bool(!result.status.isFinished)
                    json = .object(fields)
                }
                Swift.print(json.serializedString(pretty: true))
            case .text:
                if result.status.isFinished {
                    Swift.print("execution \(result.executionID) \(result.status.rawValue)")
                } else {
                    Swift.print(
                        "cancel pending: execution \(result.executionID) runs in another host, which has the request "
                            + "recorded and stops it shortly (see `cloacina executions show \(result.executionID)`)"
                    )
                }
            }
        }
    }

    struct Resume: AsyncParsableCommand, LoggingCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a paused execution, or the tenant's unfinished executions that no live host owns.",
            discussion: """
                With an ID: the execution's pause ends; a live host running it starts its tasks again (at once on \
                PostgreSQL, else at its next lease renewal); when no live host owns it, this command runs it and \
                waits for it. Without: picks up executions left by a host that crashed or stopped, and executions \
                submitted with `run --no-wait` (paused ones stay paused), each on the package version it is pinned \
                to (from the package cache), and waits for them. Exits 0 when every execution run here completed, \
                1 otherwise.
                """
        )

        @Argument(help: "One execution to resume (an id, or a prefix only one execution has); default: all.")
        var id: String?

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions
        @OptionGroup var tuning: TuningOptions
        @OptionGroup(title: "Isolation") var isolation: IsolationOptions
        @OptionGroup var logging: LoggingOptions

        var showsTaskLogs: Bool { true }

        func run() async throws {
            let tenant = try tenantOptions.tenantID()
            try await TenantOptions.requireExisting(tenant, in: try tenantOptions.storage(), create: false)
            var configuration = try tenantOptions.configuration(tenant: tenant, tuning: tuning)
            configuration.invoker = try isolation.invoker()
            if let path = try tenantOptions.sqlitePath(configuration.databaseURL), access(path, F_OK) != 0 {
                print(output == .json ? "[]" : "nothing to resume")
                return
            }
            let runner = try await RunCommand.open(configuration)
            if let id {
                try await resume(id, runner)
                return
            }
            let results = await capture { () async throws(CloacinaError) -> [ExecutionResult] in
                let report = try await runner.resumeUnfinished()
                for (id, reason) in report.failed { printError("execution \(id) cannot be resumed: \(reason)") }
                for (id, reason) in report.waiting {
                    printError("execution \(id) waits for its package: \(reason); it resumes once the package is here")
                }
                var results: [ExecutionResult] = []
                for id in report.resumed + report.failed.map(\.id) {
                    results.append(try await runner.waitForExecution(id, untilPaused: true))
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
            // A paused execution is left as it is, paused, not failed.
            if finished.contains(where: { $0.status != .completed && !$0.paused }) { throw ExitCode.failure }
        }

        /// Resumes execution `prefix` and, when it runs here now, waits for it.
        private func resume(_ prefix: String, _ runner: DefaultRunner) async throws {
            let outcome = await capture { () async throws(CloacinaError) -> ExecutionResult in
                let id = try await ExecutionsCommand.executionID(prefix, in: runner)
                _ = try await runner.resume(id)
                return try await runner.waitForExecution(id, untilPaused: true)
            }
            await runner.shutdown(timeout: .zero)
            let result = try outcome.mapError(RunCommand.cliError).get()
            switch output {
            case .json: Swift.print(result.json.serializedString(pretty: true))
            case .text:
                if result.status.isFinished {
                    Swift.print(ExecutionText.render(result), terminator: "")
                } else {
                    Swift.print("resumed execution \(result.executionID); the host running it starts its tasks again")
                }
            }
            if result.status.isFinished && result.status != .completed { throw ExitCode.failure }
        }
    }

    /// Runs `body` on the tenant's runner with the execution `id` names (a whole id or a unique prefix); an
    /// execution that does not exist, or an ambiguous prefix, is a usage error.
    static func withResult(
        _ id: String,
        _ options: TenantOptions,
        _ body: (DefaultRunner, String) async throws(CloacinaError) -> ExecutionResult
    ) async throws -> ExecutionResult {
        let (runner, tenant) = try await openRunner(options)
        guard let runner else { throw UsageError(message: "no execution \(id) in tenant \(tenant)") }
        let result = await capture { () async throws(CloacinaError) in
            try await body(runner, try await executionID(id, in: runner))
        }
        await runner.shutdown()
        return try result.mapError(RunCommand.cliError).get()
    }

    /// The id of the one execution whose id is or starts with `prefix`.
    static func executionID(_ prefix: String, in runner: DefaultRunner) async throws(CloacinaError) -> String {
        // A whole id (36 characters) is looked up directly.
        guard prefix.count < 36 else { return prefix }
        guard !prefix.isEmpty else { throw CloacinaError(.invalidInput, "the execution id is empty") }
        // A range of the id index: as fast with a million executions as with ten.
        let query = ExecutionQuery(idPrefix: prefix.lowercased(), limit: 2)
        let matches = try await runner.listExecutions(query).map(\.executionID)
        switch matches.count {
        case 0: throw CloacinaError(.notFound, "no execution \(prefix) in tenant \(runner.tenant)")
        case 1: return matches[0]
        default:
            throw CloacinaError(
                .invalidInput,
                "the execution id prefix \(prefix) is ambiguous: "
                    + "\(try await runner.countExecutions(query, upTo: 1000)) executions in tenant \(runner.tenant) "
                    + "start with it (give more characters)"
            )
        }
    }

    static func show(_ result: ExecutionResult, _ output: OutputFormat) {
        switch output {
        case .json: Swift.print(result.json.serializedString(pretty: true))
        case .text: Swift.print(ExecutionText.render(result, truncating: true, showInput: true), terminator: "")
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
