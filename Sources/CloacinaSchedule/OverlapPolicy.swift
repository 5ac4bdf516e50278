/// What a schedule does when a fire time comes while an earlier run of the same schedule is still going (or when
/// one look finds several fire times due at once).
///
/// ``SchedulePlan`` applies it; cancelling, holding and starting executions is the caller's job.
public enum OverlapPolicy: String, Sendable, Hashable, CaseIterable {
    /// Start every fire time's run, whatever is still running.
    case allow
    /// Start nothing while an earlier run goes on; the fire time is counted as skipped. Of several due at once,
    /// the oldest runs.
    case skip
    /// Record the run at once but hold it until the earlier ones ended; runs start one at a time, oldest first.
    case queue
    /// Ask the earlier runs to cancel and start the new one. Of several due at once, only the latest runs.
    case cancelPrevious = "cancel-previous"

    /// ``allow``.
    public static let defaultPolicy = OverlapPolicy.allow
}
