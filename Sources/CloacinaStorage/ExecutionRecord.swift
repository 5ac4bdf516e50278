/// The durable record of one execution, as a store keeps it.
public struct ExecutionRecord: Sendable, Hashable {
    /// The largest context a store keeps in the execution's own row; larger ones go in a row of their own, written
    /// once, so the row that changes on every transition and lease renewal stays small (SQLite rewrites a whole row,
    /// overflow pages included, on any update) while small ones cost no extra row.
    public static let inlineContextBytes = 4096

    public var id: String
    public var workflow: String
    /// The package the execution is pinned to; nil for workflows embedded in the host program.
    public var package: PackageReference?
    /// The workflow definition as JSON, so the execution can be shown and resumed without its package loaded.
    public var definition: [UInt8]
    public var status: ExecutionStatus
    /// The input context, a JSON object.
    public var input: [UInt8]
    /// The final context once the execution ended: a JSON object, or (as the engine writes it) a one-element JSON
    /// array holding the final context's changes relative to ``input``, `[{"set": {...}, "removed": [...]}]`.
    public var finalContext: [UInt8]?
    public var error: String?
    public var createdAt: Timestamp
    public var startedAt: Timestamp?
    public var completedAt: Timestamp?
    /// The runner that owns the execution, and until when its claim holds unless renewed.
    public var owner: String?
    public var leaseExpiresAt: Timestamp?
    /// Whether someone asked for the execution to be cancelled.
    public var cancelRequested: Bool
    /// Whether the execution is paused: no task of it starts until it is resumed (running attempts finish).
    public var paused: Bool
    /// The execution this one retries: it reused the outputs of that one's completed tasks.
    public var retryOf: String?
    /// The execution this one runs again from the start, with the same input.
    public var rerunOf: String?
    /// The schedule that started it, and the fire time it is for (set by ``ExecutionStore/fireSchedule(_:owner:)``;
    /// a plain insert leaves them nil).
    public var scheduleID: String?
    public var scheduledFor: Timestamp?

    public init(
        id: String,
        workflow: String,
        package: PackageReference?,
        definition: [UInt8],
        status: ExecutionStatus,
        input: [UInt8],
        finalContext: [UInt8]? = nil,
        error: String? = nil,
        createdAt: Timestamp,
        startedAt: Timestamp? = nil,
        completedAt: Timestamp? = nil,
        owner: String? = nil,
        leaseExpiresAt: Timestamp? = nil,
        cancelRequested: Bool = false,
        paused: Bool = false,
        retryOf: String? = nil,
        rerunOf: String? = nil,
        scheduleID: String? = nil,
        scheduledFor: Timestamp? = nil
    ) {
        self.id = id
        self.workflow = workflow
        self.package = package
        self.definition = definition
        self.status = status
        self.input = input
        self.finalContext = finalContext
        self.error = error
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.owner = owner
        self.leaseExpiresAt = leaseExpiresAt
        self.cancelRequested = cancelRequested
        self.paused = paused
        self.retryOf = retryOf
        self.rerunOf = rerunOf
        self.scheduleID = scheduleID
        self.scheduledFor = scheduledFor
    }
}

/// Which package an execution runs: name, version and the SHA-256 of its file.
public struct PackageReference: Sendable, Hashable {
    public var name: String
    public var version: String
    /// SHA-256 of the package file, or nil for a package compiled into the host.
    public var sha256: String?

    public init(name: String, version: String, sha256: String?) {
        self.name = name
        self.version = version
        self.sha256 = sha256
    }
}

/// The durable record of one task of an execution.
public struct TaskRecord: Sendable, Hashable {
    public var executionID: String
    public var taskID: String
    /// The task's position in the workflow's declaration order.
    public var position: Int
    public var status: TaskStatus
    /// The attempt running or last run; 0 before the first.
    public var attempt: Int
    public var maxAttempts: Int
    /// When the next attempt is due, while the task is retrying.
    public var nextRetryAt: Timestamp?
    public var startedAt: Timestamp?
    public var completedAt: Timestamp?
    public var error: String?
    /// The task's output context (a JSON object) once it completed.
    public var output: [UInt8]?

    public init(
        executionID: String,
        taskID: String,
        position: Int,
        status: TaskStatus,
        attempt: Int = 0,
        maxAttempts: Int,
        nextRetryAt: Timestamp? = nil,
        startedAt: Timestamp? = nil,
        completedAt: Timestamp? = nil,
        error: String? = nil,
        output: [UInt8]? = nil
    ) {
        self.executionID = executionID
        self.taskID = taskID
        self.position = position
        self.status = status
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.nextRetryAt = nextRetryAt
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.error = error
        self.output = output
    }
}

/// One entry of an execution's append-only history.
public struct ExecutionEvent: Sendable, Hashable {
    /// Assigned by the store, increasing; 0 on events not yet stored.
    public var sequence: Int64
    public var executionID: String
    public var taskID: String?
    /// What happened.
    public var kind: Kind
    public var attempt: Int?
    /// A message or detail (an error text, a delay).
    public var detail: String?
    public var at: Timestamp

    public init(
        sequence: Int64 = 0,
        executionID: String,
        taskID: String? = nil,
        kind: Kind,
        attempt: Int? = nil,
        detail: String? = nil,
        at: Timestamp
    ) {
        self.sequence = sequence
        self.executionID = executionID
        self.taskID = taskID
        self.kind = kind
        self.attempt = attempt
        self.detail = detail
        self.at = at
    }
}
