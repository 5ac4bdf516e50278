public import CloacinaSchedule
public import CloacinaStorage

/// What a new schedule is to be: the workflow it starts, its cron expression read in a time zone, the input of
/// each run, optional start and end instants, and its catch-up and overlap policies. ``DefaultRunner/createSchedule(_:)``
/// checks it all before anything is written.
public struct ScheduleSpec: Sendable, Hashable {
    /// Its name: the naming rule of tasks and workflows (letters, digits, `_`, `.`, `-`; a letter or `_` first).
    public var id: String
    public var workflow: String
    public var cron: String
    public var timeZone: String
    /// A JSON object.
    public var input: [UInt8]
    public var startsAt: Timestamp?
    public var endsAt: Timestamp?
    public var catchUp: CatchUpPolicy
    /// 1 to ``ScheduleSpec/maximumCap``.
    public var catchUpCap: Int
    public var overlap: OverlapPolicy
    /// Created paused: it fires once resumed.
    public var paused: Bool

    /// The largest cap accepted: the most executions one catch-up, queue or backfill starts.
    public static let maximumCap = 1_000

    public init(
        id: String,
        workflow: String,
        cron: String,
        timeZone: String = "UTC",
        input: [UInt8] = Array("{}".utf8),
        startsAt: Timestamp? = nil,
        endsAt: Timestamp? = nil,
        catchUp: CatchUpPolicy = .defaultPolicy,
        catchUpCap: Int = CatchUpPolicy.defaultCap,
        overlap: OverlapPolicy = .defaultPolicy,
        paused: Bool = false
    ) {
        self.id = id
        self.workflow = workflow
        self.cron = cron
        self.timeZone = timeZone
        self.input = input
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.catchUp = catchUp
        self.catchUpCap = catchUpCap
        self.overlap = overlap
        self.paused = paused
    }
}

/// A schedule as the runner reports it: its record and when it fires next (nil when paused or ended).
public struct ScheduleInfo: Sendable, Hashable {
    public var record: ScheduleRecord
    public var nextFireAt: Timestamp?

    public init(record: ScheduleRecord, nextFireAt: Timestamp?) {
        self.record = record
        self.nextFireAt = nextFireAt
    }
}

/// How many fire times a runner's schedule fired, missed, skipped and dropped since the runner started.
public struct ScheduleCounters: Sendable, Hashable {
    /// Executions started (or backfilled).
    public var fires = 0
    /// Fire times that came while no host watched the schedule.
    public var missed = 0
    /// Due fire times the overlap policy did not run.
    public var skippedByOverlap = 0
    /// Missed fire times the catch-up policy (or its cap) left out.
    public var droppedByCatchUp = 0

    public init() {}
}
