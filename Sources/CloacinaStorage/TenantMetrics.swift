/// Figures about one tenant's executions, as in the seed documents: computed by the database (``ExecutionStore``'s
/// `statistics()`), not by reading every row.
public struct TenantMetrics: Sendable, Hashable {
    /// Executions by status; statuses with none are absent.
    public var executionsByStatus: [ExecutionStatus: Int]
    /// The mean time from start to end of the executions that ended after starting; nil before any did.
    public var averageExecutionTime: Duration?

    public init(executionsByStatus: [ExecutionStatus: Int] = [:], averageExecutionTime: Duration? = nil) {
        self.executionsByStatus = executionsByStatus
        self.averageExecutionTime = averageExecutionTime
    }

    /// Every execution, whatever its status.
    public var totalExecutions: Int { executionsByStatus.values.reduce(0, +) }

    /// Executions that have not ended (pending or running).
    public var activeExecutions: Int {
        ExecutionStatus.allCases.filter { !$0.isFinished }.reduce(0) { $0 + (executionsByStatus[$1] ?? 0) }
    }
}
