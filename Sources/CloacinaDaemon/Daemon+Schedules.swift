public import Cloacina
internal import Synchronization

/// A tenant's cron schedules (the runner's operations of the same names). Changes are admitted while serving
/// only; reads also while draining.
extension Daemon {
    public func createSchedule(_ tenant: TenantName, _ spec: ScheduleSpec) async throws(CloacinaError) -> ScheduleInfo {
        try await withRunner(tenant) { runner throws(CloacinaError) in try await runner.createSchedule(spec) }
    }

    public func schedules(_ tenant: TenantName) async throws(CloacinaError) -> [ScheduleInfo] {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in try await runner.schedules() }
    }

    public func schedule(_ tenant: TenantName, id: String) async throws(CloacinaError) -> ScheduleInfo {
        try await withRunner(tenant, intake: false) { runner throws(CloacinaError) in try await runner.schedule(id) }
    }

    public func setSchedulePaused(
        _ tenant: TenantName,
        id: String,
        paused: Bool
    ) async throws(CloacinaError) -> ScheduleInfo {
        try await withRunner(tenant) { runner throws(CloacinaError) in
            try await runner.setSchedulePaused(id, paused)
        }
    }

    public func deleteSchedule(_ tenant: TenantName, id: String) async throws(CloacinaError) {
        try await withRunner(tenant) { runner throws(CloacinaError) in try await runner.deleteSchedule(id) }
    }

    /// Backfills `from` through `through` (``DefaultRunner/backfill(_:from:through:admitting:)``), admitted like
    /// that many submissions (`unavailable` when they would not fit under ``Configuration/maxPendingExecutions``);
    /// a quarantined version of the workflow is refused.
    public func backfill(
        _ tenant: TenantName,
        id: String,
        from: Timestamp,
        through: Timestamp
    ) async throws(CloacinaError) -> [String] {
        try await withRunner(tenant) { runner throws(CloacinaError) in
            try refuseIfQuarantined(try await runner.schedule(id).record.workflow)
            let limit = configuration.maxPendingExecutions
            return try await runner.backfill(id, from: from, through: through) { count throws(CloacinaError) in
                try state.withLock { state throws(CloacinaError) in try state.room(for: count, limit: limit) }
            }
        }
    }

    /// The metrics in Prometheus' text format, with the schedules' counters of every served tenant brought up to
    /// date first.
    public func metricsExposition() -> String {
        let runners = state.withLock { $0.served.mapValues(\.runner) }
        var next: [String: [String: Timestamp]] = [:]
        for (tenant, runner) in runners { next[tenant] = runner.nextFireTimes }
        metrics.schedules(runners.mapValues(\.scheduleCounters), next: next)
        return metrics.exposition()
    }
}
