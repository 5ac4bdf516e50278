internal import CloacinaModel
internal import CloacinaSchedule
internal import CloacinaStorage
internal import Logging
internal import Synchronization

/// Cron schedules of the runner's tenant: managing them, and (with ``DefaultRunner/Configuration/runsSchedules``)
/// firing them.
///
/// Firing is timer-driven: the runner sleeps until the earliest next fire time of its schedules and is woken early
/// when one changes (here, through the store's signals from other hosts, or ``schedulesChanged()`` after a reload).
/// A due schedule is fired in one store transaction that records the fire time dealt with and inserts the
/// executions, unowned, so any runner of the tenant may run them; a fire time another host recorded first is
/// refused by the store, so each fire time has at most one execution however many hosts watch the schedule.
extension DefaultRunner {
    // MARK: Managing

    /// Creates a schedule after checking everything about it: the id, the cron expression, the time zone, the
    /// bounds, the workflow (served here), the input and the cap. Throws `invalidInput` (naming what is wrong),
    /// `unknownWorkflow`, or `conflict` when a schedule with the id exists; nothing is written then.
    public func createSchedule(_ spec: ScheduleSpec) async throws(CloacinaError) -> ScheduleInfo {
        guard NameRule.isValid(spec.id) else {
            throw CloacinaError(
                .invalidInput,
                "schedule id \"\(spec.id)\" is not a valid name (letters, digits, '_', '.', '-'; a letter or '_' "
                    + "first; at most \(NameRule.maximumLength) bytes)"
            )
        }
        do throws(ScheduleError) {
            _ = try CronSchedule(
                spec.cron,
                timeZone: spec.timeZone,
                start: spec.startsAt?.milliseconds,
                end: spec.endsAt?.milliseconds
            )
        } catch {
            throw CloacinaError(.invalidInput, "schedule \(spec.id): \(error.message)")
        }
        guard (1...ScheduleSpec.maximumCap).contains(spec.catchUpCap) else {
            throw CloacinaError(
                .invalidInput,
                "schedule \(spec.id): the catch-up cap must be 1 to \(ScheduleSpec.maximumCap), got \(spec.catchUpCap)"
            )
        }
        guard registry.workflow(named: spec.workflow) != nil else { throw unknownWorkflow(spec.workflow) }
        let input = try Self.snapshot(spec.input)
        try checkStoreWritable()
        let now = Timestamp.now()
        let record = ScheduleRecord(
            id: spec.id,
            workflow: spec.workflow,
            cron: spec.cron,
            timeZone: spec.timeZone,
            input: input.bytes,
            startsAt: spec.startsAt,
            endsAt: spec.endsAt,
            catchUp: spec.catchUp,
            catchUpCap: spec.catchUpCap,
            overlap: spec.overlap,
            paused: spec.paused,
            createdAt: now
        )
        let created = try await runtime.withStore(.write) { store throws(StoreError) in
            try store.createSchedule(record)
        }
        guard created else { throw CloacinaError(.conflict, "a schedule named \(spec.id) exists already") }
        schedulesChanged()
        return Self.info(record)
    }

    /// Every schedule of the tenant, by id, with its next fire time.
    public func schedules() async throws(CloacinaError) -> [ScheduleInfo] {
        try await runtime.withStore(.read) { store throws(StoreError) in try store.schedules() }.map(Self.info)
    }

    /// The schedule `id`; throws `notFound` when there is none.
    public func schedule(_ id: String) async throws(CloacinaError) -> ScheduleInfo {
        guard let record = try await runtime.withStore(.read, { store throws(StoreError) in try store.schedule(id) })
        else { throw Self.noSchedule(id) }
        return Self.info(record)
    }

    /// Pauses (`paused`) or resumes a schedule. Fire times while it is paused never run; a resumed schedule fires
    /// from its next fire time on. Changing nothing (already in that state) is not an error. Throws `notFound`.
    @discardableResult
    public func setSchedulePaused(_ id: String, _ paused: Bool) async throws(CloacinaError) -> ScheduleInfo {
        try checkStoreWritable()
        let changed = try await runtime.withStore(.write) { store throws(StoreError) in
            try store.setSchedulePaused(id, paused, at: .now())
        }
        let info = try await schedule(id)
        if changed { schedulesChanged() }
        return info
    }

