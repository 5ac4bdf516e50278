/// One change to the durable record. A store applies a batch of them in one transaction, in order.
public enum StoreWrite: Sendable, Hashable {
    /// A new execution with all its tasks, owned by the writer.
    case insertExecution(ExecutionRecord, tasks: [TaskRecord])
    /// The execution's new state; nil fields keep their stored value.
    case updateExecution(ExecutionUpdate)
    /// A task's new state, replacing every field of its record but identity and position.
    case updateTask(TaskRecord)
    case appendEvent(ExecutionEvent)

    /// The execution the write is about.
    public var executionID: String {
        switch self {
        case .insertExecution(let record, _): return record.id
        case .updateExecution(let update): return update.id
        case .updateTask(let task): return task.executionID
        case .appendEvent(let event): return event.executionID
        }
    }

    /// The bytes of context the write carries (inputs, outputs, final contexts), to tell large batches apart.
    public var contextBytes: Int {
        switch self {
        case .insertExecution(let record, _): return record.input.count
        case .updateExecution(let update): return update.finalContext?.count ?? 0
        case .updateTask(let task): return task.output?.count ?? 0
        case .appendEvent: return 0
        }
    }
}

/// The fields of an execution a runner changes as it runs.
public struct ExecutionUpdate: Sendable, Hashable {
    public var id: String
    public var status: ExecutionStatus
    public var startedAt: Timestamp?
    public var completedAt: Timestamp?
    public var finalContext: [UInt8]?
    public var error: String?

    public init(
        id: String,
        status: ExecutionStatus,
        startedAt: Timestamp? = nil,
        completedAt: Timestamp? = nil,
        finalContext: [UInt8]? = nil,
        error: String? = nil
    ) {
        self.id = id
        self.status = status
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.finalContext = finalContext
        self.error = error
    }
}

/// Which executions to list: filters, then newest first, paged.
public struct ExecutionQuery: Sendable, Hashable {
    /// Only these statuses; empty for all.
    public var statuses: Set<ExecutionStatus>
    /// Only this workflow.
    public var workflow: String?
    public var limit: Int
    public var offset: Int

    public init(statuses: Set<ExecutionStatus> = [], workflow: String? = nil, limit: Int = 100, offset: Int = 0) {
        self.statuses = statuses
        self.workflow = workflow
        self.limit = limit
        self.offset = offset
    }
}
