import Foundation

/// Fire times found the slow way, as an independent check of ``CronSchedule``: step through every instant (every
/// minute, or every second), read the wall clock with Foundation's `Calendar`, and apply the daylight saving rules
/// literally: a wall-clock time fires at its first occurrence only; the matching times the clocks skip fire once,
/// at the instant the gap ends.
///
/// `matches` is the expression written as a predicate over the wall clock (weekday 0 is Sunday). Offset changes
/// must fall on a step.
func bruteForceFires(
    zone identifier: String,
    after: Int64,
    through: Int64,
    step: Int64 = 60,
    matches: (_ month: Int, _ day: Int, _ weekday: Int, _ hour: Int, _ minute: Int, _ second: Int) -> Bool
) -> [Int64] {
    let zone = TimeZone(identifier: identifier)!
    var zoned = Calendar(identifier: .gregorian)
    zoned.timeZone = zone
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = TimeZone(identifier: "UTC")!
    let units: Set<Calendar.Component> = [.year, .month, .day, .weekday, .hour, .minute, .second]
    func clock(_ calendar: Calendar, _ second: Int64) -> DateComponents {
        calendar.dateComponents(units, from: Date(timeIntervalSince1970: Double(second)))
    }
    func key(_ clock: DateComponents) -> [Int] {
        [clock.year!, clock.month!, clock.day!, clock.hour!, clock.minute!, clock.second!]
    }
    func isMatch(_ clock: DateComponents) -> Bool {
        matches(clock.month!, clock.day!, clock.weekday! - 1, clock.hour!, clock.minute!, clock.second!)
    }
    func offset(_ second: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(second))))
    }

    // Start three hours early (longer than any repeated hour) so that wall-clock times shown before `after` count
    // as already shown.
    var second = (after / 1000 - 3 * 3600) / step * step
    var shown = Set<[Int]>()
    var fires: [Int64] = []
    while second <= through / 1000 {
        let wallClock = clock(zoned, second)
        var fires_ = !shown.contains(key(wallClock)) && isMatch(wallClock)
        shown.insert(key(wallClock))
        let before = offset(second - step)
        let jump = offset(second) - before
        if jump > 0 {
            precondition(offset(second - 1) == before, "the offset must change on a step")
            // The clocks went forward: the wall-clock times from second + before up to second + before + jump were
            // never shown. Read them as UTC times to get their fields.
            var skipped = second + before
            while skipped < second + before + jump {
                if isMatch(clock(utc, skipped)) { fires_ = true }
                skipped += step
            }
        }
        if fires_ && second * 1000 > after { fires.append(second * 1000) }
        second += step
    }
    return fires
}
