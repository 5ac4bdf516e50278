/// One line a task logged during an attempt (`host->log`, `ctx.log`), as a store keeps it.
public struct TaskLogLine: Sendable, Hashable {
    /// Assigned by the store, increasing across the tenant's lines.
    public var sequence: Int64
    public var executionID: String
    public var taskID: String
    public var attempt: Int
    public var level: Level
    /// The text as kept: passwords redacted, cut to the runner's bound (with a marker saying so).
    public var message: String
    public var at: Timestamp

    public init(
        sequence: Int64,
        executionID: String,
        taskID: String,
        attempt: Int,
        level: Level,
        message: String,
        at: Timestamp
    ) {
        self.sequence = sequence
        self.executionID = executionID
        self.taskID = taskID
        self.attempt = attempt
        self.level = level
        self.message = message
        self.at = at
    }

    /// A line's severity, as the host's logger names it; the raw values are what stores persist.
    public enum Level: String, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical

        /// The level a store read from a log row of `executionID`; an unknown value means the data is corrupt.
        public init(stored value: String, executionID: String) throws(StoreError) {
            guard let level = Level(rawValue: value) else {
                throw StoreError(.corrupt, "a log line of execution \(executionID) has unknown level \"\(value)\"")
            }
            self = level
        }
    }
}

/// The lines one attempt of a task logged, written with the write that records the attempt's end (``StoreWrite/appendLogs(_:)``).
public struct TaskLogBatch: Sendable, Hashable {
    public var executionID: String
    public var taskID: String
    public var attempt: Int
    /// The lines kept, in the order logged.
    public var entries: [Entry]
    /// How many more lines the attempt logged than its bound kept; added to the task's count.
    public var dropped: Int

    public init(executionID: String, taskID: String, attempt: Int, entries: [Entry], dropped: Int = 0) {
        self.executionID = executionID
        self.taskID = taskID
        self.attempt = attempt
        self.entries = entries
        self.dropped = dropped
    }

    /// One kept line.
    public struct Entry: Sendable, Hashable {
        public var level: TaskLogLine.Level
        public var message: String
        public var at: Timestamp

        public init(level: TaskLogLine.Level, message: String, at: Timestamp) {
            self.level = level
            self.message = message
            self.at = at
        }
    }

    /// The bytes of text the batch carries.
    public var messageBytes: Int { entries.reduce(0) { $0 + $1.message.utf8.count } }
}

/// Which log lines to read: one execution's, optionally of one task and one attempt, oldest first, paged by
/// sequence number.
public struct TaskLogQuery: Sendable, Hashable {
    public var executionID: String
    public var taskID: String?
    public var attempt: Int?
    /// Only lines with a larger sequence number: the next page after a page's last line.
    public var after: Int64
    public var limit: Int

    public init(executionID: String, taskID: String? = nil, attempt: Int? = nil, after: Int64 = 0, limit: Int = 1000) {
        self.executionID = executionID
        self.taskID = taskID
        self.attempt = attempt
        self.after = after
        self.limit = limit
    }
}

/// A page of log lines, and what the tasks they come from logged beyond their bound.
public struct TaskLogPage: Sendable, Hashable {
    /// Oldest first.
    public var lines: [TaskLogLine]
    /// Lines logged beyond the per-attempt bound and not kept, by task, over all the task's attempts; tasks (of the
    /// query's) that dropped none are absent.
    public var dropped: [String: Int]

    public init(lines: [TaskLogLine] = [], dropped: [String: Int] = [:]) {
        self.lines = lines
        self.dropped = dropped
    }
}
