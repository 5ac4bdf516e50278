/// What a schedule does with the fire times it missed while nothing ran it (the host was down, say).
///
/// ``CronSchedule/missedFires(since:now:policy:cap:)`` applies it; starting the executions is the caller's job.
public enum CatchUpPolicy: String, Sendable, Hashable, CaseIterable {
    /// Fire once, for the latest missed time; the older ones are dropped. The default.
    case skip
    /// Fire every missed time, oldest first, but at most a cap of them: the latest ones. Older ones are dropped.
    case all
    /// Fire none of them; the schedule goes on with its next time after now.
    case none

    /// ``skip``.
    public static let defaultPolicy = CatchUpPolicy.skip

    /// The cap for ``all`` when none is given.
    public static let defaultCap = 100
}
