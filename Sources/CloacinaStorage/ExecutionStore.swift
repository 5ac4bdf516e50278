/// Durable storage of executions, their tasks and their events, for one tenant.
///
/// One protocol, one conformance suite, several databases (SQLite files, PostgreSQL schemas). A store owns its
/// serialisation: each of its connections is used only from its own ``StoreQueue``. Every method blocks until the
/// database answered (running on the connection's queue, or at once when called from a job already on it), so
/// blocking callers may call them directly; async callers run them as a job of ``executor(for:)``, never on Swift's
/// cooperative pool.
/// Stores retry transient failures (lock contention, a dropped connection) themselves; an error that reaches the
/// caller is one retrying did not cure.
///
/// Ownership: a runner claims the executions it works on (``ExecutionRecord/owner``) with a lease it renews.
/// ``write(_:owner:)`` drops changes to executions the writer does not own, so a runner that lost its claim (it
/// stalled past its lease and another took over) cannot overwrite the new owner's work.
public protocol ExecutionStore: AnyObject, Sendable {
    /// Where the data lives, for messages; never contains a password.
    var location: String { get }

    /// The queue to run calls of kind `access` on, so that they run on the connection they use without a hop; a
    /// store with several connections for the kind picks the least busy.
    func executor(for access: StoreAccess) -> StoreQueue

    /// Applies `writes` in one transaction, in order. Changes to executions `owner` does not own (other than the
    /// executions the batch inserts) are skipped; their ids are returned.
    func write(_ writes: [StoreWrite], owner: String) throws(StoreError) -> Set<String>

    /// The execution with id `id`.
    func execution(_ id: String) throws(StoreError) -> ExecutionRecord?

    /// The tasks of an execution, in declaration order.
    func tasks(of executionID: String) throws(StoreError) -> [TaskRecord]

    /// Executions matching `query`, newest first, for listing: without their definition and input (empty) and
    /// final context (nil), which ``execution(_:)`` reads. Costs the same whatever the history's size when paged by
    /// ``ExecutionQuery/after``.
    func executions(_ query: ExecutionQuery) throws(StoreError) -> [ExecutionRecord]

    /// The number of executions matching `query`'s filters (its paging is ignored), counting no further than
    /// `limit` when given: a bounded cost for "more than `limit`".
    func countExecutions(_ query: ExecutionQuery, upTo limit: Int?) throws(StoreError) -> Int

    /// Counts by status and the average duration of ended executions.
    func statistics() throws(StoreError) -> TenantMetrics

    /// The history of an execution after sequence number `after`, oldest first, at most `limit` events when given:
    /// found by the (execution, sequence) index, so a page costs the same however long the history is.
    func events(of executionID: String, after: Int64, limit: Int?) throws(StoreError) -> [ExecutionEvent]

    /// The log lines of an execution's attempts matching `query` (at most `query.limit`, oldest first, after
    /// `query.after`), with the lines its tasks (the query's task, when it names one) dropped over their bound.
    func taskLogs(_ query: TaskLogQuery) throws(StoreError) -> TaskLogPage

