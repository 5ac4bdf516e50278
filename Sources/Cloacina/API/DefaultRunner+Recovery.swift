internal import CloacinaStorage
internal import Logging

extension DefaultRunner {
    /// What ``resumeUnfinished()`` did.
    public struct ResumeReport: Sendable {
        /// Executions now running here again.
        public var resumed: [String] = []
        /// Executions whose package this runner does not have (not registered, not in the package cache): left as
        /// they are, unclaimed, with the reason. Registering the package resumes them.
        public var waiting: [(id: String, reason: String)] = []
        /// Executions that cannot go on (a corrupt row, a changed workflow definition), now `Failed`, with the
        /// reason.
        public var failed: [(id: String, reason: String)] = []
    }

    /// Takes over the unfinished executions no live runner owns (left by a runner that crashed or stopped) and
    /// carries them on: each with the package version it is pinned to, found among the registered packages or in
    /// the package cache. Attempts that were running are run again as the next attempt while the task has attempts
    /// left, else the task fails; scheduled retries keep their time. Executions whose package is not known here
    /// wait (see ``ResumeReport/waiting``); those that cannot go on are ended `Failed` with the reason.
    ///
    /// Runs on start (unless the configuration says not to), again by itself when a package is registered while
    /// executions wait for one, and every ``Configuration/takeoverInterval`` when set (taking at most as many as
    /// the runner has room for). Calls run one at a time. With `limit`, claims at most that many, oldest first.
    @discardableResult
    public func resumeUnfinished(limit: Int? = nil) async throws(CloacinaError) -> ResumeReport {
        await takeResumeTurn()
        defer { giveResumeTurn() }
        let identity = runtime.identity
        let leaseUntil = Timestamp.now() + configuration.leaseDuration
        let claimed = try await runtime.withStore(.write) {
            store throws(StoreError) -> [(ExecutionRecord, [TaskRecord])] in
            let records = try store.claimUnfinished(
                owner: identity.value,
                leaseUntil: leaseUntil,
                now: .now(),
                limit: limit,
                ownerIsAlive: identity.isAlive
            )
            return try records.map { record throws(StoreError) in (record, try store.tasks(of: record.id)) }
        }
        var report = ResumeReport()
        for (record, tasks) in claimed where activeDriver(record.id) == nil {
            do throws(CloacinaError) {
                guard let package = try await pinnedPackage(record) else {
                    report.waiting.append((record.id, Self.missingPackage(record)))
                    continue
                }
                try resume(record, tasks: tasks, package: package)
                report.resumed.append(record.id)
            } catch  where activeDriver(record.id) != nil {
                // Another resumption here took it first.
                continue
            } catch {
                runtime.logger.error(
                    "cannot resume execution",
                    metadata: ["execution": "\(record.id)", "workflow": "\(record.workflow)", "error": "\(error)"]
                )
                try await end(record, reason: "cannot resume: \(error.message)", abort: true)
                report.failed.append((record.id, error.message))
            }
        }
        try await leaveWaiting(report.waiting)
        if !report.resumed.isEmpty {
            runtime.logger.notice("resumed unfinished executions", metadata: ["count": "\(report.resumed.count)"])
        }
        return report
    }

    /// Releases the claims on executions whose package is not known here, records why they wait (once per
    /// runner), and remembers them so that registering a package resumes them.
    private func leaveWaiting(_ waiting: [(id: String, reason: String)]) async throws(CloacinaError) {
        let fresh = setWaiting(Set(waiting.map(\.id)))
        let now = Timestamp.now()
        var writes: [StoreWrite] = []
        for (id, reason) in waiting where fresh.contains(id) {
            runtime.logger.warning(
                "execution waits for its package",
                metadata: ["execution": "\(id)", "reason": "\(reason)"]
            )
            writes.append(
                .appendEvent(ExecutionEvent(executionID: id, kind: .executionWaiting, detail: reason, at: now))
            )
        }
        if case .failure(let error) = await runtime.writer.write(writes) { throw CloacinaError(error) }
        guard !waiting.isEmpty else { return }
        let owner = runtime.identity.value
        let ids = waiting.map(\.id)
        try await runtime.withStore(.write) { store throws(StoreError) in
            try store.releaseLeases(owner: owner, executions: ids)
        }
    }