    /// Deletes a schedule; the executions it started stay. Throws `notFound`.
    public func deleteSchedule(_ id: String) async throws(CloacinaError) {
        try checkStoreWritable()
        let deleted = try await runtime.withStore(.write) { store throws(StoreError) in try store.deleteSchedule(id) }
        guard deleted else { throw Self.noSchedule(id) }
        schedulesChanged()
    }

    /// Starts an execution for every fire time of schedule `id` from `from` through `through` (both inclusive)
    /// that has none yet, oldest first, and returns their ids. At most the schedule's cap of fire times: a longer
    /// range is refused (`invalidInput`, nothing started), as is one that ends before it starts; a paused schedule
    /// is a `conflict`. `admitting` hears how many executions are about to be recorded, and may refuse them by
    /// throwing (a host's limit on unfinished executions). The schedule's own firing is left as it is.
    public func backfill(
        _ id: String,
        from: Timestamp,
        through: Timestamp,
        admitting: (Int) throws(CloacinaError) -> Void = { _ in }
    ) async throws(CloacinaError) -> [String] {
        for instant in [from, through] where !CronSchedule.supportedInstants.contains(instant.milliseconds) {
            throw CloacinaError(
                .invalidInput,
                "backfill of \(id): \(instant.milliseconds) ms lies outside the years 1 to 9999"
            )
        }
        guard from <= through else {
            throw CloacinaError(.invalidInput, "backfill of \(id): the range ends before it starts")
        }
        let info = try await schedule(id)
        let record = info.record
        guard !record.paused else {
            throw CloacinaError(.conflict, "schedule \(id) is paused; resume it to backfill")
        }
        let cron = try Self.cron(of: record)
        let cap = Self.cap(of: record)
        let fires = cron.fires(after: from.milliseconds - 1, through: through.milliseconds, limit: cap + 1)
        guard fires.count <= cap else {
            throw CloacinaError(
                .invalidInput,
                "backfill of \(id): the range holds more than \(cap) fire times (the schedule's "
                    + "catch-up cap); backfill a shorter range"
            )
        }
        let existing = try await runtime.withStore(.read) { store throws(StoreError) in
            try store.executions(ExecutionQuery(scheduleID: id, limit: 1_000_000))
        }
        let done = Set(existing.compactMap { $0.scheduledFor?.milliseconds })
        let fire = try scheduledFire(of: record, at: fires.filter { !done.contains($0) }, firedThrough: nil)
        guard !fire.executions.isEmpty else { return [] }
        try admitting(fire.executions.count)
        try checkStoreWritable()
        let owner = runtime.identity.value
        let fired = try await runtime.withStore(.write) { store throws(StoreError) in
            try store.fireSchedule(fire, owner: owner)
        }
        guard fired else { throw CloacinaError(.conflict, "schedule \(id) was paused or deleted meanwhile") }
        scheduleState.state.withLock { $0.counters[id, default: ScheduleCounters()].fires += fire.executions.count }
        await runFired(fire)
        return fire.executions.map(\.record.id)
    }

    /// What each schedule fired, missed, skipped and dropped since this runner started.
    public var scheduleCounters: [String: ScheduleCounters] { scheduleState.counters() }

    /// When each schedule this runner watches fires next (paused and ended ones left out), as it last read them.
    public var nextFireTimes: [String: Timestamp] {
        scheduleState.state.withLock { state in
            state.entries.compactMapValues { entry in
                entry.record.paused ? nil : entry.timeline.nextFire.map(Timestamp.init(milliseconds:))
            }
        }
    }

    static func info(_ record: ScheduleRecord) -> ScheduleInfo {
        let next = record.paused ? nil : (try? timeline(of: record))?.nextFire
        return ScheduleInfo(record: record, nextFireAt: next.map(Timestamp.init(milliseconds:)))
    }

    private static func noSchedule(_ id: String) -> CloacinaError {
        CloacinaError(.notFound, "no schedule \(id)")
    }

    private static func cron(of record: ScheduleRecord) throws(CloacinaError) -> CronSchedule {
        do throws(ScheduleError) {
            return try CronSchedule(
                record.cron,
                timeZone: record.timeZone,
                start: record.startsAt?.milliseconds,
                end: record.endsAt?.milliseconds
            )
        } catch {
            throw CloacinaError(.storage, "schedule \(record.id) is stored with \(error.message)")
        }
    }

