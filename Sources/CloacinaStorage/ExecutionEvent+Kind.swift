extension ExecutionEvent {
    /// What an event records. The raw values are what stores persist; a stored value this code does not know means
    /// the data is corrupt.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case executionCreated = "execution_created"
        case executionStarted = "execution_started"
        /// A runner took over an unfinished execution (after a restart or from a dead runner).
        case executionResumed = "execution_resumed"
        /// An unfinished execution waits for its package to be registered.
        case executionWaiting = "execution_waiting"
        case executionCompleted = "execution_completed"
        case executionFailed = "execution_failed"
        case executionCancelled = "execution_cancelled"
        /// Someone paused the execution: no task of it starts until it is unpaused.
        case executionPaused = "execution_paused"
        /// Someone resumed a paused execution (``executionResumed`` is a runner taking an execution over).
        case executionUnpaused = "execution_unpaused"
        case taskStarted = "task_started"
        /// A retry of an execution reused the output this task recorded in the execution it retries.
        case taskReused = "task_reused"
        case taskCompleted = "task_completed"
        case taskFailed = "task_failed"
        case taskSkipped = "task_skipped"
        case taskCancelled = "task_cancelled"
        case taskRetryScheduled = "task_retry_scheduled"
        /// An attempt that was running when its runner stopped is counted as interrupted.
        case taskRecovered = "task_recovered"
        /// An attempt that was handed out never started (its runner stopped first); the task is pending again.
        case taskNotStarted = "task_not_started"

        /// The kind a store read from an event row of `executionID`; an unknown value means the data is corrupt.
        public init(stored value: String, executionID: String) throws(StoreError) {
            guard let kind = Kind(rawValue: value) else {
                throw StoreError(.corrupt, "an event of execution \(executionID) has unknown kind \"\(value)\"")
            }
            self = kind
        }

        /// The event that ends an execution with `status` (completed, failed or cancelled).
        public init(endingWith status: ExecutionStatus) {
            switch status {
            case .completed: self = .executionCompleted
            case .failed: self = .executionFailed
            case .cancelled: self = .executionCancelled
            case .pending, .running: preconditionFailure("\(status) does not end an execution")
            }
        }
    }
}