    static func missingPackage(_ record: ExecutionRecord) -> String {
        guard let reference = record.package else { return "the execution names no package" }
        guard let sha256 = reference.sha256 else {
            return "package \(reference.name) \(reference.version), compiled into the program that started the "
                + "execution, is not registered"
        }
        return "package \(reference.name) \(reference.version) (sha256 \(sha256)) is neither registered nor in the "
            + "package cache"
    }

    /// Resumes what waits for a package, in a background job of the runner's resources, once one was registered.
    func resumeWaiting() {
        guard hasWaiting, !isClosed else { return }
        runtime.timers.spawn { [weak self] in
            guard let self else { return }
            do {
                try await resumeUnfinished()
            } catch {
                runtime.logger.error("cannot resume waiting executions", metadata: ["error": "\(error)"])
            }
        }
    }

    func resume(
        _ record: ExecutionRecord,
        tasks: [TaskRecord],
        package: LoadedPackage
    ) throws(CloacinaError) {
        let plan = try registry.plan(for: package, workflow: record.workflow)
        guard plan.definitionJSON == record.definition else {
            throw CloacinaError(
                .conflict,
                "workflow \(record.workflow) of package \(package.info.name) changed since the execution started"
            )
        }
        let input = try Self.input(of: record)
        let (machine, actions): (ExecutionStateMachine, [ExecutionStateMachine.Action])
        do throws(ContextError) {
            (machine, actions) = try ExecutionStateMachine.restore(
                id: record.id,
                plan: plan,
                input: input,
                startedAt: record.startedAt,
                records: tasks,
                now: .now(),
                paused: record.paused
            )
        } catch {
            throw CloacinaError(.storage, "execution \(record.id) has an unreadable task output: \(error.message)")
        }
        let driver = ExecutionDriver(
            machine: machine,
            package: package,
            runtime: runtime,
            createdAt: record.createdAt,
            lineage: ExecutionLineage(
                retryOf: record.retryOf,
                rerunOf: record.rerunOf,
                scheduleID: record.scheduleID,
                scheduledFor: record.scheduledFor
            )
        ) { [weak self] driver in self?.ended(driver) }
        try adopt(driver)
        driver.resume(with: actions)
        if record.cancelRequested { driver.cancel(reason: "cancellation requested") }
    }

    /// The package an execution is pinned to: registered, or reloaded from the package cache by its SHA-256; nil
    /// when neither has it. Throws when the row itself is corrupt: the row is tenant data, so a digest that is not
    /// 64 lower-case hex digits never reaches the file system or the loader.
    func pinnedPackage(_ record: ExecutionRecord) async throws(CloacinaError) -> LoadedPackage? {
        guard let reference = record.package else { return nil }
        if let sha256 = reference.sha256, !SHA256.isDigest(sha256) {
            throw CloacinaError(
                .storage,
                "corrupt execution row \(record.id): its package sha256 is not 64 lower-case hex digits"
            )
        }
        if let package = registry.package(matching: reference) { return package }
        guard let sha256 = reference.sha256 else { return nil }
        let cached = PackageCache(directory: configuration.packageCacheDirectory).path(for: sha256)
        guard FileSystem.exists(cached) else { return nil }
        // Through the pipeline of this runner's invoker: with worker processes the cached copy is probed and
        // registered, never opened here.
        let pipeline = PackagePipeline(probe: nil, loader: packages, for: runtime.invoker)
        let report = try await BlockingCall.run { pipeline.load(files: [cached])[0] }
        guard let package = report.package, package.sha256 == sha256 else {
            throw CloacinaError(
                .notFound,
                "package \(reference.name) \(reference.version) (sha256 \(sha256)): its cached copy does not load: "
                    + (report.error?.description ?? "its digest differs")
            )
        }
        return package
    }

