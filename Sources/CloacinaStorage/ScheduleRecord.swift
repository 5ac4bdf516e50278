public import CloacinaSchedule

/// The durable record of one cron schedule of a tenant, as a store keeps it: which workflow it starts, when, with
/// what input, and what it has fired through.
///
/// Validation (the cron text, the time zone, the bounds, the workflow) is the runner's job before it creates one;
/// the store keeps what it is given.
public struct ScheduleRecord: Sendable, Hashable {
    /// Where a schedule comes from.
    public enum Source: String, Sendable, Hashable {
        /// Created through the CLI, the HTTP API or the library.
        case user
        /// Declared by a package as a default.
        case package
    }

    public var id: String
    public var workflow: String
    /// The cron expression as given (five or six fields, or a macro).
    public var cron: String
    /// An IANA time zone identifier.
    public var timeZone: String
    /// The input context of each execution it starts: a JSON object.
    public var input: [UInt8]
    public var startsAt: Timestamp?
    public var endsAt: Timestamp?
    public var catchUp: CatchUpPolicy
    /// The most missed fire times ``CatchUpPolicy/all`` runs (and the most runs ``OverlapPolicy/queue`` holds).
    public var catchUpCap: Int
    public var overlap: OverlapPolicy
    public var paused: Bool
    public var source: Source
    public var createdAt: Timestamp
    /// When it was last changed (created, paused, resumed); fire times before it and after ``firedThrough`` were
    /// missed while it was paused and never run.
    public var updatedAt: Timestamp
    /// The latest fire time dealt with (run, held or skipped); nil before the first.
    public var firedThrough: Timestamp?

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
        paused: Bool = false,
        source: Source = .user,
        createdAt: Timestamp,
        updatedAt: Timestamp? = nil,
        firedThrough: Timestamp? = nil
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
        self.source = source
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.firedThrough = firedThrough
    }
}

/// One look of a schedule that starts executions: records that the schedule dealt with its fire times through
/// ``firedThrough`` and inserts the executions of the fire times it runs or holds, in one transaction
/// (``ExecutionStore/fireSchedule(_:owner:)``).
public struct ScheduleFire: Sendable, Hashable {
    public var scheduleID: String
    /// The fire time dealt with through (kept when the stored one is later); nil for a backfill, which leaves it.
    public var firedThrough: Timestamp?
    /// The new executions, inserted unowned for any runner of the tenant to claim.
    public var executions: [ScheduledExecution]

    public init(scheduleID: String, firedThrough: Timestamp?, executions: [ScheduledExecution] = []) {
        self.scheduleID = scheduleID
        self.firedThrough = firedThrough
        self.executions = executions
    }
}

/// An execution a schedule starts for one fire time (paused when held), with its tasks and creation event.
public struct ScheduledExecution: Sendable, Hashable {
    public var record: ExecutionRecord
    public var tasks: [TaskRecord]
    public var created: ExecutionEvent
    public var scheduledFor: Timestamp

    public init(record: ExecutionRecord, tasks: [TaskRecord], created: ExecutionEvent, scheduledFor: Timestamp) {
        self.record = record
        self.tasks = tasks
        self.created = created
        self.scheduledFor = scheduledFor
    }
}
