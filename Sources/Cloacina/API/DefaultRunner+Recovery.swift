internal import CloacinaStorage
internal import Logging

extension DefaultRunner {
    /// What ``resumeUnfinished()`` did.
    public struct ResumeReport: Sendable {
        /// Executions now running here again.
        public var resumed: [String] = []
        /// Executions that could not go on (their package is gone, say), now `Failed`, with the reason.
        public var failed: [(id: String, reason: String)] = []
    }

    /// Takes over the unfinished executions no live runner owns (left by a runner that crashed or stopped) and
    /// carries them on: each with the package version it is pinned to, found among the registered packages or in
    /// the package cache. Attempts that were running are run again as the next attempt; scheduled retries keep
    /// their time. Executions that cannot go on are ended `Failed` with the reason.
    ///
    /// Runs on start (unless the configuration says not to); call it again after registering more packages.
    @discardableResult
    public func resumeUnfinished() async throws(CloacinaError) -> ResumeReport {
        let identity = runtime.identity
        let leaseUntil = Timestamp.now() + configuration.leaseDuration
        let claimed = try await runtime.withStore { store throws(StoreError) -> [(ExecutionRecord, [TaskRecord])] in
            let records = try store.claimUnfinished(
                owner: identity.value,
                leaseUntil: leaseUntil,
                now: .now(),
                ownerIsAlive: identity.isAlive
            )
            return try records.map { record throws(StoreError) in (record, try store.tasks(of: record.id)) }
        }
        var report = ResumeReport()
        for (record, tasks) in claimed where activeDriver(record.id) == nil {
            do throws(CloacinaError) {
                try await resume(record, tasks: tasks)
                report.resumed.append(record.id)
            } catch {
                runtime.logger.error(
                    "cannot resume execution",
                    metadata: ["execution": "\(record.id)", "workflow": "\(record.workflow)", "error": "\(error)"]
                )
                try await end(record, reason: "cannot resume: \(error.message)", abort: true)
                report.failed.append((record.id, error.message))
            }
        }
        if !report.resumed.isEmpty {
            runtime.logger.notice("resumed unfinished executions", metadata: ["count": "\(report.resumed.count)"])
        }
        return report
    }

    private func resume(_ record: ExecutionRecord, tasks: [TaskRecord]) async throws(CloacinaError) {
        let package = try await pinnedPackage(record)
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
                now: .now()
            )
        } catch {
            throw CloacinaError(.storage, "execution \(record.id) has an unreadable task output: \(error.message)")
        }
        let driver = ExecutionDriver(machine: machine, package: package, runtime: runtime, createdAt: record.createdAt)
        {
            [weak self] driver in self?.ended(driver)
        }
        try adopt(driver)
        driver.resume(with: actions)
        if record.cancelRequested { driver.cancel(reason: "cancellation requested") }
    }

    /// The package an execution is pinned to: registered, or reloaded from the package cache by its SHA-256.
    private func pinnedPackage(_ record: ExecutionRecord) async throws(CloacinaError) -> LoadedPackage {
        guard let reference = record.package else {
            throw CloacinaError(.notFound, "execution \(record.id) names no package")
        }
        if let package = registry.package(matching: reference) { return package }
        guard let sha256 = reference.sha256 else {
            throw CloacinaError(
                .notFound,
                "package \(reference.name) \(reference.version), compiled into the program that started the execution, is not registered"
            )
        }
        let loader = packages
        let cached = "\(configuration.packageCacheDirectory)/\(sha256).so"
        let report = try await runtime.blocking { () throws(CloacinaError) in loader.load(file: cached) }
        guard let package = report.package, package.sha256 == sha256 else {
            throw CloacinaError(
                .notFound,
                "package \(reference.name) \(reference.version) (sha256 \(sha256)) is neither registered nor in the package cache: "
                    + (report.error?.description ?? "its cached copy differs")
            )
        }
        return package
    }

    /// Ends a claimed execution without running anything: cancelled on request, or failed when it cannot go on.
    func end(_ record: ExecutionRecord, reason: String, abort: Bool) async throws(CloacinaError) {
        let id = record.id
        let tasks = try await runtime.withStore { store throws(StoreError) in try store.tasks(of: id) }
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

    private static func input(of record: ExecutionRecord) throws(CloacinaError) -> ContextSnapshot {
        do {
            return try ContextSnapshot(parsing: record.input)
        } catch {
            throw CloacinaError(.storage, "execution \(record.id) has an unreadable input: \(error.message)")
        }
    }

    // MARK: Leases

    /// Renews this runner's leases a third of the way through them, while it has executions, and picks up
    /// cancellations requested through the store. An idle runner makes no queries.
    func scheduleHeartbeat() {
        let interval = configuration.leaseDuration / 3
        let timer = runtime.timers.schedule(after: interval) { [weak self] in self?.heartbeat() }
        setHeartbeat(timer)
    }

    private func heartbeat() {
        guard hasActiveExecutions else {
            // Idle: no queries; and after a whole quiet period, no connections held (a host may serve many tenants).
            if isIdle(for: configuration.leaseDuration / 3) { releaseIdleResources() }
            if !isClosed { scheduleHeartbeat() }
            return
        }
        let store = runtime.store
        let owner = runtime.identity.value
        let until = Timestamp.now() + configuration.leaseDuration
        runtime.blockingPool.submit(
            WorkerPool.Job(
                run: { [weak self] in
                    guard let self else { return }
                    do {
                        for id in try store.renewLeases(owner: owner, until: until) {
                            activeDriver(id)?.cancel(reason: "cancellation requested")
                        }
                    } catch {
                        runtime.logger.error("could not renew execution leases", metadata: ["error": "\(error)"])
                    }
                    if !isClosed { scheduleHeartbeat() }
                },
                owner: runtime.jobOwner
            )
        )
    }
}
