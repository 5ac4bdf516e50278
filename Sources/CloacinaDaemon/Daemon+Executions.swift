public import Cloacina
internal import Synchronization

extension Daemon {
    /// Starts `workflow` for `tenant` with `context` as its input; returns the execution id once it is durably
    /// recorded, and its status then (pending, running, or already ended for a very short one). Throws
    /// `unavailable` when the host already holds its most unfinished executions.
    public func submit(
        _ tenant: TenantName,
        workflow: String,
        context: [String: JSONValue]
    ) async throws(CloacinaError) -> (id: String, status: ExecutionStatus) {
        try refuseIfQuarantined(workflow)
        return try await withRunner(tenant, admit: true) { runner throws(CloacinaError) in
            let id = try await runner.executeAsync(workflow, context: context)
            return (id, (try? await runner.executionStatus(id).status) ?? .pending)
        }
    }

    /// Cancels one of `tenant`'s executions without waiting for it to end (also while draining); returns its state
    /// then. Throws `notFound` for an unknown execution and `conflict` for one that already ended.
    public func cancel(_ tenant: TenantName, id: String, reason: String) async throws(CloacinaError) -> ExecutionResult
    {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            let current = try await runner.executionStatus(id)
            guard !current.status.isFinished else {
                throw CloacinaError(
                    .conflict,
                    "execution \(id) already ended (\(current.status.rawValue)); nothing to cancel"
                )
            }
            return try await runner.cancel(id, reason: reason, waitForEnd: false)
        }
    }

    /// `tenant`'s execution `id`'s recorded history after sequence number `after`, oldest first, at most `limit`
    /// events when given; `notFound` for an unknown execution.
    public func events(
        _ tenant: TenantName,
        id: String,
        after: Int64 = 0,
        limit: Int? = nil
    ) async throws(CloacinaError) -> [ExecutionEvent] {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            let events = try await runner.events(of: id, after: after, limit: limit)
            // An execution has at least its creation event; none means there is no such execution.
            if events.isEmpty { _ = try await runner.executionStatus(id) }
            return events
        }
    }

    /// Runs `workflow` for `tenant` and waits for its result (admitted like ``submit(_:workflow:context:)``).
    /// Cancelling the calling task ends the wait (`cancelled`); the execution goes on.
    public func run(
        _ tenant: TenantName,
        workflow: String,
        context: [String: JSONValue]
    ) async throws(CloacinaError) -> ExecutionResult {
        try refuseIfQuarantined(workflow)
        return try await withRunner(tenant, admit: true) { runner throws(CloacinaError) in
            try await runner.execute(workflow, context: context)
        }
    }

    /// ``run(_:workflow:context:)`` for a tenant id and a context as JSON bytes, both checked here.
    public func run(
        tenant: String,
        workflow: String,
        contextJSON: [UInt8]
    ) async throws(CloacinaError)
        -> ExecutionResult
    {
        try await run(self.tenant(tenant), workflow: workflow, context: try Self.context(contextJSON))
    }

    /// One execution of `tenant`, with its tasks.
    public func execution(_ tenant: TenantName, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            try await runner.executionStatus(id)
        }
    }

    /// Waits until the execution ends (when it runs in this host) and returns it with its tasks. Cancelling the
    /// calling task ends the wait (`cancelled`).
    public func waitForExecution(_ tenant: TenantName, id: String) async throws(CloacinaError) -> ExecutionResult {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            try await runner.waitForExecution(id)
        }
    }

    /// `tenant`'s executions matching `query`, newest first, and how many match in all, counted up to
    /// `countingUpTo` when given (nil when more match), not at all when `count` is false.
    public func executions(
        _ tenant: TenantName,
        query: ExecutionQuery,
        count: Bool = true,
        countingUpTo limit: Int? = nil
    ) async throws(CloacinaError) -> (executions: [ExecutionSummary], total: Int?) {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            let executions = try await runner.listExecutions(query)
            guard count else { return (executions, nil) }
            let total = try await runner.countExecutions(query, upTo: limit.map { $0 + 1 })
            return (executions, limit.map { total > $0 } == true ? nil : total)
        }
    }

    /// `json` as a context object.
    private static func context(_ json: [UInt8]) throws(CloacinaError) -> [String: JSONValue] {
        guard let value = try? JSONValue(parsing: json), case .object(let object) = value else {
            throw CloacinaError(.invalidInput, "the context must be a JSON object")
        }
        return object
    }

    /// What every file of the drop directory and the host serve: `{generation, packages: [file states], host:
    /// [{name, version, workflows}]}`.
    public func workflowsJSON() -> JSONValue {
        let (report, host) = state.withLock { state in
            (
                ReloadReport(generation: state.generation, summary: ReloadSummary(generation: state.generation.number)),
                state.hostPackages
            )
        }
        let quarantine = state.withLock { $0.quarantine.entries }
        return [
            "generation": .int(report.generation),
            "packages": .array(
                report.files.map { file in
                    guard case .object(var fields) = file.json else { return file.json }
                    fields["quarantine"] = file.serving?.sha256.flatMap { quarantine[$0]?.json } ?? .null
                    return .object(fields)
                }
            ),
            "quarantined": .array(quarantined.map(\.json)),
            "host": .array(
                host.map { package in
                    [
                        "name": .string(package.info.name),
                        "version": .string(package.info.version),
                        "workflows": .array(package.workflows.map { .string($0.name) }),
                    ]
                }
            ),
        ]
    }
}

