internal import CloacinaStorage

/// How records travel to and from rows: column lists, decoding (which checks stored statuses) and the parameters
/// of inserts and updates.
extension PostgresExecutionStore {
    /// An execution's columns from ``executionSource``: the definition from `definitions` (or inline, for rows
    /// written before definitions had a table), each context from the row, or from `execution_contexts` when it was
    /// too large for the row (an empty input, a NULL final context there).
    static let executionColumns = """
        e.id, e.workflow, e.package_name, e.package_version, e.package_sha256, COALESCE(d.body, e.definition),
        e.status, CASE WHEN e.input = '' THEN COALESCE(ci.body, '') ELSE e.input END,
        COALESCE(e.final_context, cf.body), e.error, e.created_at, e.started_at, e.completed_at, e.claimed_by,
        e.lease_expires_at, e.cancel_requested, e.paused, e.retry_of, e.rerun_of, e.schedule_id, e.scheduled_for
        """

    /// ``executionColumns`` for listing, from the executions row alone: no definition, input or final context.
    static let summaryColumns = """
        e.id, e.workflow, e.package_name, e.package_version, e.package_sha256, '', e.status, '', NULL, e.error,
        e.created_at, e.started_at, e.completed_at, e.claimed_by, e.lease_expires_at, e.cancel_requested, e.paused,
        e.retry_of, e.rerun_of, e.schedule_id, e.scheduled_for
        """

    /// The columns an executions insert sets, in the order of ``executionValues(_:owner:definition:)``.
    static let insertedExecutionColumns = """
        id, workflow, package_name, package_version, package_sha256, definition, definition_sha256, status, input,
        final_context, error, created_at, started_at, completed_at, claimed_by, lease_expires_at, cancel_requested,
        paused, retry_of, rerun_of
        """

    /// Reads a row of ``executionColumns``; a status this code does not know means the data is corrupt.
    static func executionRecord(_ row: PostgresRow) throws(StoreError) -> ExecutionRecord {
        let id = row.text(0) ?? ""
        let storedStatus = row.text(6) ?? ""
        guard let status = ExecutionStatus(rawValue: storedStatus) else {
            throw StoreError(.corrupt, "execution \(id) has unknown status \"\(storedStatus)\"")
        }
        var package: PackageReference?
        if let name = row.text(2), let version = row.text(3) {
            package = PackageReference(name: name, version: version, sha256: row.text(4))
        }
        return ExecutionRecord(
            id: id,
            workflow: row.text(1) ?? "",
            package: package,
            definition: row.bytes(5) ?? [],
            status: status,
            input: row.bytes(7) ?? [],
            finalContext: row.bytes(8),
            error: row.text(9),
            createdAt: Timestamp(milliseconds: row.int64(10) ?? 0),
            startedAt: row.int64(11).map(Timestamp.init(milliseconds:)),
            completedAt: row.int64(12).map(Timestamp.init(milliseconds:)),
            owner: row.text(13),
            leaseExpiresAt: row.int64(14).map(Timestamp.init(milliseconds:)),
            cancelRequested: row.bool(15) ?? false,
            paused: row.bool(16) ?? false,
            retryOf: row.text(17),
            rerunOf: row.text(18),
            scheduleID: row.text(19),
            scheduledFor: row.int64(20).map(Timestamp.init(milliseconds:))
        )
    }

    /// Reads a row of `execution_id, task_id, position, status, attempt, max_attempts, next_retry_at, started_at,
    /// completed_at, error, output`.
    static func taskRecord(_ row: PostgresRow) throws(StoreError) -> TaskRecord {
        let executionID = row.text(0) ?? ""
        let taskID = row.text(1) ?? ""
        let storedStatus = row.text(3) ?? ""
        guard let status = TaskStatus(rawValue: storedStatus) else {
            throw StoreError(
                .corrupt,
                "task \(taskID) of execution \(executionID) has unknown status \"\(storedStatus)\""
            )
        }
        return TaskRecord(
            executionID: executionID,
            taskID: taskID,
            position: Int(row.int64(2) ?? 0),
            status: status,
            attempt: Int(row.int64(4) ?? 0),
            maxAttempts: Int(row.int64(5) ?? 0),
            nextRetryAt: row.int64(6).map(Timestamp.init(milliseconds:)),
            startedAt: row.int64(7).map(Timestamp.init(milliseconds:)),
            completedAt: row.int64(8).map(Timestamp.init(milliseconds:)),
            error: row.text(9),
            output: row.bytes(10)
        )
    }

