/// A parsed cron expression: which wall-clock times it matches.
///
/// Five fields (`minute hour day-of-month month day-of-week`) or six with a leading `second`, or one of the macros
/// `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Each field takes `*`, a value, a
/// range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from `a` to the field's end), or a comma-separated list of those.
/// Months and weekdays also take names (`JAN`-`DEC`, `SUN`-`SAT`, any case); 0 and 7 are both Sunday, and a range
/// of weekdays may end on `SUN` (`FRI-SUN`).
///
/// Day-of-month and day-of-week follow the classic cron rule: when both are restricted (neither contains `*`), a
/// day matches if either matches; otherwise it must match both (which for a plain `*` means the other one alone).
///
/// It knows nothing about time zones, instants or daylight saving time; ``CronSchedule`` applies it to a zone.
/// Parsing rejects malformed text and expressions that can never fire (`0 0 30 2 *`).
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as parsed, with runs of white space collapsed (macros in lower case).
    public let text: String
    /// Whether the text had six fields, the first of them seconds. Five-field expressions fire at second 0.
    public let hasSecondsField: Bool

    let seconds: CronValueSet
    let minutes: CronValueSet
    let hours: CronValueSet
    let daysOfMonth: CronValueSet
    let months: CronValueSet
    /// 0-6, Sunday first (a 7 in the text is stored as 0).
    let daysOfWeek: CronValueSet
    /// Whether day-of-month was written with a `*` (so the day-of-week field alone does not make a day match).
    let dayOfMonthIsWildcard: Bool
    /// Whether day-of-week was written with a `*`.
    let dayOfWeekIsWildcard: Bool

    public var description: String { text }
}