    /// The record's cap, within 1...``ScheduleSpec/maximumCap`` whatever the row says: a tenant whose role may
    /// write its schedules table directly must not make one fire or backfill start more executions than that.
    static func cap(of record: ScheduleRecord) -> Int {
        min(max(record.catchUpCap, 1), ScheduleSpec.maximumCap)
    }

    static func timeline(of record: ScheduleRecord) throws(CloacinaError) -> ScheduleTimeline {
        ScheduleTimeline(
            schedule: try cron(of: record),
            catchUp: record.catchUp,
            cap: cap(of: record),
            overlap: record.overlap,
            firedThrough: record.firedThrough?.milliseconds,
            since: record.updatedAt.milliseconds
        )
    }

    /// The executions of `fires` of `record`, for ``ExecutionStore/fireSchedule(_:owner:)``.
    private func scheduledFire(
        of record: ScheduleRecord,
        at fires: [Int64],
        firedThrough: Int64?
    ) throws(CloacinaError) -> ScheduleFire {
        var fire = ScheduleFire(scheduleID: record.id, firedThrough: firedThrough.map(Timestamp.init(milliseconds:)))
        guard !fires.isEmpty else { return fire }
        guard let entry = registry.workflow(named: record.workflow) else { throw unknownWorkflow(record.workflow) }
        let input = try Self.snapshot(record.input)
        let now = Timestamp.now()
        for at in fires {
            let machine = ExecutionStateMachine(id: Self.newExecutionID(), plan: entry.plan, input: input)
            let writes = creation(of: machine, package: entry.package, lineage: ExecutionLineage(), now: now)
            guard case .insertExecution(let execution, let tasks) = writes.first,
                case .appendEvent(var created) = writes.last
            else { continue }
            created.detail = "schedule \(record.id), fire time \(CronSchedule.format(milliseconds: at))"
            fire.executions.append(
                ScheduledExecution(
                    record: execution,
                    tasks: tasks,
                    created: created,
                    scheduledFor: Timestamp(milliseconds: at)
                )
            )
        }
        return fire
    }

    /// Has the executions a fire inserted run: a runner that fires schedules sweeps for them at once (or without
    /// sweeps, claims each); any other (a command) leaves them to the host serving the tenant.
    private func runFired(_ fire: ScheduleFire) async {
        guard configuration.runsSchedules else { return }
        if configuration.takeoverInterval != nil {
            sweepSoon()
            return
        }
        for execution in fire.executions {
            do {
                try await takeOver(execution.record.id)
            } catch {
                runtime.logger.error(
                    "could not start a scheduled execution",
                    metadata: [
                        "schedule": "\(fire.scheduleID)", "execution": "\(execution.record.id)", "error": "\(error)",
                    ]
                )
            }
        }
    }

    // MARK: Firing

    /// Reads the schedules again at the next look, which is now: after a reload, or a change made elsewhere.
    public func schedulesChanged() {
        guard configuration.runsSchedules else { return }
        scheduleState.state.withLock { $0.stale = true }
        lookSoon()
    }

    /// Creates the default schedules of the packages served now (``WorkflowDefinition/schedules``) that the tenant
    /// has no schedule of the same id for, then reads the schedules again: after packages were loaded.
    public func packagesChanged() {
        guard configuration.runsSchedules else { return }
        scheduleState.state.withLock { state in
            state.packagesChanged = true
            state.stale = true
        }
        lookSoon()
    }

    /// Claims the executions no live runner holds (a command recorded them), as a takeover sweep does.
    public func claimUnowned() {
        sweepSoon(always: true)
    }

    /// Runs a look at the schedules now, or once more after the one under way.
    func lookSoon() {
        guard configuration.runsSchedules, request(.scheduleLook) else { return }
        runtime.timers.spawn { [weak self] in
            guard let self else { return }
            repeat {
                await lookAtSchedules()
            } while finished(.scheduleLook)
        }
    }

    /// Cancels the timer of the next look (the runner closes).
    func stopSchedules() {
        let timer = scheduleState.state.withLock { state in
            state.stopped = true
            return state.timer
        }
        if let timer { runtime.timers.cancel(timer) }
    }

