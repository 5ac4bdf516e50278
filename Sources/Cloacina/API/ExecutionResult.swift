public import CloacinaStorage

/// What an execution did: its status, its final context and every task's outcome.
///
/// Built from the durable record, so it reads the same whether the execution ran in this process, another one,
/// or before a restart. `json` gives the shape `cloacina run --output json` prints.
public struct ExecutionResult: Sendable {
    /// One task's outcome.
    public struct TaskResult: Sendable, Hashable {
        public var id: String
        public var status: TaskStatus
        /// Attempts made so far.
        public var attempts: Int
        /// The last attempt's error, if it failed.
        public var error: String?
        public var startedAt: Timestamp?
        public var completedAt: Timestamp?

        /// How long the last attempt took, once it finished.
        public var duration: Duration? {
            guard let startedAt, let completedAt else { return nil }
            return completedAt.duration(since: startedAt)
        }
    }

    public var executionID: String
    public var tenant: String
    public var workflow: String
    public var status: ExecutionStatus
    /// The package the execution is pinned to; nil for workflows compiled into the host program.
    public var package: PackageReference?
    /// The final context once the execution ended (also for failed and cancelled ones: what completed tasks
    /// produced).
    /// The context the execution was started with.
    public var inputContext: [String: JSONValue]?
    public var finalContext: [String: JSONValue]?
    public var error: String?
    public var tasks: [TaskResult]
    public var createdAt: Timestamp
    public var startedAt: Timestamp?
    public var completedAt: Timestamp?
    /// Whether the execution is paused (no task of it starts until it is resumed).
    public var paused: Bool
    /// Whether its cancellation was requested and has not taken effect yet.
    public var cancelRequested: Bool
    /// The execution this one retries from its failure, if it is a retry.
    public var retryOf: String?
    /// The execution this one runs again from the start, if it is a re-run.
    public var rerunOf: String?
    /// The schedule that started it and the fire time it is for, if a schedule did.
    public var scheduleID: String?
    public var scheduledFor: Timestamp?

    /// From start to end, once the execution ended.
    public var duration: Duration? {
        guard let completedAt else { return nil }
        return completedAt.duration(since: startedAt ?? createdAt)
    }

    init(record: ExecutionRecord, tasks: [TaskRecord], tenant: String) {
        let input = try? JSONValue(parsing: record.input).objectValue
        self.init(
            record: record,
            tasks: tasks,
            tenant: tenant,
            input: input,
            finalContext: record.finalContext.flatMap { ContextDelta.finalContext(stored: $0, input: input) }
        )
    }

    /// From a record whose contexts are at hand already as objects (a running execution's).
    init(
        record: ExecutionRecord,
        tasks: [TaskRecord],
        tenant: String,
        input: [String: JSONValue]?,
        finalContext: [String: JSONValue]?
    ) {
        self.executionID = record.id
        self.tenant = tenant
        self.workflow = record.workflow
        self.status = record.status
        self.package = record.package
        self.inputContext = input
        self.finalContext = finalContext
        self.error = record.error
        self.tasks = tasks.sorted { $0.position < $1.position }.map {
            TaskResult(
                id: $0.taskID,
                status: $0.status,
                attempts: $0.attempt,
                error: $0.error,
                startedAt: $0.startedAt,
                completedAt: $0.completedAt
            )
        }
        self.createdAt = record.createdAt
        self.startedAt = record.startedAt
        self.completedAt = record.completedAt
        self.paused = record.paused
        self.cancelRequested = record.cancelRequested && !record.status.isFinished
        self.retryOf = record.retryOf
        self.rerunOf = record.rerunOf
        self.scheduleID = record.scheduleID
        self.scheduledFor = record.scheduledFor
    }

