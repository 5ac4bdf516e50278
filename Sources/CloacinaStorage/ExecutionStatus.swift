/// Where an execution stands. The raw values are what stores persist and interfaces print.
public enum ExecutionStatus: String, Sendable, Hashable, CaseIterable {
    /// Created, no task started yet.
    case pending = "Pending"
    case running = "Running"
    /// Every task completed or was skipped, none failed.
    case completed = "Completed"
    /// At least one task failed.
    case failed = "Failed"
    case cancelled = "Cancelled"

    /// Whether the execution has ended.
    public var isFinished: Bool {
        switch self {
        case .completed, .failed, .cancelled: return true
        case .pending, .running: return false
        }
    }
}

/// Where a task of an execution stands. The raw values are what stores persist and interfaces print.
public enum TaskStatus: String, Sendable, Hashable, CaseIterable {
    /// Waiting for its dependencies.
    case pending = "Pending"
    /// An attempt is running (or queued for a free slot).
    case running = "Running"
    /// An attempt failed and the next one is scheduled.
    case retrying = "Retrying"
    case completed = "Completed"
    /// The last allowed attempt failed.
    case failed = "Failed"
    /// Not run: a dependency did not complete, or the trigger rule did not hold.
    case skipped = "Skipped"
    /// The execution was cancelled before the task finished.
    case cancelled = "Cancelled"

    /// Whether the task will not change any more.
    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .skipped, .cancelled: return true
        case .pending, .running, .retrying: return false
        }
    }
}