    /// Ends a claimed execution without running anything: cancelled on request, or failed when it cannot go on.
    func end(_ record: ExecutionRecord, reason: String, abort: Bool) async throws(CloacinaError) {
        let id = record.id
        let tasks = try await runtime.withStore(.read) { store throws(StoreError) in try store.tasks(of: id) }
        let plan: ExecutionPlan
        do {
            plan = try ExecutionPlan(WorkflowDefinition(json: try JSONValue(parsing: record.definition)))
        } catch {
            throw CloacinaError(.storage, "execution \(record.id) has an unreadable workflow definition: \(error)")
        }
        var writes: [StoreWrite] = []
        let input = try Self.input(of: record)
        do throws(ContextError) {
            var (machine, actions) = try ExecutionStateMachine.restore(
                id: record.id,
                plan: plan,
                input: input,
                startedAt: record.startedAt,
                records: tasks,
                now: .now(),
                dispatching: false
            )
            actions += abort ? machine.abort(reason: reason, now: .now()) : machine.cancel(reason: reason, now: .now())
            for case .persist(let batch) in actions { writes += batch }
        } catch {
            throw CloacinaError(.storage, "execution \(record.id) has an unreadable task output: \(error.message)")
        }
        if case .failure(let error) = await runtime.writer.write(writes) { throw CloacinaError(error) }
    }

    static func input(of record: ExecutionRecord) throws(CloacinaError) -> ContextSnapshot {
        do {
            return try ContextSnapshot(parsing: record.input)
        } catch {
            throw CloacinaError(.storage, "execution \(record.id) has an unreadable input: \(error.message)")
        }
    }

    // MARK: Takeover

    /// Looks for executions no live runner holds every ``Configuration/takeoverInterval`` (when set), and takes up
    /// to the room the runner has: as many as ``Configuration/maxConcurrentTasks`` less those running here. A
    /// ``StoreSignal/work`` signal from another host (it released executions) looks at once; the timer is the
    /// fallback for a lost signal and the way to notice hosts that died.
    func scheduleTakeover() {
        guard let interval = configuration.takeoverInterval else { return }
        let timer = runtime.timers.schedule(after: interval) { [weak self] in
            guard let self, !isClosed else { return }
            announceHost()
            sweepSoon()
            scheduleTakeover()
        }
        setTakeover(timer)
    }

    /// What a signal from another host asks this runner to do.
    func signalled(_ signal: StoreSignal) {
        // A cancel request is picked up by a lease renewal, which returns the executions with one.
        if signal == .cancel || signal == .missed, hasActiveExecutions { renewSoon() }
        if signal == .work || signal == .missed, configuration.takeoverInterval != nil { sweepSoon() }
        if signal == .schedules || signal == .missed { schedulesChanged() }
    }

    /// Runs a takeover sweep now, or once more after the one under way; without a takeover interval only when
    /// `always` (a reload asks for one).
    func sweepSoon(always: Bool = false) {
        guard configuration.takeoverInterval != nil || always else { return }
        guard request(.takeover) else { return }
        runtime.timers.spawn { [weak self] in
            guard let self else { return }
            repeat {
                await takeOver()
            } while finished(.takeover)
        }
    }

