/// A cron schedule a package declares for one of its workflows (ABI 1.1 `register_schedule`), as a default: a host
/// creates it in each tenant it serves that has no schedule with its id (the tenant may then pause, change or
/// delete it like its own; a deleted one comes back with the next load of the package).
///
/// Kept as the package gave it, checked by the host at registration: the policies by name, the input as JSON text.
public struct ScheduleDefault: Sendable, Hashable {
    public var id: String
    public var cron: String
    public var timeZone: String
    /// A JSON object.
    public var input: String
    /// `skip`, `all` or `none`.
    public var catchUp: String
    public var catchUpCap: Int
    /// `allow`, `skip`, `queue` or `cancel-previous`.
    public var overlap: String

    public init(
        id: String,
        cron: String,
        timeZone: String = "UTC",
        input: String = "{}",
        catchUp: String = "skip",
        catchUpCap: Int = 100,
        overlap: String = "allow"
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
