/// One schedule as the scheduler sees it: when it fires, what it did last, and its policies. A value: it decides
/// what is due (``plan(now:watchingSince:running:)``) and when to look next (``nextFire``); it reads no
/// clock and starts nothing, so tests drive it with any instants they like.
///
/// Fire times up to the last one recorded (``firedThrough``) are done: they ran or were skipped. A fire
/// time that came while the scheduler was not watching the schedule (the host was down, the schedule was created by
/// another process) is *missed*, and the ``CatchUpPolicy`` says which of those run; fire times that came while it
/// was watching are on time and all run (up to the cap, when the host stalled). The ``OverlapPolicy`` then decides
/// between the runs due and those still going.
public struct ScheduleTimeline: Sendable, Hashable {
    public var schedule: CronSchedule
    public var catchUp: CatchUpPolicy
    /// The most missed fire times ``CatchUpPolicy/all`` runs at once, and the most fire times
    /// ``OverlapPolicy/queue`` keeps waiting.
    public var cap: Int
    public var overlap: OverlapPolicy
    /// The latest fire time dealt with, in milliseconds since the epoch; nil before the first.
    public var firedThrough: Int64?
    /// Fire times before this instant (exclusive) never run: when the schedule was created or last resumed.
    public var since: Int64

    public init(
        schedule: CronSchedule,
        catchUp: CatchUpPolicy = .defaultPolicy,
        cap: Int = CatchUpPolicy.defaultCap,
        overlap: OverlapPolicy = .defaultPolicy,
        firedThrough: Int64? = nil,
        since: Int64
    ) {
        self.schedule = schedule
        self.catchUp = catchUp
        self.cap = max(cap, 1)
        self.overlap = overlap
        self.firedThrough = firedThrough
        self.since = since
    }

    /// The instant after which fire times are still to be dealt with.
    public var horizon: Int64 { max(firedThrough ?? Int64.min, since) }

    /// The first fire time still to be dealt with, whatever `now` is; nil when the schedule has ended.
    public var nextFire: Int64? { schedule.nextFire(after: horizon) }

    /// What is due at `now`: nil when nothing is. `watchingSince` is when the scheduler began watching the
    /// schedule (fire times at or before it, and after ``horizon``, are missed); `running` counts the schedule's
    /// runs going now.
    ///
    /// Several due at once (a catch-up, a stall) overlap each other: ``OverlapPolicy/skip`` runs the oldest,
    /// ``OverlapPolicy/cancelPrevious`` the latest, ``OverlapPolicy/queue`` the oldest, the rest waiting their turn.
    public func plan(now: Int64, watchingSince: Int64, running: Int) -> SchedulePlan? {
        let after = horizon
        guard now > after, let first = schedule.nextFire(after: after), first <= now else { return nil }
        // Missed fire times: after the horizon, up to when watching began.
        let missedThrough = min(now, watchingSince)
        var due: [Int64] = []
        var dropped = 0
        if missedThrough > after {
            let catchUp = schedule.missedFires(since: after, now: missedThrough, policy: catchUp, cap: cap)
            due = catchUp.fires
            dropped = catchUp.dropped
        }
        // On time: the rest, all of them, the latest `cap` when the host stalled past many.
        let onTimeAfter = max(after, missedThrough)
        let count = schedule.fireCount(after: onTimeAfter, through: now)
        if count > 0 {
            var onTime: [Int64] = []
            var cursor = now
            while onTime.count < min(count, cap), let fire = schedule.latestFire(atOrBefore: cursor), fire > onTimeAfter
            {
                onTime.append(fire)
                cursor = fire - 1
            }
            due += onTime.reversed()
            dropped += count - onTime.count
        }
        var plan = SchedulePlan(firedThrough: schedule.latestFire(atOrBefore: now) ?? first, dropped: dropped)
        if !due.isEmpty {
            switch overlap {
            case .allow:
                plan.run = due
            case .skip:
                if running > 0 {
                    plan.skipped = due.count
                } else {
                    plan.run = [due[0]]
                    plan.skipped = due.count - 1
                }
            case .cancelPrevious:
                plan.cancelPrevious = running > 0
                plan.run = [due[due.count - 1]]
                plan.skipped = due.count - 1
            case .queue:
                // One run at a time: the oldest due runs once nothing else does; the others stay due (the
                // fire time dealt with stops just before them), at most `cap` of them.
                let waiting = Array(due.suffix(cap))
                plan.skipped = due.count - waiting.count
                if running > 0 {
                    plan.firedThrough = waiting[0] - 1
                    plan.waiting = waiting.count
                } else {
                    plan.run = [waiting[0]]
                    plan.firedThrough = waiting[0]
                    plan.waiting = waiting.count - 1
                }
            }
        }
        plan.missed =
            missedThrough > after ? schedule.fireCount(after: after, through: min(missedThrough, plan.firedThrough)) : 0
        return plan
    }
}

/// What a schedule does at one look: the fire times whose runs start now, how many wait (queued), what it skipped
/// or dropped, and the fire time it has dealt with through.
public struct SchedulePlan: Sendable, Hashable {
    /// Fire times whose executions start now, oldest first.
    public var run: [Int64] = []
    /// Due fire times that wait for the runs going now to end (``OverlapPolicy/queue``): they are due again at
    /// the next look.
    public var waiting = 0
    /// Whether the runs still going are to be cancelled first (``OverlapPolicy/cancelPrevious``).
    public var cancelPrevious = false
    /// Due fire times not run because of the overlap policy.
    public var skipped = 0
    /// Fire times missed while nobody watched the schedule, among those dealt with now.
    public var missed = 0
    /// Missed (or stalled-past) fire times the catch-up policy or the cap left out.
    public var dropped = 0
    /// The latest fire time dealt with after this look.
    public var firedThrough: Int64

    public init(firedThrough: Int64, dropped: Int = 0) {
        self.firedThrough = firedThrough
        self.dropped = dropped
    }
}