    /// The parameters of an executions insert, in ``insertedExecutionColumns`` order, with `owner` as the claimant,
    /// the definition kept under its hash `definition`, and contexts too large for the row left out of it.
    static func executionValues(_ record: ExecutionRecord, owner: String, definition: String) -> [PostgresValue] {
        let inline = ExecutionRecord.inlineContextBytes
        return [
            .text(record.id), .text(record.workflow), text(record.package?.name), text(record.package?.version),
            text(record.package?.sha256), .text(""), .text(definition), .text(record.status.rawValue),
            .utf8(record.input.count <= inline ? record.input : []),
            utf8(record.finalContext.flatMap { $0.count <= inline ? $0 : nil }), text(record.error),
            .integer(record.createdAt.milliseconds), integer(record.startedAt), integer(record.completedAt),
            .text(owner), integer(record.leaseExpiresAt), .boolean(record.cancelRequested), .boolean(record.paused),
            text(record.retryOf), text(record.rerunOf),
        ]
    }

    /// The task columns a write sets, in the order of ``taskArrays(_:)``.
    static let taskColumns = """
        execution_id, task_id, position, status, attempt, max_attempts, next_retry_at, started_at, completed_at, \
        error, output
        """

    /// The task records as one array per column of ``taskColumns``, for an `unnest` insert or update.
    static func taskArrays(_ tasks: [TaskRecord]) -> [PostgresValue] {
        [
            .textArray(tasks.lazy.map(\.executionID)), .textArray(tasks.lazy.map(\.taskID)),
            .integerArray(tasks.lazy.map { Int64($0.position) }), .textArray(tasks.lazy.map(\.status.rawValue)),
            .integerArray(tasks.lazy.map { Int64($0.attempt) }),
            .integerArray(tasks.lazy.map { Int64($0.maxAttempts) }),
            .integerArray(tasks.lazy.map { $0.nextRetryAt?.milliseconds }),
            .integerArray(tasks.lazy.map { $0.startedAt?.milliseconds }),
            .integerArray(tasks.lazy.map { $0.completedAt?.milliseconds }), .textArray(tasks.lazy.map(\.error)),
            .textArray(utf8: tasks.lazy.map(\.output)),
        ]
    }

    /// The events as one array per column (`execution_id, task_id, kind, attempt, detail, created_at`).
    static func eventArrays(_ events: [ExecutionEvent]) -> [PostgresValue] {
        [
            .textArray(events.lazy.map(\.executionID)), .textArray(events.lazy.map(\.taskID)),
            .textArray(events.lazy.map(\.kind.rawValue)), .integerArray(events.lazy.map { $0.attempt.map(Int64.init) }),
            .textArray(events.lazy.map(\.detail)), .integerArray(events.lazy.map(\.at.milliseconds)),
        ]
    }

    /// `VALUES ($1, …, $n), ($n+1, …)`: placeholders for `rows` rows of `columns` parameters each.
    static func placeholders(rows: Int, columns: Int) -> String {
        (0..<rows).map { row in
            "(" + (1...columns).map { "$\(row * columns + $0)" }.joined(separator: ", ") + ")"
        }.joined(separator: ", ")
    }

    static func text(_ value: String?) -> PostgresValue { value.map { .text($0) } ?? .null }
    static func utf8(_ value: [UInt8]?) -> PostgresValue { value.map { .utf8($0) } ?? .null }
    static func integer(_ value: Timestamp?) -> PostgresValue { value.map { .integer($0.milliseconds) } ?? .null }
}
