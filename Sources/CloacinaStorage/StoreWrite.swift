/// One change to the durable record. A store applies a batch of them in one transaction, in order.
public enum StoreWrite: Sendable, Hashable {
    /// A new execution with all its tasks, owned by the writer.
    case insertExecution(ExecutionRecord, tasks: [TaskRecord])
    /// The execution's new state; nil fields keep their stored value.
    case updateExecution(ExecutionUpdate)
    /// A task's new state, replacing every field of its record but identity and position.
    case updateTask(TaskRecord)
    case appendEvent(ExecutionEvent)
    /// The log lines of an attempt, each a row, and the count of those dropped added to the task's; written in the
    /// batch that records the attempt's end, and never for an attempt that logged nothing.
    case appendLogs(TaskLogBatch)

    /// The execution the write is about.
    public var executionID: String {
        switch self {
        case .insertExecution(let record, _): return record.id
        case .updateExecution(let update): return update.id
        case .updateTask(let task): return task.executionID
        case .appendEvent(let event): return event.executionID
        case .appendLogs(let batch): return batch.executionID
        }
    }

    /// The bytes of context the write carries (inputs, outputs, final contexts, log lines), to tell large batches apart.
    public var contextBytes: Int {
        switch self {
        case .insertExecution(let record, _): return record.input.count
        case .updateExecution(let update): return update.finalContext?.count ?? 0
        case .updateTask(let task): return task.output?.count ?? 0
        case .appendEvent: return 0
        case .appendLogs(let batch): return batch.messageBytes
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

/// Which executions to list: filters, then newest first, paged by a cursor (or an offset).
public struct ExecutionQuery: Sendable, Hashable {
    /// Only these statuses; empty for all.
    public var statuses: Set<ExecutionStatus>
    /// Only this workflow.
    public var workflow: String?
    /// Only executions whose id starts with this.
    public var idPrefix: String?
    /// Only executions this schedule started.
    public var scheduleID: String?
    /// Only executions listed after this one (older, or as old with a smaller id): the next page of a listing, found
    /// by the index whatever the history's size, unlike ``offset``.
    public var after: ExecutionCursor?
    public var limit: Int
    public var offset: Int

    public init(
        statuses: Set<ExecutionStatus> = [],
        workflow: String? = nil,
        idPrefix: String? = nil,
        scheduleID: String? = nil,
        after: ExecutionCursor? = nil,
        limit: Int = 100,
        offset: Int = 0
    ) {
        self.statuses = statuses
        self.workflow = workflow
        self.idPrefix = idPrefix
        self.scheduleID = scheduleID
        self.after = after
        self.limit = limit
        self.offset = offset
    }
}

/// A place in a listing (newest first): the creation time and id of the last execution of a page.
public struct ExecutionCursor: Sendable, Hashable {
    public var createdAt: Timestamp
    public var id: String

    public init(createdAt: Timestamp, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    /// The cursor after `record`.
    public init(after record: ExecutionRecord) {
        self.init(createdAt: record.createdAt, id: record.id)
    }

    /// The cursor as clients pass it back: `MILLISECONDS.ID`.
    public var token: String { "\(createdAt.milliseconds).\(id)" }

    /// Reads a ``token`` (1 to 18 ASCII digits, a dot, an id of 1 to 200 Unicode scalars other than NUL, which
    /// PostgreSQL text cannot hold: the pattern the API's document gives); nil when it is not one.
    public init?(token: String) {
        guard let dot = token.utf8.firstIndex(of: UInt8(ascii: ".")) else { return nil }
        let digits = token.utf8[..<dot]
        guard (1...18).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }),
            let milliseconds = Int64(String(token[..<dot]))
        else { return nil }
        let id = String(token[token.index(after: dot)...])
        guard (1...200).contains(id.unicodeScalars.count), !id.unicodeScalars.contains("\0") else { return nil }
        self.init(createdAt: Timestamp(milliseconds: milliseconds), id: id)
    }
}
