public import CloacinaStorage
internal import Synchronization

/// Owner-guarded batches, applied once, in one round trip.
///
/// A batch is one transaction sent as one libpq pipeline: `BEGIN`; one statement that locks the rows whose ownership
/// counts that the writer owns (an `UPDATE`, in id order so two writers cannot deadlock on them), marks them with a
/// token of this batch (`write_token`) and reads the transaction id; then every write, each guarded by that token,
/// so it changes only executions the batch locked as owned or inserts; then `COMMIT`. Statements are prepared once
/// per connection; the task rows of a batch change in one set-based `UPDATE` (but those with large outputs), all
/// its events go in one multi-row `INSERT`, and all its attempts' log lines in another.
///
/// The server sends the lock's result (with the transaction id) before it runs the writes. When the connection
/// breaks before `COMMIT`'s reply arrives, `txid_status` on a new connection says whether it committed (done),
/// aborted (run the batch again) or is still running (ask again). When even the transaction id was lost, the old
/// session is ended (`pg_terminate_backend`, which only the same role may do to its own sessions) and waited for,
/// after which its transaction is over for good, and the batch's token on its executions says whether it committed.
/// When the server cannot be asked before ``PostgresExecutionStore/retryTimeout`` passes, the batch is remembered
/// (the last 16 such batches) and the question asked again when the same batch is written again, so a caller's
/// retry never applies it twice.
extension PostgresExecutionStore {
    /// A batch whose `COMMIT` was interrupted, with what it would return had it committed.
    struct InDoubtBatch: Sendable {
        /// The transaction id, when its result arrived before the connection broke.
        var transaction: Int64?
        /// The token the batch marked its executions with.
        var token: Int64
        /// The server process of the session that ran it, to end when the transaction id is unknown.
        var backend: Int32
        var writes: [StoreWrite]
        var owner: String
        var lost: Set<String>
    }

    private enum Attempt {
        case committed(Set<String>)
        case inDoubt(InDoubtBatch)
    }

    private enum Outcome: Equatable {
        case committed(lost: Set<String>)
        case aborted
    }