extension Daemon.State {
    /// Counts one more submission in progress, if the host holds fewer than `limit` unfinished executions
    /// (the tenants' runners' and the submissions in progress); throws `unavailable` otherwise.
    mutating func admit(limit: Int) throws(CloacinaError) {
        guard held < limit else {
            throw CloacinaError(
                .unavailable,
                "the host holds \(limit) unfinished executions, its limit; try again later"
            )
        }
        admitting += 1
    }

    /// The unfinished executions held now: the runners' and the submissions in progress.
    var held: Int { admitting + served.values.reduce(0) { $0 + $1.runner.activeExecutionCount } }

    /// How many more unfinished executions fit under `limit` now.
    func room(limit: Int) -> Int { max(limit - held, 0) }

    /// Throws `unavailable` unless `count` more unfinished executions fit under `limit` now (a backfill's).
    func room(for count: Int, limit: Int) throws(CloacinaError) {
        let held = self.held
        guard held + count <= limit else {
            throw CloacinaError(
                .unavailable,
                "the backfill would start \(count) executions; the host holds \(held) unfinished of its limit of "
                    + "\(limit); try again later or backfill a shorter range"
            )
        }
    }
}

extension Daemon {
    /// `tenant`'s execution `id`'s history as it is recorded (``DefaultRunner/followEvents(of:after:interval:)``);
    /// also while draining.
    public func followEvents(
        _ tenant: TenantName,
        id: String,
        after: Int64
    ) async throws(CloacinaError) -> ExecutionEventFeed {
        try await runner(for: tenant, intake: false, admit: false).followEvents(of: id, after: after)
    }
}

extension Daemon {
    /// The log lines of `tenant`'s execution matching `query` (``DefaultRunner/taskLogs(_:)``), also while
    /// draining; `notFound` for an unknown execution or task.
    public func taskLogs(_ tenant: TenantName, _ query: TaskLogQuery) async throws(CloacinaError) -> TaskLogPage {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in
            try await runner.taskLogs(query)
        }
    }
}

extension Daemon {
    /// The log lines of `tenant`'s execution matching `query` as they are stored
    /// (``DefaultRunner/followTaskLogs(_:interval:)``), also while draining; `notFound` for an unknown execution or
    /// task.
    public func followTaskLogs(_ tenant: TenantName, _ query: TaskLogQuery) async throws(CloacinaError) -> TaskLogFeed {
        try await runner(for: tenant, intake: false, admit: false).followTaskLogs(query)
    }
}
