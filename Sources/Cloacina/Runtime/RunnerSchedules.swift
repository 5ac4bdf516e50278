internal import CloacinaSchedule
internal import CloacinaStorage
internal import Synchronization

/// What a runner that runs its tenant's schedules knows of them between looks: each schedule's record and
/// timeline with when this runner began watching it, the timer armed for the next look, and the counters.
///
/// The state only; ``DefaultRunner`` (`DefaultRunner+Schedules.swift`) reads the store, decides with
/// ``ScheduleTimeline`` and fires. Not durable: what fired is in the store, and a restart reads it again.
final class RunnerSchedules: Sendable {
    struct Entry: Sendable {
        var record: ScheduleRecord
        var timeline: ScheduleTimeline
        /// When this runner first saw the schedule (fire times before it were missed while nobody watched).
        var watchingSince: Int64
        /// Due fire times waiting for the schedule's runs to end (``OverlapPolicy/queue``).
        var waiting: Bool
    }

    struct State: Sendable {
        var entries: [String: Entry] = [:]
        /// The schedules must be read again before the next look.
        var stale = true
        /// The packages' default schedules must be created where missing (packages were loaded) first.
        var packagesChanged = true
        var timer: UInt64?
        var counters: [String: ScheduleCounters] = [:]
        var stopped = false
    }

    let state = Mutex(State())

    /// Whether some schedule waits for its runs to end, so that an execution ending here is worth a look.
    var hasWaiting: Bool { state.withLock { state in state.entries.values.contains { $0.waiting } } }

    func counters() -> [String: ScheduleCounters] { state.withLock { $0.counters } }
}