    public func write(_ writes: [StoreWrite], owner: String) throws(StoreError) -> Set<String> {
        guard !writes.isEmpty else { return [] }
        var backoff = RetryBackoff(timeout: retryTimeout, closing: closing)
        if let doubt = inDoubt.withLock({ $0.first { $0.writes == writes && $0.owner == owner } }) {
            // This batch was written before and its commit was interrupted: find out before writing it again.
            let outcome = try resolve(doubt, backoff: &backoff)
            forget(doubt)
            if case .committed(let lost) = outcome { return lost }
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
            case .inDoubt(let doubt):
                inDoubt.withLock { batches in
                    batches.append(doubt)
                    // Batches nobody wrote again are forgotten eventually.
                    if batches.count > 16 { batches.removeFirst() }
                }
                let outcome = try resolve(doubt, backoff: &backoff)
                forget(doubt)
                if case .committed(let lost) = outcome { return lost }
            }
        }
    }

    private func forget(_ doubt: InDoubtBatch) {
        inDoubt.withLock { batches in batches.removeAll { $0.token == doubt.token } }
    }

    /// Runs the batch in a transaction on `connection`: one pipelined round trip (more for very large batches).
    private func attempt(
        _ writes: [StoreWrite],
        owner: String,
        on connection: PostgresConnection
    ) throws(PostgresError) -> Attempt {
        let checked = Self.executionsToCheck(writes)
        let token = Int64.random(in: 1...Int64.max)
        var statements = [
            PostgresStatement("BEGIN", prepared: "cloacina_begin"),
            PostgresStatement(
                batchSQL.lockSQL,
                [.textArray(checked.sorted()), .text(owner), .integer(token)],
                prepared: "cloacina_lock",
                flush: true
            ),
        ]
        statements += plan(writes, owner: owner, token: token)
        statements.append(PostgresStatement("COMMIT", prepared: "cloacina_commit"))
        var doubt = InDoubtBatch(
            transaction: nil,
            token: token,
            backend: connection.backendPID,
            writes: writes,
            owner: owner,
            lost: checked
        )
        let segments = stride(from: 0, to: statements.count, by: Self.segmentLength).map {
            Array(statements[$0..<min($0 + Self.segmentLength, statements.count)])
        }
        for (number, segment) in segments.enumerated() {
            do throws(PostgresError) {
                _ = try connection.pipeline(segment) { index, result in
                    guard number == 0, index == 1 else { return }
                    // The lock's rows: the transaction id, and each execution it locked as owned (NULL for none).
                    doubt.transaction = result.rows.first?.int64(0)
                    for row in result.rows { if let id = row.text(1) { doubt.lost.remove(id) } }
                }
            } catch  where error.isConnectionFailure && number == segments.count - 1 {
                // COMMIT was sent: whether it happened is unknown until the server is asked.
                return .inDoubt(doubt)
            } catch {
                Self.rollBack(connection)
                throw error
            }
        }
        return .committed(doubt.lost)
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
            let outcome: Outcome?
            do throws(PostgresError) {
                outcome = try withConnection { connection throws(PostgresError) in
                    try self.outcome(of: doubt, on: connection)
                }
            } catch {
                guard Self.isRetryable(error) else { throw error.storeError }
                lastError = error
                continue
            }
            if let outcome { return outcome }
        } while backoff.pause()
        throw StoreError(
            .unavailable,
            "the connection broke while \(doubt.writes.count) writes to \(location) committed, and whether they "
                + "committed is not known yet\(lastError.map { " (\($0))" } ?? ""); writing the same batch again "
                + "finds out first and never applies it twice"
        )
    }

    /// What became of `doubt`'s transaction; nil while it may still be running.
    private func outcome(of doubt: InDoubtBatch, on connection: PostgresConnection) throws(PostgresError) -> Outcome? {
        if let transaction = doubt.transaction {
            let status = try connection.query("SELECT txid_status($1::bigint)", [.integer(transaction)]).rows.first?
                .text(0)
            switch status {
            case "committed": return .committed(lost: doubt.lost)
            case "aborted": return .aborted
            case "in progress": return nil
            default:
                throw PostgresError(
                    .server,
                    message: "the outcome of an interrupted commit of \(doubt.writes.count) writes is unknown: the "
                        + "server no longer knows transaction \(transaction)",
                    context: "resolving a commit in doubt in \(location)"
                )
            }
        }
        // The transaction id never arrived: end the session that ran the batch (if it still runs) and wait for it,
        // so that its transaction is over for good before looking for its token.
        let ending = try connection.query(
            """
            SELECT pg_terminate_backend(pid, 1000) FROM pg_stat_activity
            WHERE pid = $1 AND usename = current_user AND pid <> pg_backend_pid()
            """,
            [.integer(Int64(doubt.backend))]
        ).rows
        guard ending.allSatisfy({ $0.bool(0) == true }) else { return nil }
        let ids = Set(doubt.writes.map(\.executionID))
        let marked = try connection.query(
            "SELECT id FROM \(executionsTable) WHERE id = ANY($1::text[]) AND write_token = $2",
            [.textArray(ids.sorted()), .integer(doubt.token)]
        ).rows.compactMap { $0.text(0) }
        guard !marked.isEmpty else { return .aborted }
        return .committed(lost: doubt.lost.subtracting(marked))
    }

    /// The statements applying the batch's writes, each guarded by `token` (so only executions the lock marked as
    /// owned, or the batch inserts, change): inserts first, in order; then execution updates, in order; then the
    /// last state of each task the batch changes; then all its events in one `INSERT`, in order; then all its log
    /// lines likewise, and the tasks' dropped-line counts in one `UPDATE`. The tables are
    /// independent but for the inserts the others refer to, so this order leaves what the batch's order would.
    func plan(_ writes: [StoreWrite], owner: String, token: Int64) -> [PostgresStatement] {
        var inserts: [PostgresStatement] = []
        var executionUpdates: [PostgresStatement] = []
        var tasks: [TaskRecord] = []
        var taskIndex: [TaskKey: Int] = [:]
        var events: [ExecutionEvent] = []
        var logs: [TaskLogBatch] = []
        /// The tasks of every execution the batch inserts, in one statement after the executions.
        var insertedTasks: [TaskRecord] = []
        for write in writes {
            switch write {
            case .insertExecution(let record, let records):
                let definition = SHA256.hex(record.definition)
                inserts += [
                    PostgresStatement(
                        batchSQL.insertDefinitionSQL,
                        [.text(definition), .utf8(record.definition)],
                        prepared: "cloacina_insert_definition"
                    ),
                    PostgresStatement(
                        batchSQL.insertExecutionSQL,
                        Self.executionValues(record, owner: owner, definition: definition) + [.integer(token)],
                        prepared: "cloacina_insert_execution"
                    ),
                ]
                let inline = ExecutionRecord.inlineContextBytes
                for (kind, context) in [("input", record.input), ("final", record.finalContext ?? [])]
                where context.count > inline {
                    inserts.append(
                        PostgresStatement(
                            batchSQL.insertContextSQL,
                            [.text(record.id), .text(kind), .utf8(context), .integer(token)],
                            prepared: "cloacina_insert_context"
                        )
                    )
                }
                insertedTasks += records
            case .updateExecution(let update):
                // A final context replaces the one before: in the row when small (NULL there when large, so the row
                // of its own is what is read).
                let large = update.finalContext.map { $0.count > ExecutionRecord.inlineContextBytes } ?? false
                executionUpdates.append(
                    PostgresStatement(
                        batchSQL.updateExecutionSQL,
                        [
                            .text(update.status.rawValue), Self.integer(update.startedAt),
                            Self.integer(update.completedAt), Self.text(update.error), .text(update.id),
                            .integer(token), .boolean(update.finalContext != nil),
                            large ? .null : Self.utf8(update.finalContext),
                        ],
                        prepared: "cloacina_update_execution"
                    )
                )
                if let finalContext = update.finalContext, large {
                    executionUpdates.append(
                        PostgresStatement(
                            batchSQL.insertContextSQL,
                            [.text(update.id), .text("final"), .utf8(finalContext), .integer(token)],
                            prepared: "cloacina_insert_context"
                        )
                    )
                }
            case .updateTask(let task):
                let key = TaskKey(executionID: task.executionID, taskID: task.taskID)
                if let index = taskIndex[key] {
                    tasks[index] = task
                } else {
                    taskIndex[key] = tasks.count
                    tasks.append(task)
                }
            case .appendEvent(let event):
                events.append(event)
            case .appendLogs(let batch):
                logs.append(batch)
            }
        }
        if !insertedTasks.isEmpty {
            inserts.append(
                PostgresStatement(
                    batchSQL.insertTasksSQL,
                    Self.taskArrays(insertedTasks),
                    prepared: "cloacina_insert_tasks"
                )
            )
        }
        var statements = inserts + executionUpdates
        // Many task rows in one statement; a large output goes in a statement of its own, as it is (an array
        // literal would escape every quote of it).
        let (shared, alone) = tasks.reduce(into: ([TaskRecord](), [TaskRecord]())) { split, task in
            if (task.output?.count ?? 0) <= Self.sharedOutputBytes {
                split.0.append(task)
            } else {
                split.1.append(task)
            }
        }
        if shared.count > 1 {
            statements.append(
                PostgresStatement(
                    batchSQL.updateTasksSQL,
                    Self.taskArrays(shared) + [.integer(token)],
                    prepared: "cloacina_update_tasks"
                )
            )
        }
        for task in shared.count > 1 ? alone : shared + alone {
            statements.append(
                PostgresStatement(
                    batchSQL.updateTaskSQL,
                    [
                        .text(task.status.rawValue), .integer(Int64(task.attempt)), .integer(Int64(task.maxAttempts)),
                        Self.integer(task.nextRetryAt), Self.integer(task.startedAt), Self.integer(task.completedAt),
                        Self.text(task.error), Self.utf8(task.output), .text(task.executionID), .text(task.taskID),
                        .integer(token),
                    ],
                    prepared: "cloacina_update_task"
                )
            )
        }
        if !events.isEmpty {
            statements.append(
                PostgresStatement(
                    batchSQL.insertEventsSQL,
                    Self.eventArrays(events) + [.integer(token)],
                    prepared: "cloacina_insert_events"
                )
            )
        }
        statements += logStatements(logs, token: token)
        return statements
    }

    /// All the batch's log lines in one `INSERT`, in order, and the dropped counts in one `UPDATE` (when any).
    private func logStatements(_ logs: [TaskLogBatch], token: Int64) -> [PostgresStatement] {
        var statements: [PostgresStatement] = []
        let entries = logs.reduce(0) { $0 + $1.entries.count }
        if entries > 0 {
            var executions: [String] = []
            var tasks: [String] = []
            var attempts: [Int64?] = []
            var levels: [String] = []
            var messages: [String] = []
            var times: [Int64?] = []
            executions.reserveCapacity(entries)
            tasks.reserveCapacity(entries)
            messages.reserveCapacity(entries)
            for batch in logs {
                for entry in batch.entries {
                    executions.append(batch.executionID)
                    tasks.append(batch.taskID)
                    attempts.append(Int64(batch.attempt))
                    levels.append(entry.level.rawValue)
                    messages.append(entry.message)
                    times.append(entry.at.milliseconds)
                }
            }
            statements.append(
                PostgresStatement(
                    batchSQL.insertLogsSQL,
                    [
                        .textArray(executions), .textArray(tasks), .integerArray(attempts), .textArray(levels),
                        .textArray(messages), .integerArray(times), .integer(token),
                    ],
                    prepared: "cloacina_insert_logs"
                )
            )
        }
        // Summed per task first: an UPDATE … FROM changes a row once however many of its rows match.
        var dropped: [TaskKey: Int] = [:]
        for batch in logs where batch.dropped > 0 {
            dropped[TaskKey(executionID: batch.executionID, taskID: batch.taskID), default: 0] += batch.dropped
        }
        if !dropped.isEmpty {
            let keys = Array(dropped.keys)
            statements.append(
                PostgresStatement(
                    batchSQL.addLogsDroppedSQL,
                    [
                        .textArray(keys.map(\.executionID)), .textArray(keys.map(\.taskID)),
                        .integerArray(keys.map { dropped[$0].map(Int64.init) }), .integer(token),
                    ],
                    prepared: "cloacina_add_logs_dropped"
                )
            )
        }
        return statements
    }

    private struct TaskKey: Hashable {
        var executionID: String
        var taskID: String
    }

    /// The largest output a task row may carry inside a set-based update.
    private static let sharedOutputBytes = 4096

}

