/// A cron schedule a package declares for one of its workflows as a default (ABI 1.1): a host creates it in every
/// tenant that has no schedule with its id. Declared on the workflow:
///
/// ```swift
/// Workflow("nightly_report", schedules: [Schedule("nightly", cron: "30 2 * * *", timeZone: "Europe/London")]) {
///     WorkflowTask("publish") { ctx in ... }
/// }
/// ```
///
/// The host checks it at load (the expression in its zone, the input, the cap) and rejects the package, naming the
/// schedule, when something is wrong.
public struct Schedule: Sendable {
    /// What a host that was down does with the fire times it missed.
    public enum CatchUp: String, Sendable {
        case skip, all, none
    }

    /// What a fire time does while the schedule's previous run goes on.
    public enum Overlap: String, Sendable {
        case allow, skip, queue
        case cancelPrevious = "cancel-previous"
    }

    public let id: String
    /// Five fields, or six with a leading seconds field, or a macro (`@hourly`, `@daily`, …).
    public let cron: String
    /// An IANA time zone.
    public let timeZone: String
    /// The input context of each run.
    public let input: [String: JSONValue]
    public let catchUp: CatchUp
    /// 1 to 1000.
    public let catchUpCap: Int
    public let overlap: Overlap

    public init(
        _ id: String,
        cron: String,
        timeZone: String = "UTC",
        input: [String: JSONValue] = [:],
        catchUp: CatchUp = .skip,
        catchUpCap: Int = 100,
        overlap: Overlap = .allow
    ) {
        self.id = id
        self.cron = cron
        self.timeZone = timeZone
        self.input = input
        self.catchUp = catchUp
        self.catchUpCap = catchUpCap
        self.overlap = overlap
    }
}