    /// Claims, for `owner` until `leaseUntil`, the unfinished executions that no live runner owns, oldest first
    /// and at most `limit` of them when given: unowned ones, ones `owner` already owns, ones whose lease ended
    /// before `now`, and ones whose owner `ownerIsAlive` says is gone. Returns the claimed executions. Several
    /// hosts may sweep at once: each execution goes to one of them.
    func claimUnfinished(
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        limit: Int?,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> [ExecutionRecord]

    /// Claims one unfinished execution under the same rule as ``claimUnfinished(owner:leaseUntil:now:ownerIsAlive:)``;
    /// nil when it does not exist, has finished, or a live runner owns it.
    func claim(
        _ id: String,
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> ExecutionRecord?

    /// Extends `owner`'s leases on its unfinished executions to `until`; returns those among them whose cancellation
    /// was requested, and those paused.
    func renewLeases(owner: String, until: Timestamp) throws(StoreError) -> LeaseRenewal

    /// Gives up `owner`'s claims on the given executions, so another runner may take them at once.
    func releaseLeases(owner: String, executions: [String]) throws(StoreError)

    /// Records that someone wants the execution cancelled. False when it does not exist or has finished.
    func requestCancel(_ id: String) throws(StoreError) -> Bool

    /// Pauses or resumes an unfinished execution, with its `execution_paused` or `execution_unpaused` event in the
    /// same transaction, and signals its owner (where the store can). False, writing nothing, when it does not
    /// exist, has finished, or is already in that state.
    func setPaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool

    // MARK: Schedules

    /// Stores a new schedule; false, writing nothing, when one with its id exists.
    func createSchedule(_ schedule: ScheduleRecord) throws(StoreError) -> Bool

    /// Every schedule, by id.
    func schedules() throws(StoreError) -> [ScheduleRecord]

    /// The schedule with id `id`.
    func schedule(_ id: String) throws(StoreError) -> ScheduleRecord?

    /// Pauses or resumes a schedule at `now` (its ``ScheduleRecord/updatedAt``): fire times until a resume never
    /// run. False, writing nothing, when it does not exist or is already in that state.
    func setSchedulePaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool

    /// Deletes a schedule (its executions stay). False when it does not exist.
    func deleteSchedule(_ id: String) throws(StoreError) -> Bool

    /// In one transaction: advances the schedule's ``ScheduleRecord/firedThrough`` (when given and later), and
    /// inserts `fire`'s executions, unowned, with their tasks, creation events, schedule and fire time; then
    /// signals other hosts that there is work. False, writing nothing, when the schedule does not exist or is
    /// paused. Fails with `constraint`, writing nothing, when an execution for one of the fire times exists
    /// already (another host fired it): each fire time of a schedule has at most one execution.
    func fireSchedule(_ fire: ScheduleFire, owner: String) throws(StoreError) -> Bool

    /// Records or refreshes `host`'s entry (its ``HostRecord/owned`` is ignored), and forgets entries that expired
    /// more than ``HostRecord/retention`` ago (a store that one host serves at a time forgets every other entry).
    func announceHost(_ host: HostRecord) throws(StoreError)

    /// Removes the entry of host `id` (it stopped).
    func withdrawHost(_ id: String) throws(StoreError)

    /// The hosts with an entry, live or recently expired, by id, each with the number of unfinished executions its
    /// runners own.
    func hosts() throws(StoreError) -> [HostRecord]

    /// Calls `handler` when another process sharing this store signals new work or a cancel request (PostgreSQL:
    /// `LISTEN`/`NOTIFY` on a channel of the store's own), until the observation is cancelled. Nil when the store
    /// has no such channel (SQLite, whose files one host serves): runners then rely on their timers alone. Handlers
    /// run on the store's listening thread and must return quickly.
    func observeSignals(_ handler: @escaping @Sendable (StoreSignal) -> Void) -> StoreObservation?

    /// Frees what an idle store need not hold (unused connections, prepared statements, caches); later calls
    /// reopen what they need. Called while the runner is idle, so a host serving many quiet tenants holds little
    /// for them. Returns at once: the release runs on the connections' own queues.
    func releaseIdleConnections()

    /// Closes connections, after the calls running on them; calls waiting for their turn, and later calls, fail
    /// with `closed`, and waits inside the store (back-offs, lock waits) end at once.
    func close()
}

extension ExecutionStore {
    /// Claims every unfinished execution no live runner owns (``claimUnfinished(owner:leaseUntil:now:limit:ownerIsAlive:)``
    /// without a limit).
    public func claimUnfinished(
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> [ExecutionRecord] {
        try claimUnfinished(owner: owner, leaseUntil: leaseUntil, now: now, limit: nil, ownerIsAlive: ownerIsAlive)
    }

    /// The whole history of an execution, oldest first.
    public func events(of executionID: String) throws(StoreError) -> [ExecutionEvent] {
        try events(of: executionID, after: 0, limit: nil)
    }

    /// No signals: runners rely on their timers.
    public func observeSignals(_ handler: @escaping @Sendable (StoreSignal) -> Void) -> StoreObservation? { nil }

    /// The number of executions matching `query`'s filters, counting them all.
    public func countExecutions(_ query: ExecutionQuery) throws(StoreError) -> Int {
        try countExecutions(query, upTo: nil)
    }
}

/// What a store call does, for ``ExecutionStore/executor(for:)``: reads may run beside writes on a connection of
/// their own.
public enum StoreAccess: Sendable, Hashable {
    /// Queries that change nothing.
    case read
    /// Batches, claims, leases and cancel requests.
    case write
}

/// What a lease renewal found among the renewed executions: requests their owner carries out.
public struct LeaseRenewal: Sendable, Hashable {
    /// Executions whose cancellation was requested, oldest first.
    public var cancelRequested: [String]
    /// Executions that are paused.
    public var paused: Set<String>

    public init(cancelRequested: [String] = [], paused: Set<String> = []) {
        self.cancelRequested = cancelRequested
        self.paused = paused
    }
}
