internal import CloacinaStorage

/// Pausing, resuming, retrying and re-running executions.
extension DefaultRunner {
    /// Pauses an unfinished execution: no task of it starts until ``resume(_:)``; attempts running now finish, and
    /// their results count. The pause is durable (an execution resumed after a restart stays paused). Applied at
    /// once when this runner runs the execution; by another live runner at once on PostgreSQL (its `NOTIFY`), else
    /// at its next lease renewal. Pausing a paused execution changes nothing.
    ///
    /// Throws `notFound` for an unknown execution and `conflict` for one that ended.
    @discardableResult
    public func pause(_ id: String) async throws(CloacinaError) -> ExecutionResult {
        try await setPaused(id, true)
        activeDriver(id)?.setPaused(true)
        return try await executionStatus(id)
    }

    /// Resumes a paused execution: its tasks start again. When no live runner owns it, this runner takes it over
    /// and runs it (wait for it with ``waitForExecution(_:)``). Resuming one that is not paused changes nothing
    /// (and takes it over just the same when nobody runs it).
    ///
    /// Throws `notFound` for an unknown execution and `conflict` for one that ended.
    @discardableResult
    public func resume(_ id: String) async throws(CloacinaError) -> ExecutionResult {
        try await setPaused(id, false)
        if let driver = activeDriver(id) {
            driver.setPaused(false)
        } else {
            try await takeOver(id)
        }
        return try await executionStatus(id)
    }

    private func setPaused(_ id: String, _ paused: Bool) async throws(CloacinaError) {
        try checkStoreWritable()
        let changed = try await runtime.withStore(.write) { store throws(StoreError) in
            try store.setPaused(id, paused, at: .now())
        }
        guard !changed else { return }
        let current = try await executionStatus(id)
        if current.status.isFinished {
            throw CloacinaError(
                .conflict,
                "execution \(id) already ended (\(current.status.rawValue)); there is nothing to "
                    + (paused ? "pause" : "resume")
            )
        }
    }

    /// Claims execution `id` when no live runner owns it, and runs it here.
    func takeOver(_ id: String) async throws(CloacinaError) {
        let identity = runtime.identity
        let leaseUntil = Timestamp.now() + configuration.leaseDuration
        let claimed = try await runtime.withStore(.write) {
            store throws(StoreError) -> (ExecutionRecord, [TaskRecord])? in
            guard
                let record = try store.claim(
                    id,
                    owner: identity.value,
                    leaseUntil: leaseUntil,
                    now: .now(),
                    ownerIsAlive: identity.isAlive
                )
            else { return nil }
            return (record, try store.tasks(of: id))
        }
        guard let (record, tasks) = claimed else { return }
        guard let package = try await pinnedPackage(record) else {
            try await runtime.withStore(.write) { store throws(StoreError) in
                try store.releaseLeases(owner: identity.value, executions: [id])
            }
            throw CloacinaError(.notFound, "execution \(id) cannot run here: " + Self.missingPackage(record))
        }
        try resume(record, tasks: tasks, package: package)
    }

    /// Starts a new execution that retries `id` from its failure: the tasks that completed there (with all their
    /// dependencies) keep their recorded outputs and are not run again; failed, skipped, cancelled and never-run
    /// tasks, and what depends on them, run. The new execution records `retry_of`. It runs the package version
    /// `id` was pinned to, or with `latest`, the version serving the workflow now (outputs are then reused by task
    /// id). Returns the new execution's id once it is recorded.
    ///
    /// Throws `notFound` for an unknown execution (or a pinned package that is neither registered nor cached),
    /// `conflict` for one still running or one that completed (there is no failure to retry from: see
    /// ``rerun(_:latest:)``).
    public func retry(_ id: String, latest: Bool = false) async throws(CloacinaError) -> String {
        let (record, tasks) = try await origin(id)
        switch record.status {
        case .failed, .cancelled: break
        case .completed:
            throw CloacinaError(
                .conflict,
                "execution \(id) completed; there is no failure to retry from (rerun runs it again from the start)"
            )
        case .pending, .running:
            throw CloacinaError(
                .conflict,
                "execution \(id) is still \(record.status.rawValue.lowercased()); retry it once it ended"
            )
        }
        let (plan, package) = try await plan(of: record, latest: latest)
        let input = try Self.input(of: record)
        let machine: ExecutionStateMachine
        do throws(ContextError) {
            machine = try ExecutionStateMachine.retrying(
                id,
                id: Self.newExecutionID(),
                plan: plan,
                input: input,
                records: tasks,
                now: .now()
            )
        } catch {
            throw CloacinaError(.storage, "execution \(id) has an unreadable task output: \(error.message)")
        }
        return try await startRecorded(machine, package: package, lineage: ExecutionLineage(retryOf: id))
    }

    /// Starts a new execution of the same workflow with the same input as `id`, from the start (recording
    /// `rerun_of`), with the package version `id` was pinned to or, with `latest`, the one serving now. Any
    /// execution may be run again, finished or not. Returns the new execution's id once it is recorded.
    public func rerun(_ id: String, latest: Bool = false) async throws(CloacinaError) -> String {
        let (record, _) = try await origin(id, tasks: false)
        let (plan, package) = try await plan(of: record, latest: latest)
        let machine = ExecutionStateMachine(id: Self.newExecutionID(), plan: plan, input: try Self.input(of: record))
        return try await startRecorded(machine, package: package, lineage: ExecutionLineage(rerunOf: id))
    }

    private func origin(
        _ id: String,
        tasks: Bool = true
    ) async throws(CloacinaError) -> (
        ExecutionRecord, [TaskRecord]
    ) {
        let found = try await runtime.withStore(.read) { store throws(StoreError) -> (ExecutionRecord, [TaskRecord])? in
            guard let record = try store.execution(id) else { return nil }
            return (record, tasks ? try store.tasks(of: id) : [])
        }
        guard let found else { throw CloacinaError(.notFound, "no execution \(id)") }
        return found
    }

    /// The plan and package a retry or re-run of `record` runs: its pinned version, or the serving one.
    private func plan(
        of record: ExecutionRecord,
        latest: Bool
    ) async throws(CloacinaError) -> (ExecutionPlan, LoadedPackage) {
        if latest {
            guard let entry = registry.workflow(named: record.workflow) else {
                throw CloacinaError(
                    .unknownWorkflow,
                    "no package here serves workflow \(record.workflow) of execution \(record.id)"
                )
            }
            return (entry.plan, entry.package)
        }
        guard let package = try await pinnedPackage(record) else {
            throw CloacinaError(
                .notFound,
                "execution \(record.id) is pinned to a package not found here: " + Self.missingPackage(record)
                    + " (--latest runs the version serving the workflow now)"
            )
        }
        let plan = try registry.plan(for: package, workflow: record.workflow)
        guard plan.definitionJSON == record.definition else {
            throw CloacinaError(
                .conflict,
                "workflow \(record.workflow) of package \(package.info.name) changed since execution \(record.id) ran "
                    + "(--latest runs the version serving the workflow now)"
            )
        }
        return (plan, package)
    }
}