    /// The result as JSON: `execution_id`, `tenant`, `workflow`, `status`, `package` (`name`, `version`, `sha256`;
    /// null for embedded workflows), `input_context`, `final_context`, `tasks` (`id`, `status`, `attempts`, `error`,
    /// `duration_ms`), `duration_ms`, `error`, `paused`, `cancel_requested`, `retry_of` and `rerun_of` (null
    /// unless it derives from another execution), `schedule_id` and `scheduled_for` (null unless a schedule started
    /// it), and the timestamps in milliseconds since the epoch.
    public var json: JSONValue {
        [
            "paused": .bool(paused),
            "cancel_requested": .bool(cancelRequested),
            "retry_of": retryOf.map(JSONValue.string) ?? .null,
            "rerun_of": rerunOf.map(JSONValue.string) ?? .null,
            "schedule_id": scheduleID.map(JSONValue.string) ?? .null,
            "scheduled_for": scheduledFor.map { .int(Int($0.milliseconds)) } ?? .null,
            "execution_id": .string(executionID),
            "tenant": .string(tenant),
            "workflow": .string(workflow),
            "status": .string(status.rawValue),
            "package": package.map(Self.json) ?? .null,
            "input_context": inputContext.map(JSONValue.object) ?? .null,
            "final_context": finalContext.map(JSONValue.object) ?? .null,
            "error": error.map(JSONValue.string) ?? .null,
            "tasks": .array(
                tasks.map { task in
                    [
                        "id": .string(task.id),
                        "status": .string(task.status.rawValue),
                        "attempts": .int(task.attempts),
                        "error": task.error.map(JSONValue.string) ?? .null,
                        "duration_ms": task.duration.map { .int(Int($0.inMilliseconds)) } ?? .null,
                    ]
                }
            ),
            "duration_ms": duration.map { .int(Int($0.inMilliseconds)) } ?? .null,
            "created_at": .int(Int(createdAt.milliseconds)),
            "started_at": startedAt.map { .int(Int($0.milliseconds)) } ?? .null,
            "completed_at": completedAt.map { .int(Int($0.milliseconds)) } ?? .null,
        ]
    }

    static func json(_ package: PackageReference) -> JSONValue {
        [
            "name": .string(package.name),
            "version": .string(package.version),
            "sha256": package.sha256.map(JSONValue.string) ?? .null,
        ]
    }
}

/// One line of an execution listing: no tasks, no contexts.
public struct ExecutionSummary: Sendable {
    public var executionID: String
    public var tenant: String
    public var workflow: String
    public var status: ExecutionStatus
    public var package: PackageReference?
    public var error: String?
    public var createdAt: Timestamp
    public var startedAt: Timestamp?
    public var completedAt: Timestamp?
    public var paused: Bool
    public var retryOf: String?
    public var rerunOf: String?
    public var scheduleID: String?
    public var scheduledFor: Timestamp?

    init(record: ExecutionRecord, tenant: String) {
        executionID = record.id
        self.tenant = tenant
        workflow = record.workflow
        status = record.status
        package = record.package
        error = record.error
        createdAt = record.createdAt
        startedAt = record.startedAt
        completedAt = record.completedAt
        paused = record.paused
        retryOf = record.retryOf
        rerunOf = record.rerunOf
        scheduleID = record.scheduleID
        scheduledFor = record.scheduledFor
    }

    /// From start to end, once the execution ended.
    public var duration: Duration? {
        guard let completedAt else { return nil }
        return completedAt.duration(since: startedAt ?? createdAt)
    }

    public var json: JSONValue {
        [
            "execution_id": .string(executionID),
            "tenant": .string(tenant),
            "workflow": .string(workflow),
            "status": .string(status.rawValue),
            "package": package.map(ExecutionResult.json) ?? .null,
            "error": error.map(JSONValue.string) ?? .null,
            "paused": .bool(paused),
            "retry_of": retryOf.map(JSONValue.string) ?? .null,
            "rerun_of": rerunOf.map(JSONValue.string) ?? .null,
            "schedule_id": scheduleID.map(JSONValue.string) ?? .null,
            "scheduled_for": scheduledFor.map { .int(Int($0.milliseconds)) } ?? .null,
            "duration_ms": duration.map { .int(Int($0.inMilliseconds)) } ?? .null,
            "created_at": .int(Int(createdAt.milliseconds)),
            "started_at": startedAt.map { .int(Int($0.milliseconds)) } ?? .null,
            "completed_at": completedAt.map { .int(Int($0.milliseconds)) } ?? .null,
        ]
    }
}