    /// Fires what is due, then sleeps until the next fire time.
    private func lookAtSchedules() async {
        let now = Timestamp.now().milliseconds
        if scheduleState.state.withLock({ $0.packagesChanged }) {
            await createPackageSchedules()
        }
        if scheduleState.state.withLock({ $0.stale }) {
            do {
                let records = try await runtime.withStore(.read) { store throws(StoreError) in try store.schedules() }
                reloadSchedules(records, now: now)
            } catch {
                runtime.logger.error("could not read the schedules", metadata: ["error": "\(error)"])
            }
        }
        let entries = scheduleState.state.withLock { Array($0.entries.values) }
        for entry in entries.sorted(by: { $0.record.id < $1.record.id }) where !entry.record.paused {
            guard let next = entry.timeline.nextFire, next <= now else { continue }
            await fire(entry, now: now)
        }
        armScheduleTimer()
    }

    /// Creates the served packages' default schedules that are missing (source `package`).
    private func createPackageSchedules() async {
        scheduleState.state.withLock { $0.packagesChanged = false }
        let now = Timestamp.now()
        let defaults = registry.entries.flatMap { entry in
            entry.plan.workflow.schedules.map { (workflow: entry.plan.workflow.name, schedule: $0) }
        }
        guard !defaults.isEmpty else { return }
        var created = 0
        defer {
            runtime.logger.info(
                "checked the packages' default schedules",
                metadata: ["declared": "\(defaults.count)", "created": "\(created)"]
            )
        }
        for (workflow, schedule) in defaults {
            guard let catchUp = CatchUpPolicy(rawValue: schedule.catchUp),
                let overlap = OverlapPolicy(rawValue: schedule.overlap)
            else { continue }
            let record = ScheduleRecord(
                id: schedule.id,
                workflow: workflow,
                cron: schedule.cron,
                timeZone: schedule.timeZone,
                input: Array(schedule.input.utf8),
                catchUp: catchUp,
                catchUpCap: schedule.catchUpCap,
                overlap: overlap,
                source: .package,
                createdAt: now
            )
            do throws(CloacinaError) {
                let isNew = try await runtime.withStore(.write) { store throws(StoreError) in
                    try store.schedule(record.id) == nil ? try store.createSchedule(record) : false
                }
                if isNew {
                    created += 1
                    runtime.logger.notice(
                        "created a package's default schedule",
                        metadata: ["schedule": "\(schedule.id)", "workflow": "\(workflow)"]
                    )
                }
            } catch {
                runtime.logger.error(
                    "could not create a package's default schedule",
                    metadata: ["schedule": "\(schedule.id)", "error": "\(error)"]
                )
            }
        }
    }

    private func reloadSchedules(_ records: [ScheduleRecord], now: Int64) {
        var entries: [String: RunnerSchedules.Entry] = [:]
        var broken: [(String, String)] = []
        scheduleState.state.withLock { state in
            for record in records {
                let timeline: ScheduleTimeline
                do throws(CloacinaError) {
                    timeline = try Self.timeline(of: record)
                } catch {
                    broken.append((record.id, error.message))
                    continue
                }
                let known = state.entries[record.id]
                entries[record.id] = RunnerSchedules.Entry(
                    record: record,
                    timeline: timeline,
                    watchingSince: known?.watchingSince ?? now,
                    waiting: known?.waiting ?? false
                )
            }
            state.entries = entries
            state.stale = false
        }
        for (id, message) in broken {
            runtime.logger.error("schedule cannot fire", metadata: ["schedule": "\(id)", "error": "\(message)"])
        }
    }

