public import CloacinaStorage
internal import Synchronization

/// Owner-guarded batches, applied once.
///
/// A batch runs in one transaction: the rows whose ownership it checks are locked (`FOR UPDATE`, in id order so two
/// writers cannot deadlock on them) until it commits, so no claim can slip in between the check and the write.
/// Statements go through libpq's pipeline mode: a batch of any common size takes two round trips.
/// The transaction id is read before `COMMIT`; when the connection breaks during `COMMIT`, `txid_status` on a new
/// connection says whether it committed (done), aborted (run the batch again) or is still running (ask again).
/// When the server cannot be asked before ``PostgresExecutionStore/retryTimeout`` passes, the batch is remembered
/// (the last 16 such batches) and the question asked again when the same batch is written again, so a caller's
/// retry never applies it twice.
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
        guard !writes.isEmpty else { return [] }
        var backoff = RetryBackoff(timeout: retryTimeout, closing: closing)
        if let doubt = inDoubt.withLock({ $0.first { $0.writes == writes && $0.owner == owner } }) {
            // This batch was written before and its commit was interrupted: find out before writing it again.
            let outcome = try resolve(doubt, backoff: &backoff)
            forget(doubt)
            if outcome == .committed { return doubt.lost }
        }
        while true {
            let attempt: Attempt
            do throws(PostgresError) {
                attempt = try withConnection { connection throws(PostgresError) in
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
                inDoubt.withLock { batches in
                    batches.append(doubt)
                    // Batches nobody wrote again are forgotten eventually.
                    if batches.count > 16 { batches.removeFirst() }
                }
                let outcome = try resolve(doubt, backoff: &backoff)
                forget(doubt)
                if outcome == .committed { return lost }
            }
        }
    }

    private func forget(_ doubt: InDoubtBatch) {
        inDoubt.withLock { batches in batches.removeAll { $0.transaction == doubt.transaction } }
    }

    /// Runs the batch in a transaction on `connection`, in two pipelined round trips (more for large batches):
    /// begin, read the transaction id and lock the rows whose ownership counts; then every write and `COMMIT`.
    private func attempt(
        _ writes: [StoreWrite],
        owner: String,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Attempt {
        let checked = Self.executionsToCheck(writes)
        var opening = [PostgresStatement("BEGIN"), PostgresStatement("SELECT txid_current()")]
        if !checked.isEmpty {
            opening.append(
                PostgresStatement(
                    "SELECT id, claimed_by FROM \(executionsTable) WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                    [.textArray(checked.sorted())]
                )
            )
        }
        let transaction: Int64
        let owned: Set<String>
        do throws(PostgresError) {
            let results = try connection.pipeline(opening)
            guard let id = results[1].rows.first?.int64(0) else {
                throw PostgresError(.server, message: "txid_current() returned nothing", context: "beginning a batch")
            }
            transaction = id
            owned = Set(
                (results.count > 2 ? results[2].rows : []).filter { $0.text(1) == owner }.map { $0.text(0) ?? "" }
            )
        } catch {
            Self.rollBack(connection)
            throw error
        }
        let (statements, lost) = plan(writes, owner: owner, owned: owned)
        let segments = stride(from: 0, to: statements.count, by: Self.segmentLength).map {
            Array(statements[$0..<min($0 + Self.segmentLength, statements.count)])
        }
        for segment in segments.dropLast() {
            do throws(PostgresError) {
                _ = try connection.pipeline(segment)
            } catch {
                Self.rollBack(connection)
                throw error
            }
        }
        do throws(PostgresError) {
            // The last writes and COMMIT in one round trip: a broken connection here leaves the outcome unknown.
            _ = try connection.pipeline((segments.last ?? []) + [PostgresStatement("COMMIT")])
        } catch  where error.isConnectionFailure {
            return .inDoubt(transaction: transaction, lost: lost)
        } catch {
            Self.rollBack(connection)
            throw error
        }
        return .committed(lost)
    }

    /// Statements per pipeline round trip: enough to make most batches one, few enough that results never fill
    /// the socket buffers while statements are still being sent.
    private static let segmentLength = 200

    private static func rollBack(_ connection: PostgresConnection) {
        if connection.isOpen && !connection.isIdle { _ = try? connection.execute("ROLLBACK") }
    }

    /// The executions whose ownership the batch depends on: those it changes before (or without) inserting them.
    private static func executionsToCheck(_ writes: [StoreWrite]) -> Set<String> {
        var insertedSoFar: Set<String> = []
        var checked: Set<String> = []
        for write in writes {
            if case .insertExecution = write {
                insertedSoFar.insert(write.executionID)
            } else if !insertedSoFar.contains(write.executionID) {
                checked.insert(write.executionID)
            }
        }
        return checked
    }

    /// Asks the server what became of `doubt`'s transaction until it knows or the backoff gives up.
    private func resolve(_ doubt: InDoubtBatch, backoff: inout RetryBackoff) throws(StoreError) -> Outcome {
        var lastError: PostgresError?
        repeat {
            let status: String?
            do throws(PostgresError) {
                status = try withConnection { connection throws(PostgresError) in
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

    /// The statements applying the batch's writes in order, skipping those to executions `owner` does not own
    /// (other than those the batch inserts), and the ids skipped. Consecutive events share one INSERT.
    private func plan(
        _ writes: [StoreWrite],
        owner: String,
        owned: Set<String>
    ) -> (statements: [PostgresStatement], lost: Set<String>) {
        var statements: [PostgresStatement] = []
        var inserted: Set<String> = []
        var lost: Set<String> = []
        var events: [ExecutionEvent] = []
        for write in writes {
            let id = write.executionID
            if case .insertExecution(let record, let tasks) = write {
                statements += insertEvents(&events)
                statements += insert(record, tasks: tasks, owner: owner)
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
            statements += insertEvents(&events)
            if let statement = update(write) { statements.append(statement) }
        }
        statements += insertEvents(&events)
        return (statements, lost)
    }

    private func insert(_ record: ExecutionRecord, tasks: [TaskRecord], owner: String) -> [PostgresStatement] {
        var statements = [
            PostgresStatement(
                "INSERT INTO \(executionsTable) (\(Self.executionColumns)) VALUES \(Self.placeholders(rows: 1, columns: 16))",
                Self.executionValues(record, owner: owner)
            )
        ]
        // Many rows per statement, well under PostgreSQL's 65 535 parameters.
        for start in stride(from: 0, to: tasks.count, by: 1000) {
            let chunk = tasks[start..<min(start + 1000, tasks.count)]
            statements.append(
                PostgresStatement(
                    "INSERT INTO \(tasksTable) (\(Self.taskColumns)) VALUES \(Self.placeholders(rows: chunk.count, columns: 11))",
                    chunk.flatMap(Self.taskValues)
                )
            )
        }
        return statements
    }

    /// Inserts for the queued events, in order, and empties the queue.
    private func insertEvents(_ events: inout [ExecutionEvent]) -> [PostgresStatement] {
        guard !events.isEmpty else { return [] }
        defer { events.removeAll(keepingCapacity: true) }
        // The rows of one INSERT … VALUES take their identity values in the order listed.
        return stride(from: 0, to: events.count, by: 1000).map { start in
            let chunk = events[start..<min(start + 1000, events.count)]
            return PostgresStatement(
                """
                INSERT INTO \(eventsTable) (execution_id, task_id, kind, attempt, detail, created_at)
                VALUES \(Self.placeholders(rows: chunk.count, columns: 6))
                """,
                chunk.flatMap(Self.eventValues)
            )
        }
    }

    private func update(_ write: StoreWrite) -> PostgresStatement? {
        switch write {
        case .insertExecution, .appendEvent:
            return nil
        case .updateExecution(let update):
            return PostgresStatement(
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
            return PostgresStatement(
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
