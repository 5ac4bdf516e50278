/// How a tenant shares the task threads of a host with the other tenants (see ``RunnerResources``): its weight
/// against theirs, and a limit of its own.
///
/// A free thread goes to the tenant with ready work that runs the fewest attempts for its weight; tenants that tie
/// take turns, and a tenant's own attempts start in the order they became ready. So one tenant's long tasks delay
/// another's by at most the attempts already running, not by its whole backlog.
public struct TenantShare: Sendable, Hashable {
    /// The tenant's claim on the threads against other tenants with ready work: a tenant of weight 2 runs two
    /// attempts for each one of a tenant of weight 1 (counted in whole steps of its weight). At least 1; 1 by
    /// default.
    public var weight: Int
    /// At most this many of the tenant's attempts run at once, also when threads are free (its other ready
    /// attempts wait; other tenants go on); nil for no limit but the host's
    /// (``DefaultRunner/Configuration/maxConcurrentTasks``). An attempt abandoned at its time limit stops counting.
    public var maxConcurrentTasks: Int?

    public init(weight: Int = 1, maxConcurrentTasks: Int? = nil) {
        self.weight = weight
        self.maxConcurrentTasks = maxConcurrentTasks
    }

    /// Throws a configuration error naming `tenant` (when given) and the setting out of range.
    func validate(tenant: String? = nil) throws(CloacinaError) {
        let subject = tenant.map { " of tenant \($0)" } ?? ""
        guard weight >= 1 else {
            throw CloacinaError(.configuration, "the task share weight\(subject) must be at least 1, got \(weight)")
        }
        if let maxConcurrentTasks, maxConcurrentTasks < 1 {
            throw CloacinaError(
                .configuration,
                "the tenant max concurrent tasks\(subject) must be at least 1, got \(maxConcurrentTasks)"
            )
        }
    }
}
