public import CloacinaStorage
internal import Synchronization

/// Owner-guarded batches, applied once.
///
/// A batch runs in one transaction: the rows whose ownership it checks are locked (`FOR UPDATE`, in id order so two
/// writers cannot deadlock on them) until it commits, so no claim can slip in between the check and the write.
/// The transaction id is read before `COMMIT`; when the connection breaks during `COMMIT`, `txid_status` on a new
/// connection says whether it committed (done), aborted (run the batch again) or is still running (ask again).
/// When the server cannot be asked before ``PostgresExecutionStore/retryTimeout`` passes, the batch is remembered
/// and the question asked again when the same batch is written again, so a caller's retry never applies it twice.
extension PostgresExecutionStore {
    /// A batch whose `COMMIT` was interrupted, with what it would return had it committed.
    struct InDoubtBatch: Sendable {
        var transaction: Int64
        var writes: [StoreWrite]
        var owner: String
        var lost: Set<String>
    }

    private enum Attempt {
        case committed(Set<String>)
        case inDoubt(transaction: Int64, lost: Set<String>)
    }

    private enum Outcome {
        case committed, aborted
    }

    public func write(_ writes: [StoreWrite], owner: String) throws(StoreError) -> Set<String> {
        var backoff = RetryBackoff(timeout: retryTimeout)
        if let doubt = inDoubt.withLock({ $0 }) {
            if doubt.writes == writes && doubt.owner == owner {
                let outcome = try resolve(doubt, backoff: &backoff)
                inDoubt.withLock { $0 = nil }
                if outcome == .committed { return doubt.lost }
            } else {
                // The caller gave up on that batch; whatever became of it, it is not this one.
                inDoubt.withLock { $0 = nil }
            }
        }
        while true {
            let attempt: Attempt
            do throws(PostgresError) {
                attempt = try pool.withConnection { connection throws(PostgresError) in
                    try self.attempt(writes, owner: owner, on: connection)
                }
            } catch {
                guard Self.isRetryable(error), backoff.pause() else { throw error.storeError }
                continue
            }
            switch attempt {
            case .committed(let lost):
                return lost
            case .inDoubt(let transaction, let lost):
                let doubt = InDoubtBatch(transaction: transaction, writes: writes, owner: owner, lost: lost)
                inDoubt.withLock { $0 = doubt }
                let outcome = try resolve(doubt, backoff: &backoff)
                inDoubt.withLock { $0 = nil }
                if outcome == .committed { return lost }
            }
        }
    }