    private func takeOver() async {
        let (active, waiting) = activeAndWaiting
        let room = configuration.maxConcurrentTasks - active
        guard room > 0 else {
            setBacklog(true)
            return
        }
        do {
            // Executions waiting for a package are claimed again and let go each time (oldest first): counted on
            // top, so that they never take the room of executions this runner can run.
            let report = try await resumeUnfinished(limit: room + waiting)
            // A full sweep: when an execution ends here, sweep again rather than wait for the timer (at once if
            // some ended during this sweep).
            let full = report.resumed.count + report.waiting.count + report.failed.count >= room + waiting
            setBacklog(full)
            if full, activeAndWaiting.active < configuration.maxConcurrentTasks { sweepSoon() }
            if !report.resumed.isEmpty {
                runtime.logger.notice(
                    "took over executions no live runner held",
                    metadata: ["count": "\(report.resumed.count)"]
                )
            }
        } catch {
            runtime.logger.error("could not look for executions to take over", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Leases

    /// Renews this runner's leases a third of the way through them, while it has executions, and picks up
    /// cancellations requested through the store. An idle runner makes no queries.
    ///
    /// With a ``Configuration/takeoverInterval`` (several hosts share the store), when no renewal has succeeded for
    /// five sixths of a lease (the store is unreachable: a partition, a long pause), the runner gives its executions
    /// up before another host may take them over: it stops their attempts and writes nothing more for them, and
    /// releases its claims once the store answers again (its own sweep, or another host's, resumes them). The sixth
    /// left is the margin for clocks that disagree.
    func scheduleHeartbeat() {
        let interval = configuration.leaseDuration / 3
        let timer = runtime.timers.schedule(after: interval) { [weak self] in self?.heartbeat() }
        setHeartbeat(timer)
    }

    private func heartbeat() {
        // Through a shutdown's drain too: the executions still running here are still held.
        guard !heartbeatStopped else { return }
        defer { scheduleHeartbeat() }
        guard hasActiveExecutions else {
            // Idle: no queries; and after a whole quiet period, no connections held (a host may serve many tenants).
            // Nothing is held, so nothing can expire.
            leaseRenewed(at: .now())
            if isIdle(for: configuration.leaseDuration / 3) { releaseIdleResources() }
            return
        }
        // Only where other hosts take executions over (a takeover interval is set): elsewhere an expired lease is
        // claimed by nobody, and a slow store is no reason to stop.
        let renewed = lastLeaseRenewal
        if configuration.takeoverInterval != nil, Timestamp.now() >= renewed + configuration.leaseDuration * 5 / 6 {
            giveUpExecutions(renewed: renewed)
            return
        }
        renewSoon()
    }

    /// Renews now, or once more after the renewal under way (one at a time: a renewal may wait for an unreachable
    /// store).
    private func renewSoon() {
        guard request(.renewal) else { return }
        renewLeases { [weak self] in self?.renewalEnded() }
    }

    private func renewalEnded() {
        guard finished(.renewal) else { return }
        renewLeases { [weak self] in self?.renewalEnded() }
    }

    /// Extends this runner's leases, cancels the executions whose cancellation was requested, pauses and resumes
    /// those paused or resumed elsewhere, then calls `then`;
    /// on the store's write queue, holding no task meanwhile.
    private func renewLeases(then: @escaping @Sendable () -> Void) {
        let store = runtime.store
        let owner = runtime.identity.value
        let sent = Timestamp.now()
        let until = sent + configuration.leaseDuration
        store.executor(for: .write).submit(
            { [weak self] in
                defer { then() }
                guard let self else { return }
                do {
                    let renewal = try store.renewLeases(owner: owner, until: until)
                    leaseRenewed(at: sent)
                    for id in renewal.cancelRequested {
                        activeDriver(id)?.cancel(reason: "cancellation requested")
                    }
                    // Pauses and resumes recorded by another process (this runner applies its own at once).
                    for driver in activeDrivers where driver.isPaused != renewal.paused.contains(driver.id) {
                        driver.setPaused(renewal.paused.contains(driver.id))
                    }
                } catch {
                    runtime.logger.error("could not renew execution leases", metadata: ["error": "\(error)"])
                }
            },
            ifClosed: then
        )
    }

    /// Stops every execution held here without writing anything more for them (their leases are about to end and
    /// another host may take them over), then releases the claims in the background, once the store answers.
    private func giveUpExecutions(renewed: Timestamp) {
        let drivers = activeDrivers
        guard !drivers.isEmpty else { return }
        runtime.logger.error(
            "execution leases could not be renewed in time; stopping this host's work on them",
            metadata: [
                "executions": "\(drivers.count)",
                "last renewed (ms since 1970)": "\(renewed.milliseconds)",
            ]
        )
        for driver in drivers {
            driver.stop(CloacinaError(.ownershipLost, "the lease on execution \(driver.id) could not be renewed"))
        }
        let store = runtime.store
        let owner = runtime.identity.value
        let ids = drivers.map(\.id)
        store.executor(for: .write).submit { [weak self] in
            do {
                try store.releaseLeases(owner: owner, executions: ids)
            } catch {
                // The sweeps claim them again (this host's own included) once the store answers.
                self?.runtime.logger.warning("could not release execution claims", metadata: ["error": "\(error)"])
            }
        }
    }
}
