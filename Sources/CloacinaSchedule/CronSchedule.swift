import Foundation

/// A ``CronExpression`` read on the wall clock of one IANA time zone, optionally between a start and an end
/// instant: computes when it fires. Instants are milliseconds since the Unix epoch (UTC), as the stores keep them;
/// fire times are whole seconds.
///
/// Daylight saving time: a matching wall-clock time that the clocks skip (02:30 when they jump from 02:00 to 03:00)
/// fires once, at the first instant after the gap (03:00); several matching times in one gap fire together, once.
/// A matching time that the clocks show twice (01:30 when they go back from 02:00 to 01:00) fires once, at its
/// first occurrence; the repeated hour does not fire again.
///
/// It is a value with no state: it does not remember what fired, decide what is due or start anything. Instants
/// are supported from the year 1 to the year 9999; no fire time lies outside that.
public struct CronSchedule: Sendable, Hashable {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z (proleptic Gregorian), in seconds: the supported span.
    static let earliestSecond: Int64 = -62_135_596_800
    static let latestSecond: Int64 = 253_402_300_799

    /// The instants (milliseconds since the epoch) a schedule's bounds and a backfill's range may name.
    public static let supportedInstants: ClosedRange<Int64> = (earliestSecond * 1000)...(latestSecond * 1000 + 999)

    public let expression: CronExpression
    /// The time zone identifier as given (`Europe/London`, `UTC`).
    public let timeZoneIdentifier: String
    /// No fire time is earlier than this (inclusive), in milliseconds since the epoch.
    public let start: Int64?
    /// No fire time is later than this (inclusive), in milliseconds since the epoch.
    public let end: Int64?

    let zone: ZoneRules

    /// A schedule; throws when the time zone is unknown or `end` is before `start`.
    public init(
        expression: CronExpression,
        timeZone identifier: String = "UTC",
        start: Int64? = nil,
        end: Int64? = nil
    ) throws(ScheduleError) {
        guard let timeZone = TimeZone(identifier: identifier) else {
            throw ScheduleError(
                .unknownTimeZone,
                "unknown time zone '\(identifier)' (expected an IANA identifier such as Europe/London or UTC)"
            )
        }
        if let start, let end, end < start {
            throw ScheduleError(
                .invalidBounds,
                "end \(Self.format(milliseconds: end)) is before start \(Self.format(milliseconds: start))"
            )
        }
        self.expression = expression
        self.timeZoneIdentifier = identifier
        self.start = start
        self.end = end
        self.zone = ZoneRules(timeZone: timeZone)
    }

    /// A schedule from the text of a cron expression; throws what ``CronExpression/init(_:)`` throws too.
    public init(
        _ expression: String,
        timeZone identifier: String = "UTC",
        start: Int64? = nil,
        end: Int64? = nil
    ) throws(ScheduleError) {
        try self.init(expression: CronExpression(expression), timeZone: identifier, start: start, end: end)
    }

    /// The first fire time strictly after `instant` (and not before ``start``), or nil when there is none before
    /// ``end`` or the year 9999.
    public func nextFire(after instant: Int64) -> Int64? {
        guard let seconds = secondRange(after: instant, through: Int64.max) else { return nil }
        let fromLocal = zone.latestLocalSeconds(atOrBefore: seconds.lowerBound - 1) + 1
        guard let local = expression.nextMatch(atOrAfter: fromLocal) else { return nil }
        let fire = zone.firstInstant(showingAtLeast: local)
        return seconds.contains(fire) ? fire * 1000 : nil
    }

    /// The last fire time at or before `instant` (and not after ``end``), or nil when there is none since ``start``
    /// or the year 1.
    public func latestFire(atOrBefore instant: Int64) -> Int64? {
        guard let seconds = secondRange(after: Int64.min, through: instant) else { return nil }
        let throughLocal = zone.latestLocalSeconds(atOrBefore: seconds.upperBound)
        guard let local = expression.previousMatch(atOrBefore: throughLocal) else { return nil }
        let fire = zone.firstInstant(showingAtLeast: local)
        return seconds.contains(fire) ? fire * 1000 : nil
    }

    /// The fire times in `after` (exclusive) through `through` (inclusive), oldest first, at most `limit` of them.
    public func fires(after: Int64, through: Int64, limit: Int) -> [Int64] {
        var result: [Int64] = []
        var cursor = after
        while result.count < limit, let fire = nextFire(after: cursor), fire <= through {
            result.append(fire)
            cursor = fire
        }
        return result
    }

    /// How many fire times lie in `after` (exclusive) through `through` (inclusive), counted without listing them
    /// (by day, not by fire).
    public func fireCount(after: Int64, through: Int64) -> Int {
        guard let seconds = secondRange(after: after, through: through) else { return 0 }
        let fromLocal = zone.latestLocalSeconds(atOrBefore: seconds.lowerBound - 1) + 1
        let throughLocal = zone.latestLocalSeconds(atOrBefore: seconds.upperBound)
        var count = expression.matchCount(from: fromLocal, through: throughLocal)
        // The matching times in a gap all fire at its end, once (together with the end itself if it matches).
        for gap in zone.transitions(from: seconds.lowerBound, through: seconds.upperBound)
        where gap.offsetAfter > gap.offsetBefore {
            let collapsed = expression.matchCount(
                from: gap.instant + gap.offsetBefore,
                through: gap.instant + gap.offsetAfter
            )
            if collapsed > 1 { count -= collapsed - 1 }
        }
        return Int(count)
    }

    /// The whole seconds a fire time in `after` (exclusive) through `through` (inclusive) can fall on, within the
    /// schedule's bounds and the supported span; nil when there are none.
    private func secondRange(after: Int64, through: Int64) -> ClosedRange<Int64>? {
        var low = max(after.floorDivided(by: 1000) + 1, Self.earliestSecond)
        var high = min(through.floorDivided(by: 1000), Self.latestSecond)
        if let start {
            let startSecond = start.floorDivided(by: 1000)
            low = max(low, start % 1000 == 0 ? startSecond : startSecond + 1)
        }
        if let end { high = min(high, end.floorDivided(by: 1000)) }
        return low <= high ? low...high : nil
    }

    /// `2024-03-10T07:00:00.250Z` (milliseconds only when there are any).
    public static func format(milliseconds: Int64) -> String {
        let seconds = milliseconds.floorDivided(by: 1000)
        let fraction = milliseconds.floorModulo(1000)
        let text = CivilDateTime(localSeconds: seconds).iso8601
        guard fraction != 0 else { return text + "Z" }
        let digits = String(fraction)
        return text + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}