    /// Runs the batch in a transaction on `connection`.
    private func attempt(
        _ writes: [StoreWrite],
        owner: String,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Attempt {
        let begun = try connection.execute("BEGIN; SELECT txid_current()")
        guard let transaction = begun.rows.first?.int64(0) else {
            _ = try? connection.execute("ROLLBACK")
            throw PostgresError(.server, message: "txid_current() returned nothing", context: "beginning a batch")
        }
        let lost: Set<String>
        do throws(PostgresError) {
            lost = try apply(writes, owner: owner, on: connection)
        } catch {
            if connection.isOpen && !connection.isIdle { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
        let hooks = self.hooks.withLock { hooks in
            defer { hooks.loseNextCommitReply = false }
            return hooks
        }
        hooks.beforeCommit?(connection.backendPID)
        do throws(PostgresError) {
            try connection.execute("COMMIT")
        } catch  where error.isConnectionFailure {
            return .inDoubt(transaction: transaction, lost: lost)
        }
        if hooks.loseNextCommitReply { return .inDoubt(transaction: transaction, lost: lost) }
        return .committed(lost)
    }

    /// Asks the server what became of `doubt`'s transaction until it knows or the backoff gives up.
    private func resolve(_ doubt: InDoubtBatch, backoff: inout RetryBackoff) throws(StoreError) -> Outcome {
        var lastError: PostgresError?
        repeat {
            let status: String?
            do throws(PostgresError) {
                status = try pool.withConnection { connection throws(PostgresError) in
                    try connection.query("SELECT txid_status($1::bigint)", [.integer(doubt.transaction)]).rows.first?
                        .text(0)
                }
            } catch {
                guard Self.isRetryable(error) else { throw error.storeError }
                lastError = error
                continue
            }
            switch status {
            case "committed": return .committed
            case "aborted": return .aborted
            case "in progress": continue
            default:
                throw StoreError(
                    .unavailable,
                    "the outcome of an interrupted commit of \(doubt.writes.count) writes to \(location) is "
                        + "unknown: the server no longer knows transaction \(doubt.transaction)"
                )
            }
        } while backoff.pause()
        throw StoreError(
            .unavailable,
            "the connection broke while \(doubt.writes.count) writes to \(location) committed, and whether they "
                + "committed is not known yet\(lastError.map { " (\($0))" } ?? ""); writing the same batch again "
                + "finds out first and never applies it twice"
        )
    }

    /// Applies the batch's writes in order, skipping those to executions `owner` does not own (other than those the
    /// batch inserts); returns the ids skipped.
    private func apply(
        _ writes: [StoreWrite],
        owner: String,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Set<String> {
        // Ownership is checked (and locked) up front for every execution the batch changes before inserting it.
        var insertedSoFar: Set<String> = []
        var checked: Set<String> = []
        for write in writes {
            if case .insertExecution = write {
                insertedSoFar.insert(write.executionID)
            } else if !insertedSoFar.contains(write.executionID) {
                checked.insert(write.executionID)
            }
        }
        var owned: Set<String> = []
        if !checked.isEmpty {
            let rows = try connection.query(
                "SELECT id, claimed_by FROM \(executionsTable) WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                [.textArray(checked.sorted())]
            ).rows
            for row in rows where row.text(1) == owner { owned.insert(row.text(0) ?? "") }
        }
        var inserted: Set<String> = []
        var lost: Set<String> = []
        var events: [ExecutionEvent] = []
        for write in writes {
            let id = write.executionID
            if case .insertExecution(let record, let tasks) = write {
                try insertEvents(&events, on: connection)
                try insert(record, tasks: tasks, owner: owner, on: connection)
                inserted.insert(id)
                continue
            }
            guard inserted.contains(id) || owned.contains(id) else {
                lost.insert(id)
                continue
            }
            if case .appendEvent(let event) = write {
                events.append(event)
                continue
            }
            try insertEvents(&events, on: connection)
            try update(write, on: connection)
        }
        try insertEvents(&events, on: connection)
        return lost
    }

    private func insert(
        _ record: ExecutionRecord,
        tasks: [TaskRecord],
        owner: String,
        on connection: PostgresConnection
    ) throws(PostgresError) {
        try connection.query(
            "INSERT INTO \(executionsTable) (\(Self.executionColumns)) VALUES \(Self.placeholders(rows: 1, columns: 16))",
            Self.executionValues(record, owner: owner)
        )
        // Many rows per statement (well under PostgreSQL's 65 535 parameters), in one round trip each.
        for start in stride(from: 0, to: tasks.count, by: 1000) {
            let chunk = tasks[start..<min(start + 1000, tasks.count)]
            try connection.query(
                "INSERT INTO \(tasksTable) (\(Self.taskColumns)) VALUES \(Self.placeholders(rows: chunk.count, columns: 11))",
                chunk.flatMap(Self.taskValues)
            )
        }
    }

    /// Inserts the queued events, in order, in as few statements as possible, and empties the queue.
    private func insertEvents(_ events: inout [ExecutionEvent], on connection: PostgresConnection) throws(PostgresError)
    {
        guard !events.isEmpty else { return }
        // The rows of one INSERT … VALUES take their identity values in the order listed.
        for start in stride(from: 0, to: events.count, by: 1000) {
            let chunk = events[start..<min(start + 1000, events.count)]
            try connection.query(
                """
                INSERT INTO \(eventsTable) (execution_id, task_id, kind, attempt, detail, created_at)
                VALUES \(Self.placeholders(rows: chunk.count, columns: 6))
                """,
                chunk.flatMap(Self.eventValues)
            )
        }
        events.removeAll(keepingCapacity: true)
    }

    private func update(_ write: StoreWrite, on connection: PostgresConnection) throws(PostgresError) {
        switch write {
        case .insertExecution, .appendEvent:
            return
        case .updateExecution(let update):
            try connection.query(
                """
                UPDATE \(executionsTable) SET status = $1, started_at = COALESCE($2::bigint, started_at),
                    completed_at = COALESCE($3::bigint, completed_at),
                    final_context = COALESCE($4::text, final_context), error = COALESCE($5::text, error)
                WHERE id = $6
                """,
                [
                    .text(update.status.rawValue), Self.integer(update.startedAt), Self.integer(update.completedAt),
                    Self.utf8(update.finalContext), Self.text(update.error), .text(update.id),
                ]
            )
        case .updateTask(let task):
            let values = Self.taskValues(task)
            try connection.query(
                """
                UPDATE \(tasksTable) SET status = $1, attempt = $2, max_attempts = $3, next_retry_at = $4,
                    started_at = $5, completed_at = $6, error = $7, output = $8
                WHERE execution_id = $9 AND task_id = $10
                """,
                Array(values[3...]) + [values[0], values[1]]
            )
        }
    }
}
