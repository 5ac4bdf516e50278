/// Aggregate figures over a tenant's executions, for metrics: computed by the database, not by reading every row.
public struct ExecutionStatistics: Sendable, Hashable {
    /// Executions by status; statuses with none are absent.
    public var countsByStatus: [ExecutionStatus: Int]
    /// The mean time from start to end of the executions that ended after starting; nil when none did.
    public var averageDuration: Duration?

    public init(countsByStatus: [ExecutionStatus: Int] = [:], averageDuration: Duration? = nil) {
        self.countsByStatus = countsByStatus
        self.averageDuration = averageDuration
    }

    /// Every execution, whatever its status.
    public var total: Int { countsByStatus.values.reduce(0, +) }

    /// Executions that have not ended (pending or running).
    public var unfinished: Int {
        ExecutionStatus.allCases.filter { !$0.isFinished }.reduce(0) { $0 + (countsByStatus[$1] ?? 0) }
    }
}
