public import CloacinaStorage

extension DefaultRunner {
    /// The execution's current state: from memory when it runs in this runner, else from the store.
    public func executionStatus(_ id: String) async throws(CloacinaError) -> ExecutionResult {
        if let driver = activeDriver(id) {
            let (record, tasks) = driver.snapshot()
            return ExecutionResult(record: record, tasks: tasks, tenant: tenant)
        }
        let stored = try await runtime.withStore(.read) {
            store throws(StoreError) -> (ExecutionRecord, [TaskRecord])? in
            guard let record = try store.execution(id) else { return nil }
            return (record, try store.tasks(of: id))
        }
        guard let (record, tasks) = stored else {
            throw CloacinaError(.notFound, "no execution \(id) in tenant \(tenant)")
        }
        return ExecutionResult(record: record, tasks: tasks, tenant: tenant)
    }

    /// Waits for an execution this runner is running to end, then returns its result. For an execution not
    /// running here, returns its current state at once. With `untilPaused`, also returns once the execution is
    /// paused with no attempt of it running (else a paused execution is waited for until it is resumed and ends).
    public func waitForExecution(
        _ id: String,
        untilPaused: Bool = false
    ) async throws(CloacinaError)
        -> ExecutionResult
    {
        if let driver = activeDriver(id) { try await driver.wait(untilSettled: untilPaused) }
        return try await executionStatus(id)
    }

    /// Executions matching `query`, newest first, without their tasks: at most `query.limit` of them (100 unless
    /// set). Page through more with `query.after` set to the cursor of each page's last execution
    /// (`ExecutionCursor(createdAt:id:)`) until a page comes back short: each page costs the same whatever the
    /// history's size (an offset, also accepted, costs what it skips). ``countExecutions(_:upTo:)`` gives the total.
    public func listExecutions(
        _ query: ExecutionQuery = ExecutionQuery()
    ) async throws(CloacinaError) -> [ExecutionSummary] {
        let records = try await runtime.withStore(.read) { store throws(StoreError) in try store.executions(query) }
        return records.map { ExecutionSummary(record: $0, tenant: tenant) }
    }

    /// The number of executions matching `query`'s filters, counting no further than `limit` when given (a bounded
    /// cost for a large history).
    public func countExecutions(
        _ query: ExecutionQuery = ExecutionQuery(),
        upTo limit: Int? = nil
    ) async throws(CloacinaError) -> Int {
        try await runtime.withStore(.read) { store throws(StoreError) in try store.countExecutions(query, upTo: limit) }
    }

    /// Counts by status and the average duration of ended executions, computed by the store.
    public func statistics() async throws(CloacinaError) -> TenantMetrics {
        try await runtime.withStore(.read) { store throws(StoreError) in try store.statistics() }
    }

    /// An execution's recorded history after sequence number `after`, oldest first, at most `limit` events when
    /// given (a page costs the same however long the history is).
    public func events(
        of id: String,
        after: Int64 = 0,
        limit: Int? = nil
    ) async throws(CloacinaError) -> [ExecutionEvent] {
        try await runtime.withStore(.read) { store throws(StoreError) in
            try store.events(of: id, after: after, limit: limit)
        }
    }

    /// Whether execution `id` has ended, read from its row alone (no tasks, contexts or definition); throws
    /// `notFound` for an unknown execution.
    func isFinished(_ id: String) async throws(CloacinaError) -> Bool {
        let found = try await runtime.withStore(.read) { store throws(StoreError) in
            try store.executions(ExecutionQuery(idPrefix: id, limit: 1)).first { $0.id == id }?.status
        }
        guard let status = found else { throw CloacinaError(.notFound, "no execution \(id) in tenant \(tenant)") }
        return status.isFinished
    }

    /// Execution `id`'s history from after sequence number `after`, as it is recorded: see ``ExecutionEventFeed``.
    public func followEvents(
        of id: String,
        after: Int64 = 0,
        interval: Duration = .milliseconds(200)
    ) -> ExecutionEventFeed {
        ExecutionEventFeed(runner: self, id: id, after: after, interval: interval)
    }

    /// Cancels an execution: running tasks are told to stop, nothing new starts, and it ends `Cancelled`.
    ///
    /// When this runner runs it, the cancellation is immediate (with `waitForEnd`, this returns once the execution
    /// ended; without, at once). When no live runner owns it (its runner crashed), this runner takes it over and
    /// cancels it. When another live runner owns it, the request is recorded and that runner carries it out: at once
    /// when the store signals it (PostgreSQL's `NOTIFY`), else at its next lease renewal, within a third of its
    /// lease; the returned state is still unfinished then. Cancelling a finished execution changes nothing.
    @discardableResult
    public func cancel(
        _ id: String,
        reason: String = "cancelled on request",
        waitForEnd: Bool = true
    ) async throws(CloacinaError)
        -> ExecutionResult
    {
        if let driver = activeDriver(id) {
            driver.cancel(reason: reason)
            if waitForEnd { try await driver.wait() }
            return try await executionStatus(id)
        }
        let current = try await executionStatus(id)
        guard !current.status.isFinished else { return current }
        let identity = runtime.identity
        let leaseUntil = Timestamp.now() + configuration.leaseDuration
        let claimed = try await runtime.withStore(.write) { store throws(StoreError) -> ExecutionRecord? in
            if let record = try store.claim(
                id,
                owner: identity.value,
                leaseUntil: leaseUntil,
                now: .now(),
                ownerIsAlive: identity.isAlive
            ) {
                return record
            }
            _ = try store.requestCancel(id)
            return nil
        }
        if let record = claimed {
            try await end(record, reason: reason, abort: false)
        }
        return try await executionStatus(id)
    }
}