/// The SQL of a store's batch statements, built once per store (its table names are fixed): a batch sends only
/// names and parameters.
struct BatchSQL: Sendable {
    /// Locks the executions `$1` names that `$2` owns and marks them with the batch's token `$3` (an `UPDATE`,
    /// which takes the rows' locks in the order of the id index it scans), and returns the transaction id with each
    /// of them (one row with a NULL id when there are none).
    let lockSQL: String
    let insertDefinitionSQL: String
    let insertExecutionSQL: String
    /// A context too large for the execution's row, of an execution the batch holds: its input (inserted with it)
    /// or its final context (replacing any written before).
    let insertContextSQL: String
    let insertTasksSQL: String
    let updateExecutionSQL: String
    let updateTasksSQL: String
    let updateTaskSQL: String
    /// The events' rows in order (the rows of one INSERT … SELECT … ORDER BY take their identity values in the
    /// order sorted), those of executions the batch does not hold dropped.
    let insertEventsSQL: String
    /// Log lines' rows in order, those of executions the batch does not hold dropped.
    let insertLogsSQL: String
    /// Adds lines dropped over the bound to their tasks' counts.
    let addLogsDroppedSQL: String

    init(
        executions executionsTable: String,
        tasks tasksTable: String,
        events eventsTable: String,
        logs logsTable: String,
        contexts contextsTable: String,
        definitions definitionsTable: String
    ) {
        lockSQL =
            """
            WITH marked AS (
                UPDATE \(executionsTable) SET write_token = $3
                WHERE id = ANY($1::text[]) AND claimed_by = $2 RETURNING id
            )
            SELECT txid_current(), marked.id FROM (VALUES (1)) AS one LEFT JOIN marked ON true
            """
        insertDefinitionSQL =
            "INSERT INTO \(definitionsTable) (sha256, body) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        insertExecutionSQL =
            "INSERT INTO \(executionsTable) (\(PostgresExecutionStore.insertedExecutionColumns), write_token) "
            + "VALUES \(PostgresExecutionStore.placeholders(rows: 1, columns: 21))"
        insertContextSQL =
            """
            INSERT INTO \(contextsTable) (execution_id, kind, body)
            SELECT $1::text, $2::text, $3::text
            WHERE EXISTS (SELECT 1 FROM \(executionsTable) WHERE id = $1::text AND write_token = $4::bigint)
            ON CONFLICT (execution_id, kind) DO UPDATE SET body = EXCLUDED.body
            """
        insertTasksSQL =
            """
            INSERT INTO \(tasksTable) (\(PostgresExecutionStore.taskColumns))
            SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::int[], $7::bigint[],
                $8::bigint[], $9::bigint[], $10::text[], $11::text[])
            """
        updateExecutionSQL =
            """
            UPDATE \(executionsTable) SET status = $1, started_at = COALESCE($2::bigint, started_at),
                completed_at = COALESCE($3::bigint, completed_at), error = COALESCE($4::text, error),
                final_context = CASE WHEN $7::boolean THEN $8::text ELSE final_context END
            WHERE id = $5 AND write_token = $6
            """
        updateTasksSQL =
            """
            UPDATE \(tasksTable) AS t SET status = v.status, attempt = v.attempt, max_attempts = v.max_attempts,
                next_retry_at = v.next_retry_at, started_at = v.started_at, completed_at = v.completed_at,
                error = v.error, output = v.output
            FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::int[], $7::bigint[],
                $8::bigint[], $9::bigint[], $10::text[], $11::text[])
                AS v (execution_id, task_id, position, status, attempt, max_attempts, next_retry_at, started_at,
                    completed_at, error, output)
            WHERE t.execution_id = v.execution_id AND t.task_id = v.task_id
                AND EXISTS (SELECT 1 FROM \(executionsTable) e WHERE e.id = v.execution_id AND e.write_token = $12)
            """
        updateTaskSQL =
            """
            UPDATE \(tasksTable) SET status = $1, attempt = $2, max_attempts = $3, next_retry_at = $4,
                started_at = $5, completed_at = $6, error = $7, output = $8
            WHERE execution_id = $9 AND task_id = $10
                AND EXISTS (SELECT 1 FROM \(executionsTable) WHERE id = $9 AND write_token = $11)
            """
        insertEventsSQL =
            """
            INSERT INTO \(eventsTable) (execution_id, task_id, kind, attempt, detail, created_at)
            SELECT v.execution_id, v.task_id, v.kind, v.attempt, v.detail, v.created_at
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bigint[]) WITH ORDINALITY
                AS v (execution_id, task_id, kind, attempt, detail, created_at, n)
            WHERE EXISTS (SELECT 1 FROM \(executionsTable) e WHERE e.id = v.execution_id AND e.write_token = $7)
            ORDER BY v.n
            """
        insertLogsSQL =
            """
            INSERT INTO \(logsTable) (execution_id, task_id, attempt, level, message, created_at)
            SELECT v.execution_id, v.task_id, v.attempt, v.level, v.message, v.created_at
            FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY
                AS v (execution_id, task_id, attempt, level, message, created_at, n)
            WHERE EXISTS (SELECT 1 FROM \(executionsTable) e WHERE e.id = v.execution_id AND e.write_token = $7)
            ORDER BY v.n
            """
        addLogsDroppedSQL =
            """
            UPDATE \(tasksTable) AS t SET logs_dropped = t.logs_dropped + v.dropped
            FROM unnest($1::text[], $2::text[], $3::int[]) AS v (execution_id, task_id, dropped)
            WHERE t.execution_id = v.execution_id AND t.task_id = v.task_id
                AND EXISTS (SELECT 1 FROM \(executionsTable) e WHERE e.id = v.execution_id AND e.write_token = $4)
            """
    }
}