    /// Fires `entry` if something is due at `now`.
    private func fire(_ entry: RunnerSchedules.Entry, now: Int64) async {
        let id = entry.record.id
        let running: [ExecutionRecord]
        do {
            running = try await runtime.withStore(.read) { store throws(StoreError) in
                try store.executions(ExecutionQuery(statuses: [.pending, .running], scheduleID: id, limit: 10_000))
            }
        } catch {
            runtime.logger.error(
                "could not read a schedule's runs",
                metadata: ["schedule": "\(id)", "error": "\(error)"]
            )
            return
        }
        guard var plan = entry.timeline.plan(now: now, watchingSince: entry.watchingSince, running: running.count)
        else { return }
        if !plan.run.isEmpty, let admission = configuration.scheduleAdmission {
            let admitted = min(max(admission(plan.run.count), 0), plan.run.count)
            if admitted < plan.run.count {
                // The host is at its limit of unfinished executions: the fire times left stay due (dealt with only
                // through the last that starts), looked at again each second.
                runtime.logger.warning(
                    "schedule fire waits: the host holds as many unfinished executions as it may",
                    metadata: ["schedule": "\(id)", "due": "\(plan.run.count)", "starting": "\(admitted)"]
                )
                guard admitted > 0 else { return }
                plan.run = Array(plan.run.prefix(admitted))
                plan.firedThrough = plan.run[admitted - 1]
                plan.skipped = 0
                plan.dropped = 0
                plan.missed = 0
            }
        }
        if plan.cancelPrevious {
            for previous in running {
                _ = try? await cancel(
                    previous.id,
                    reason: "cancelled: schedule \(id) fired again (overlap policy cancel-previous)",
                    waitForEnd: false
                )
            }
        }
        let fire: ScheduleFire
        do throws(CloacinaError) {
            fire = try scheduledFire(of: entry.record, at: plan.run, firedThrough: plan.firedThrough)
        } catch {
            // The workflow is not served here (its package is gone): the fire times pass unrun, and say so.
            runtime.logger.error(
                "schedule fire times not run",
                metadata: ["schedule": "\(id)", "count": "\(plan.run.count)", "error": "\(error.message)"]
            )
            fire = ScheduleFire(scheduleID: id, firedThrough: Timestamp(milliseconds: plan.firedThrough))
        }
        let owner = runtime.identity.value
        let store = runtime.store
        let outcome: Result<Bool, StoreError>
        do throws(StoreError) {
            outcome = .success(
                try await store.executor(for: .write).run { () throws(StoreError) in
                    try store.fireSchedule(fire, owner: owner)
                }
            )
        } catch {
            outcome = .failure(error)
        }
        switch outcome {
        case .success(true):
            if plan.missed > 0 {
                runtime.logger.notice(
                    "schedule missed fire times",
                    metadata: [
                        "schedule": "\(id)", "missed": "\(plan.missed)", "policy": "\(entry.record.catchUp.rawValue)",
                        "run": "\(fire.executions.count)", "dropped": "\(plan.dropped)",
                    ]
                )
            }
            scheduleState.state.withLock { state in
                state.entries[id]?.timeline.firedThrough = plan.firedThrough
                state.entries[id]?.waiting = plan.waiting > 0
                var counters = state.counters[id, default: ScheduleCounters()]
                counters.fires += fire.executions.count
                counters.missed += plan.missed
                counters.skippedByOverlap += plan.skipped
                counters.droppedByCatchUp += plan.dropped
                state.counters[id] = counters
            }
            if !fire.executions.isEmpty {
                runtime.logger.info(
                    "schedule fired",
                    metadata: ["schedule": "\(id)", "executions": "\(fire.executions.count)"]
                )
                await runFired(fire)
            }
        case .success(false):
            // Paused or deleted meanwhile (here or by another process).
            scheduleState.state.withLock { $0.stale = true }
        case .failure(let error) where error.code == .constraint:
            // Another host recorded one of these fire times first.
            runtime.logger.debug("schedule fired by another host", metadata: ["schedule": "\(id)"])
            scheduleState.state.withLock { $0.stale = true }
        case .failure(let error):
            runtime.logger.error("could not fire a schedule", metadata: ["schedule": "\(id)", "error": "\(error)"])
        }
    }

    /// Arms the timer for the next look: the earliest next fire time, or in a second for a schedule whose fire
    /// times wait (its runs going on elsewhere) or failed to fire; at most an hour ahead, so that a clock that
    /// was set meanwhile is read again.
    private func armScheduleTimer() {
        let now = Timestamp.now().milliseconds
        let (delay, previous) = scheduleState.state.withLock { state -> (Int64?, UInt64?) in
            if state.stale { return (0, nil) }
            var earliest: Int64?
            for entry in state.entries.values where !entry.record.paused {
                guard let next = entry.timeline.nextFire else { continue }
                let at = next > now ? next : now + 1000
                earliest = min(earliest ?? at, at)
            }
            let previous = state.timer
            state.timer = nil
            return (earliest.map { min(max($0 - now, 0), 3_600_000) }, previous)
        }
        if let previous { runtime.timers.cancel(previous) }
        guard let delay else { return }
        if delay == 0 {
            lookSoon()
            return
        }
        let timer = runtime.timers.schedule(after: .milliseconds(delay)) { [weak self] in self?.lookSoon() }
        let kept = scheduleState.state.withLock { state in
            guard !state.stopped else { return false }
            if let old = state.timer, old != timer { runtime.timers.cancel(old) }
            state.timer = timer
            return true
        }
        if !kept { runtime.timers.cancel(timer) }
    }
}
