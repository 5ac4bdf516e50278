import ArgumentParser
import Cloacina

/// `cloacina schedules create|list|show|pause|resume|delete|backfill`: a tenant's cron schedules.
///
/// The commands work on the tenant's store; the host serving the tenant (`cloacina serve`) fires the schedules.
/// It hears of a change at once: on PostgreSQL through the store's notifications, on SQLite files through a SIGHUP
/// these commands send it (found by its PID file in the data directory).
struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "Create, list, show, pause, resume, delete and backfill a tenant's cron schedules.",
        subcommands: [Create.self, List.self, Show.self, Pause.self, Resume.self, Delete.self, Backfill.self]
    )

    /// Runs `body` with the tenant's runner (with `package` registered, when given), and tells the serving host.
    static func withRunner<T>(
        _ options: TenantOptions,
        package workflow: String? = nil,
        workflows: String? = nil,
        notify: Bool = false,
        _ body: (DefaultRunner) async throws(CloacinaError) -> T
    ) async throws -> T {
        let tenant = try options.tenantID()
        try await TenantOptions.requireExisting(tenant, in: try options.storage(), create: false)
        var configuration = try options.configuration(tenant: tenant, tuning: nil)
        configuration.resumeUnfinished = false
        if let workflow {
            configuration.packages = [
                try await RunCommand.provider(
                    of: workflow,
                    in: workflows ?? Environment.workflowsDirectory,
                    configuration,
                    options
                )
            ]
        } else {
            try options.prepareDataDirectory()
        }
        let runner = try await RunCommand.open(configuration)
        let result = await capture { () async throws(CloacinaError) in try await body(runner) }
        await runner.shutdown()
        let value = try result.mapError(RunCommand.cliError).get()
        // SQLite files: the host hears of the change by a reload (PostgreSQL notified it already).
        if notify, case .sqliteFiles = try options.storage() {
            _ = try? ReloadCommand.signalHost(pidFile: nil, dataDir: options.dataDir)
        }
        return value
    }

    static func print(_ info: ScheduleInfo, _ output: OutputFormat) {
        switch output {
        case .json: Swift.print(info.json.serializedString(pretty: true))
        case .text: Swift.print(ScheduleText.render(info), terminator: "")
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a cron schedule that starts a workflow.",
            discussion: """
                The cron expression has five fields (minute hour day-of-month month day-of-week), or six with a \
                leading seconds field, or is a macro (@hourly, @daily, @weekly, @monthly, @yearly). It is read on \
                the wall clock of --time-zone: a time the clocks skip fires once at the next valid time, a time \
                they show twice fires once. Catch-up: what a host that was down does with the fire times it \
                missed (skip: run the latest; all: run each, at most --catch-up-cap; none). Overlap: what a fire \
                time does while the schedule's previous run goes on (allow, skip, queue, cancel-previous). \
                Nothing is written when anything is wrong (exit 2).
                """
        )

        @Argument(help: "The schedule's id (letters, digits, '_', '.', '-').")
        var id: String

        @Option(help: "The workflow each fire time starts.")
        var workflow: String

        @Option(help: "The cron expression (quote it).")
        var cron: String

        @Option(help: "An IANA time zone (default: UTC).")
        var timeZone = "UTC"

        @Option(help: "The input context of each run, a JSON object (default: {}).")
        var context: String?

        @Option(help: ArgumentHelp("Read the input context from a file, or - for standard input.", valueName: "path"))
        var contextFile: String?

        @Option(
            help: ArgumentHelp("No fire time before this instant (ISO 8601 or milliseconds).", valueName: "instant")
        )
        var start: String?

        @Option(help: ArgumentHelp("No fire time after this instant.", valueName: "instant"))
        var end: String?

        @Option(help: "skip (default), all or none.")
        var catchUp = CatchUpPolicy.defaultPolicy.rawValue

        @Option(help: "The most missed fire times --catch-up all runs, and the most a queue keeps (default: 100).")
        var catchUpCap = CatchUpPolicy.defaultCap

        @Option(help: "allow (default), skip, queue or cancel-previous.")
        var overlap = OverlapPolicy.defaultPolicy.rawValue

        @Flag(help: "Create it paused.")
        var paused = false

        @Option(
            help:
                "Drop directory of the workflow's package (default: $CLOACINA_WORKFLOWS_DIR, else .cloacina/workflows)."
        )
        var workflows: String?

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            guard let catchUpPolicy = CatchUpPolicy(rawValue: catchUp) else {
                throw UsageError(message: "--catch-up must be skip, all or none, not \"\(catchUp)\"")
            }
            guard let overlapPolicy = OverlapPolicy(rawValue: overlap) else {
                throw UsageError(message: "--overlap must be allow, skip, queue or cancel-previous, not \"\(overlap)\"")
            }
            var spec = ScheduleSpec(
                id: id,
                workflow: workflow,
                cron: cron,
                timeZone: timeZone,
                catchUp: catchUpPolicy,
                catchUpCap: catchUpCap,
                overlap: overlapPolicy,
                paused: paused
            )
            if context != nil && contextFile != nil {
                throw UsageError(message: "give the context with --context or --context-file, not both")
            }
            if let context { spec.input = Array(context.utf8) }
            if let contextFile { spec.input = try InputFile.read(contextFile, what: "context file") }
            spec.startsAt = try start.map(SchedulesCommand.instant)
            spec.endsAt = try end.map(SchedulesCommand.instant)
            // The schedule is checked before its workflow's package is looked for: a bad expression is named first.
            do throws(ScheduleError) {
                _ = try CronSchedule(
                    cron,
                    timeZone: timeZone,
                    start: spec.startsAt?.milliseconds,
                    end: spec.endsAt?.milliseconds
                )
            } catch {
                throw UsageError(message: "schedule \(id): \(error.message)")
            }
            let created = try await SchedulesCommand.withRunner(
                tenantOptions,
                package: workflow,
                workflows: workflows,
                notify: true
            ) { runner throws(CloacinaError) in try await runner.createSchedule(spec) }
            SchedulesCommand.print(created, output)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the schedules with their next fire times.")

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            let schedules = try await SchedulesCommand.withRunner(tenantOptions) { runner throws(CloacinaError) in
                try await runner.schedules()
            }
            switch output {
            case .json:
                let json = JSONValue.object(["schedules": .array(schedules.map(\.json))])
                Swift.print(json.serializedString(pretty: true))
            case .text: Swift.print(ScheduleText.table(schedules), terminator: "")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a schedule.")

        @OptionGroup var schedule: ScheduleOptions

        func run() async throws {
            try await schedule.show { runner, id throws(CloacinaError) in try await runner.schedule(id) }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a schedule: its fire times do not run until it is resumed (and are not caught up)."
        )

        @OptionGroup var schedule: ScheduleOptions

        func run() async throws {
            try await schedule.show(notify: true) { runner, id throws(CloacinaError) in
                try await runner.setSchedulePaused(id, true)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused schedule from its next fire time.")

        @OptionGroup var schedule: ScheduleOptions

        func run() async throws {
            try await schedule.show(notify: true) { runner, id throws(CloacinaError) in
                try await runner.setSchedulePaused(id, false)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a schedule (the executions it started stay)."
        )

        @Argument(help: "The schedule's id.")
        var id: String

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            try await SchedulesCommand.withRunner(tenantOptions, notify: true) { runner throws(CloacinaError) in
                try await runner.deleteSchedule(id)
            }
            Swift.print("deleted schedule \(id)")
        }
    }

    struct Backfill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an execution for every fire time from FROM through TO that has none.",
            discussion: """
                Both ends are included (ISO 8601 instants, dates, or milliseconds). At most the schedule's \
                catch-up cap of fire times: a longer range is refused and nothing is recorded (exit 2). The host \
                serving the tenant runs the executions (it is told at once); without one running, they start when \
                `cloacina serve` does.
                """
        )

        @Argument(help: "The schedule's id.")
        var id: String

        @Argument(help: "The first instant of the range.")
        var from: String

        @Argument(help: "The last instant of the range.")
        var to: String

        @Option(
            help:
                "Drop directory of the workflow's package (default: $CLOACINA_WORKFLOWS_DIR, else .cloacina/workflows)."
        )
        var workflows: String?

        @Option(help: "Output format: text or json.")
        var output: OutputFormat = .text

        @OptionGroup var tenantOptions: TenantOptions

        func run() async throws {
            let from = try SchedulesCommand.instant(from)
            let through = try SchedulesCommand.instant(to)
            let workflow = try await SchedulesCommand.withRunner(tenantOptions) { runner throws(CloacinaError) in
                try await runner.schedule(id).record.workflow
            }
            let started = try await SchedulesCommand.withRunner(
                tenantOptions,
                package: workflow,
                workflows: workflows,
                notify: true
            ) { runner throws(CloacinaError) in try await runner.backfill(id, from: from, through: through) }
            switch output {
            case .json:
                let ids = JSONValue.array(started.map(JSONValue.string))
                Swift.print(
                    JSONValue.object(["schedule_id": .string(id), "execution_ids": ids]).serializedString(pretty: true)
                )
            case .text:
                Swift.print("recorded \(started.count) execution\(started.count == 1 ? "" : "s") of schedule \(id)")
                for execution in started { Swift.print(execution) }
            }
        }
    }

    static func instant(_ text: String) throws -> Timestamp {
        do throws(ScheduleError) {
            return Timestamp(milliseconds: try CronSchedule.instant(text))
        } catch {
            throw UsageError(message: error.message)
        }
    }
}

/// What `schedules show|pause|resume` take: the schedule's id, the output format and the tenant.
struct ScheduleOptions: ParsableArguments {
    @Argument(help: "The schedule's id.")
    var id: String

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @OptionGroup var tenantOptions: TenantOptions

    /// Runs `body` on the schedule and prints the schedule it returns.
    func show(
        notify: Bool = false,
        _ body: (DefaultRunner, String) async throws(CloacinaError) -> ScheduleInfo
    ) async throws {
        let info = try await SchedulesCommand.withRunner(tenantOptions, notify: notify) {
            runner throws(CloacinaError) in try await body(runner, id)
        }
        SchedulesCommand.print(info, output)
    }
}
