extension CronSchedule {
    /// The fire times missed after `lastFire` (exclusive) through `now` (inclusive), and the ones `policy` runs:
    /// the latest for ``CatchUpPolicy/skip``, the latest `cap` (oldest first) for ``CatchUpPolicy/all``, none for
    /// ``CatchUpPolicy/none``. The missed count is computed without listing the fires, so a long outage of a
    /// frequent schedule is cheap. The next fire after that is ``nextFire(after:)`` of `now`.
    public func missedFires(
        since lastFire: Int64,
        now: Int64,
        policy: CatchUpPolicy = .defaultPolicy,
        cap: Int = CatchUpPolicy.defaultCap
    ) -> MissedFires {
        guard now > lastFire else { return MissedFires(fires: [], missed: 0) }
        let missed = fireCount(after: lastFire, through: now)
        let keep: Int
        switch policy {
        case .skip: keep = min(missed, 1)
        case .all: keep = min(missed, max(cap, 0))
        case .none: keep = 0
        }
        var fires: [Int64] = []
        var cursor = now
        while fires.count < keep, let fire = latestFire(atOrBefore: cursor), fire > lastFire {
            fires.append(fire)
            cursor = fire - 1
        }
        return MissedFires(fires: fires.reversed(), missed: missed)
    }
}
