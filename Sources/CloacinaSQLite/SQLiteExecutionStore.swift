public import CloacinaStorage

/// An ``ExecutionStore`` in one SQLite file: the embedded default, one file per tenant.
///
/// WAL mode with `synchronous = FULL`: every commit is on disk before it is reported, so it survives the process
/// crashing and a power loss. (The runner's writer commits in groups, so the cost is one fsync per group.) One
/// connection writes, another reads, each on its own ``StoreQueue``, so status queries never wait for a write batch.
/// While another process holds the file's lock, SQLite's busy handler waits for it until ``lockTimeout`` passes
/// (or the store closes), so a transition is never dropped because the file was busy.
public final class SQLiteExecutionStore: ExecutionStore {
    public let location: String
    /// How long a write keeps waiting while another process holds the lock.
    public let lockTimeout: Duration
    private let writer: StoreQueue
    private let reader: StoreQueue
    private let closing = StoreClosing()
    /// Used only on ``writer``, and nil once closed.
    nonisolated(unsafe) private var writerConnection: SQLiteConnection?
    /// Used only on ``reader``, and nil once closed.
    nonisolated(unsafe) private var readerConnection: SQLiteConnection?

    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    public init(path: String, lockTimeout: Duration = .seconds(60)) throws(StoreError) {
        self.location = "sqlite:\(path)"
        self.lockTimeout = lockTimeout
        self.writer = StoreQueue(label: "sqlite:\(path) (writer)")
        self.reader = StoreQueue(label: "sqlite:\(path) (reader)")
        let writerConnection: SQLiteConnection
        do {
            writerConnection = try SQLiteConnection(path: path, busyTimeout: lockTimeout, closing: closing)
            readerConnection = try SQLiteConnection(path: path, busyTimeout: lockTimeout, closing: closing)
        } catch {
            throw StoreError(error.code ~= .SQLITE_NOTADB ? .corrupt : .unavailable, error.description)
        }
        try SQLiteSchema.migrate(writerConnection, lockTimeout: lockTimeout, closing: closing)
        self.writerConnection = writerConnection
    }

    public func executor(for access: StoreAccess) -> StoreQueue {
        access == .write ? writer : reader
    }

    public func releaseIdleConnections() {
        writer.submit { [self] in writerConnection?.releaseMemory() }
        reader.submit { [self] in readerConnection?.releaseMemory() }
    }

    public func close() {
        closing.signal()
        writer.close { writerConnection = nil }
        reader.close { readerConnection = nil }
    }

    // MARK: Writing

    /// A batch carrying more context than this is followed by a checkpoint that truncates the write-ahead log, so
    /// a large output does not leave a log of its size beside the database.
    static let truncatingCheckpointBytes = 8 << 20

    public func write(_ writes: [StoreWrite], owner: String) throws(StoreError) -> Set<String> {
        try withWriter { connection throws(SQLiteError) in
            defer {
                if writes.reduce(0, { $0 + $1.contextBytes }) > Self.truncatingCheckpointBytes {
                    try? connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                }
            }
            return try connection.transaction { () throws(SQLiteError) in
                var inserted: Set<String> = []
                var owned: [String: Bool] = [:]
                var lost: Set<String> = []
                for write in writes {
                    let id = write.executionID
                    if case .insertExecution(let record, let tasks) = write {
                        try insert(record, tasks: tasks, owner: owner, into: connection)
                        inserted.insert(id)
                        continue
                    }
                    if !inserted.contains(id) {
                        let isOwned: Bool
                        if let known = owned[id] {
                            isOwned = known
                        } else {
                            isOwned =
                                try connection.query("SELECT claimed_by FROM executions WHERE id = ?", [.text(id)]) {
                                    $0.optionalText(0)
                                }.first == owner
                            owned[id] = isOwned
                        }
                        guard isOwned else {
                            lost.insert(id)
                            continue
                        }
                    }
                    try apply(write, to: connection)
                }
                return lost
            }
        }
    }

    func insert(
        _ record: ExecutionRecord,
        tasks: [TaskRecord],
        owner: String,
        into connection: SQLiteConnection
    )
        throws(SQLiteError)
    {
        let definition = SHA256.hex(record.definition)
        try connection.run(
            "INSERT OR IGNORE INTO definitions (sha256, body) VALUES (?, ?)",
            [.text(definition), .utf8(record.definition)]
        )
        let inline = ExecutionRecord.inlineContextBytes
        let finalContext = record.finalContext.flatMap { $0.count <= inline ? $0 : nil }
        try connection.run(
            """
            INSERT INTO executions (id, workflow, package_name, package_version, package_sha256, definition,
                definition_sha256, status, input, final_context, error, created_at, started_at, completed_at,
                claimed_by, lease_expires_at, cancel_requested, paused, retry_of, rerun_of)
            VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(record.id), .text(record.workflow), Self.text(record.package?.name),
                Self.text(record.package?.version), Self.text(record.package?.sha256), .text(definition),
                .text(record.status.rawValue), .utf8(record.input.count <= inline ? record.input : []),
                Self.utf8(finalContext), Self.text(record.error), .integer(record.createdAt.milliseconds),
                Self.integer(record.startedAt), Self.integer(record.completedAt), .text(owner),
                Self.integer(record.leaseExpiresAt), .integer(record.cancelRequested ? 1 : 0),
                .integer(record.paused ? 1 : 0), Self.text(record.retryOf), Self.text(record.rerunOf),
            ]
        )
        if record.input.count > inline {
            try connection.run(
                "INSERT INTO execution_contexts (execution_id, kind, body) VALUES (?, 'input', ?)",
                [.text(record.id), .utf8(record.input)]
            )
        }
        if let large = record.finalContext, large.count > inline {
            try connection.run(
                "INSERT INTO execution_contexts (execution_id, kind, body) VALUES (?, 'final', ?)",
                [.text(record.id), .utf8(large)]
            )
        }
        for task in tasks {
            try connection.run(
                """
                INSERT INTO task_executions (execution_id, task_id, position, status, attempt, max_attempts,
                    next_retry_at, started_at, completed_at, error, output)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                Self.taskValues(task)
            )
        }
    }

    func apply(_ write: StoreWrite, to connection: SQLiteConnection) throws(SQLiteError) {
        switch write {
        case .insertExecution:
            return
        case .updateExecution(let update):
            // A final context replaces the one before: in the row when small (NULL there when large, so the row of
            // its own is what is read).
            let large = update.finalContext.map { $0.count > ExecutionRecord.inlineContextBytes } ?? false
            try connection.run(
                """
                UPDATE executions SET status = ?, started_at = COALESCE(?, started_at),
                    completed_at = COALESCE(?, completed_at), error = COALESCE(?, error),
                    final_context = CASE ? WHEN 0 THEN final_context ELSE ? END
                WHERE id = ?
                """,
                [
                    .text(update.status.rawValue), Self.integer(update.startedAt), Self.integer(update.completedAt),
                    Self.text(update.error), .integer(update.finalContext == nil ? 0 : 1),
                    large ? .null : Self.utf8(update.finalContext), .text(update.id),
                ]
            )
            if let finalContext = update.finalContext, large {
                try connection.run(
                    "INSERT OR REPLACE INTO execution_contexts (execution_id, kind, body) VALUES (?, 'final', ?)",
                    [.text(update.id), .utf8(finalContext)]
                )
            }
        case .updateTask(let task):
            let values = Self.taskValues(task)
            try connection.run(
                """
                UPDATE task_executions SET status = ?, attempt = ?, max_attempts = ?, next_retry_at = ?,
                    started_at = ?, completed_at = ?, error = ?, output = ?
                WHERE execution_id = ? AND task_id = ?
                """,
                Array(values[3...]) + [values[0], values[1]]
            )
        case .appendEvent(let event):
            try connection.run(
                """
                INSERT INTO execution_events (execution_id, task_id, kind, attempt, detail, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(event.executionID), Self.text(event.taskID), .text(event.kind.rawValue),
                    event.attempt.map { .integer(Int64($0)) } ?? .null, Self.text(event.detail),
                    .integer(event.at.milliseconds),
                ]
            )
        case .appendLogs(let batch):
            try Self.insertLogs(batch, into: connection)
        }
    }

    // MARK: Reading

    public func execution(_ id: String) throws(StoreError) -> ExecutionRecord? {
        let row = try withReader { connection throws(SQLiteError) in
            try connection.query(
                "SELECT \(Self.executionColumns) FROM \(Self.executionSource) WHERE e.id = ?",
                [.text(id)],
                Self.executionRecord
            )
        }.first
        guard let row else { return nil }
        return try Self.decoded(row)
    }

    public func tasks(of executionID: String) throws(StoreError) -> [TaskRecord] {
        let rows = try withReader { connection throws(SQLiteError) in
            try connection.query(
                """
                SELECT execution_id, task_id, position, status, attempt, max_attempts, next_retry_at, started_at,
                    completed_at, error, output
                FROM task_executions WHERE execution_id = ? ORDER BY position
                """,
                [.text(executionID)]
            ) { row in
                (
                    row.text(3),
                    TaskRecord(
                        executionID: row.text(0),
                        taskID: row.text(1),
                        position: Int(row.int64(2)),
                        status: .pending,
                        attempt: Int(row.int64(4)),
                        maxAttempts: Int(row.int64(5)),
                        nextRetryAt: row.optionalInt64(6).map(Timestamp.init(milliseconds:)),
                        startedAt: row.optionalInt64(7).map(Timestamp.init(milliseconds:)),
                        completedAt: row.optionalInt64(8).map(Timestamp.init(milliseconds:)),
                        error: row.optionalText(9),
                        output: row.bytes(10)
                    )
                )
            }
        }
        var tasks: [TaskRecord] = []
        for (status, record) in rows {
            guard let parsed = TaskStatus(rawValue: status) else {
                throw StoreError(
                    .corrupt,
                    "task \(record.taskID) of execution \(executionID) has unknown status \"\(status)\""
                )
            }
            var task = record
            task.status = parsed
            tasks.append(task)
        }
        return tasks
    }

    public func executions(_ query: ExecutionQuery) throws(StoreError) -> [ExecutionRecord] {
        let (filter, values) = Self.filter(query)
        let rows = try withReader { connection throws(SQLiteError) in
            try connection.query(
                """
                SELECT \(Self.summaryColumns) FROM executions e \(filter)
                ORDER BY e.created_at DESC, e.id DESC LIMIT ? OFFSET ?
                """,
                values + [.integer(Int64(max(query.limit, 0))), .integer(Int64(max(query.offset, 0)))],
                Self.executionRecord
            )
        }
        var records: [ExecutionRecord] = []
        for row in rows { records.append(try Self.decoded(row)) }
        return records
    }

    public func countExecutions(_ query: ExecutionQuery, upTo limit: Int?) throws(StoreError) -> Int {
        let (filter, values) = Self.filter(query)
        let sql =
            limit == nil
            ? "SELECT COUNT(*) FROM executions e \(filter)"
            : "SELECT COUNT(*) FROM (SELECT 1 FROM executions e \(filter) LIMIT ?)"
        return try withReader { connection throws(SQLiteError) in
            try connection.query(sql, values + (limit.map { [.integer(Int64(max($0, 0)))] } ?? [])) {
                Int($0.int64(0))
            }
        }.first ?? 0
    }

    public func statistics() throws(StoreError) -> TenantMetrics {
        let (counts, durations) = try withReader { connection throws(SQLiteError) in
            let counts = try connection.query("SELECT status, COUNT(*) FROM executions GROUP BY status") {
                ($0.text(0), Int($0.int64(1)))
            }
            let durations =
                try connection.query(
                    """
                    SELECT COALESCE(SUM(completed_at - started_at), 0), COUNT(*) FROM executions
                    WHERE completed_at IS NOT NULL AND started_at IS NOT NULL
                    """
                ) { ($0.int64(0), $0.int64(1)) }.first ?? (0, 0)
            return (counts, durations)
        }
        var statistics = TenantMetrics()
        for (name, count) in counts {
            guard let status = ExecutionStatus(rawValue: name) else {
                throw StoreError(.corrupt, "executions have unknown status \"\(name)\"")
            }
            statistics.executionsByStatus[status] = count
        }
        if durations.1 > 0 { statistics.averageExecutionTime = .milliseconds(durations.0 / durations.1) }
        return statistics
    }

    public func events(of executionID: String, after: Int64, limit: Int?) throws(StoreError) -> [ExecutionEvent] {
        let rows = try withReader { connection throws(SQLiteError) in
            try connection.query(
                """
                SELECT sequence, execution_id, task_id, kind, attempt, detail, created_at
                FROM execution_events WHERE execution_id = ? AND sequence > ? ORDER BY sequence LIMIT ?
                """,
                [.text(executionID), .integer(after), .integer(Int64(max(limit ?? -1, -1)))]
            ) { row in
                // A kind this code does not know is reported as corrupt data once the rows are read.
                Result { () throws(StoreError) in
                    ExecutionEvent(
                        sequence: row.int64(0),
                        executionID: row.text(1),
                        taskID: row.optionalText(2),
                        kind: try ExecutionEvent.Kind(stored: row.text(3), executionID: executionID),
                        attempt: row.optionalInt64(4).map { Int($0) },
                        detail: row.optionalText(5),
                        at: Timestamp(milliseconds: row.int64(6))
                    )
                }
            }
        }
        return try rows.map { row throws(StoreError) in try row.get() }
    }

    public func taskLogs(_ query: TaskLogQuery) throws(StoreError) -> TaskLogPage {
        var filter = "execution_id = ?"
        var values: [SQLiteValue] = [.text(query.executionID)]
        if let task = query.taskID {
            filter += " AND task_id = ?"
            values.append(.text(task))
        }
        let (dropFilter, dropValues) = (filter, values)
        if let attempt = query.attempt {
            filter += " AND attempt = ?"
            values.append(.integer(Int64(attempt)))
        }
        values += [.integer(query.after), .integer(Int64(max(query.limit, 0)))]
        let (rows, dropped) = try withReader { connection throws(SQLiteError) in
            let rows = try connection.query(
                """
                SELECT sequence, task_id, attempt, level, message, created_at FROM task_logs
                WHERE \(filter) AND sequence > ? ORDER BY sequence LIMIT ?
                """,
                values
            ) { row in
                (row.int64(0), row.text(1), Int(row.int64(2)), row.text(3), row.text(4), row.int64(5))
            }
            let dropped = try connection.query(
                "SELECT task_id, logs_dropped FROM task_executions WHERE \(dropFilter) AND logs_dropped > 0",
                dropValues
            ) { ($0.text(0), Int($0.int64(1))) }
            return (rows, dropped)
        }
        var page = TaskLogPage(dropped: Dictionary(dropped) { $1 })
        page.lines.reserveCapacity(rows.count)
        for (sequence, task, attempt, level, message, at) in rows {
            page.lines.append(
                TaskLogLine(
                    sequence: sequence,
                    executionID: query.executionID,
                    taskID: task,
                    attempt: attempt,
                    level: try TaskLogLine.Level(stored: level, executionID: query.executionID),
                    message: message,
                    at: Timestamp(milliseconds: at)
                )
            )
        }
        return page
    }

    /// The most log rows one insert carries: an attempt's lines go in statements of 256, 128, … 1 rows (its count
    /// in binary), so they take a few statements, and the statement cache holds at most nine of them.
    static let logRowsPerInsert = 256

    /// Inserts `batch`'s lines in multi-row statements and adds its dropped lines to the task's count.
    private static func insertLogs(_ batch: TaskLogBatch, into connection: SQLiteConnection) throws(SQLiteError) {
        var remaining = batch.entries[...]
        var rows = logRowsPerInsert
        while !remaining.isEmpty {
            while rows > remaining.count { rows /= 2 }
            var values: [SQLiteValue] = []
            values.reserveCapacity(rows * 6)
            for entry in remaining.prefix(rows) {
                values += [
                    .text(batch.executionID), .text(batch.taskID), .integer(Int64(batch.attempt)),
                    .text(entry.level.rawValue), .text(entry.message), .integer(entry.at.milliseconds),
                ]
            }
            remaining = remaining.dropFirst(rows)
            try connection.run(
                """
                INSERT INTO task_logs (execution_id, task_id, attempt, level, message, created_at)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
                """,
                values
            )
        }
        if batch.dropped > 0 {
            try connection.run(
                "UPDATE task_executions SET logs_dropped = logs_dropped + ? WHERE execution_id = ? AND task_id = ?",
                [.integer(Int64(batch.dropped)), .text(batch.executionID), .text(batch.taskID)]
            )
        }
    }

    // MARK: Ownership

    public func claimUnfinished(
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        limit: Int?,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> [ExecutionRecord] {
        try claim(ids: nil, owner: owner, leaseUntil: leaseUntil, now: now, limit: limit, ownerIsAlive: ownerIsAlive)
    }

    public func claim(
        _ id: String,
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> ExecutionRecord? {
        try claim(ids: [id], owner: owner, leaseUntil: leaseUntil, now: now, limit: nil, ownerIsAlive: ownerIsAlive)
            .first
    }

    private func claim(
        ids: [String]?,
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        limit: Int?,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> [ExecutionRecord] {
        let rows = try withWriter { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                var sql =
                    "SELECT \(Self.executionColumns) FROM \(Self.executionSource) WHERE e.status IN ('Pending', 'Running')"
                var values: [SQLiteValue] = []
                if let ids {
                    sql += " AND e.id IN (\(ids.map { _ in "?" }.joined(separator: ", ")))"
                    values = ids.map { .text($0) }
                }
                let candidates = try connection.query(sql + " ORDER BY e.created_at", values, Self.executionRecord)
                var claimed: [ExecutionRow] = []
                for candidate in candidates {
                    if let limit, claimed.count >= limit { break }
                    let current = candidate.owner
                    let free =
                        current == nil || current == owner
                        || (candidate.leaseExpiresAt.map { $0 < now.milliseconds } ?? true) || !ownerIsAlive(current!)
                    guard free else { continue }
                    try connection.run(
                        "UPDATE executions SET claimed_by = ?, lease_expires_at = ? WHERE id = ?",
                        [.text(owner), .integer(leaseUntil.milliseconds), .text(candidate.id)]
                    )
                    var row = candidate
                    row.owner = owner
                    row.leaseExpiresAt = leaseUntil.milliseconds
                    claimed.append(row)
                }
                return claimed
            }
        }
        var records: [ExecutionRecord] = []
        for row in rows { records.append(try Self.decoded(row)) }
        return records
    }

    public func renewLeases(owner: String, until: Timestamp) throws(StoreError) -> LeaseRenewal {
        try withWriter { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                try connection.run(
                    """
                    UPDATE executions SET lease_expires_at = ?
                    WHERE claimed_by = ? AND status IN ('Pending', 'Running')
                    """,
                    [.integer(until.milliseconds), .text(owner)]
                )
                var renewal = LeaseRenewal()
                let rows = try connection.query(
                    """
                    SELECT id, cancel_requested, paused FROM executions
                    WHERE claimed_by = ? AND status IN ('Pending', 'Running') AND (cancel_requested = 1 OR paused = 1)
                    """,
                    [.text(owner)]
                ) { row in (row.text(0), row.int64(1) != 0, row.int64(2) != 0) }
                for (id, cancel, paused) in rows {
                    if cancel { renewal.cancelRequested.append(id) }
                    if paused { renewal.paused.insert(id) }
                }
                return renewal
            }
        }
    }

    public func setPaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool {
        try withWriter { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                let changed =
                    try connection.run(
                        """
                        UPDATE executions SET paused = ?
                        WHERE id = ? AND status IN ('Pending', 'Running') AND paused = ?
                        """,
                        [.integer(paused ? 1 : 0), .text(id), .integer(paused ? 0 : 1)]
                    ) > 0
                if changed {
                    let kind: ExecutionEvent.Kind = paused ? .executionPaused : .executionUnpaused
                    try apply(.appendEvent(ExecutionEvent(executionID: id, kind: kind, at: now)), to: connection)
                }
                return changed
            }
        }
    }

    public func releaseLeases(owner: String, executions: [String]) throws(StoreError) {
        guard !executions.isEmpty else { return }
        try withWriter { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                for id in executions {
                    try connection.run(
                        "UPDATE executions SET claimed_by = NULL, lease_expires_at = NULL WHERE id = ? AND claimed_by = ?",
                        [.text(id), .text(owner)]
                    )
                }
            }
        }
    }

    public func requestCancel(_ id: String) throws(StoreError) -> Bool {
        try withWriter { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                try connection.run(
                    "UPDATE executions SET cancel_requested = 1 WHERE id = ? AND status IN ('Pending', 'Running')",
                    [.text(id)]
                ) > 0
            }
        }
    }

    // MARK: Connections and retrying

    /// Runs `body` with the writing connection, on its queue.
    func withWriter<T>(_ body: (SQLiteConnection) throws(SQLiteError) -> T) throws(StoreError) -> T {
        try writer.sync { () throws(StoreError) in
            guard let connection = writerConnection else { throw StoreError(.closed, "\(location) is closed") }
            return try Self.mapped { () throws(SQLiteError) in
                try Self.retrying(lockTimeout, closing) { () throws(SQLiteError) in try body(connection) }
            }
        }
    }

    /// Runs `body` with the reading connection on its queue; from a job of the writer, with the writing connection
    /// (it sees the same data, and the writer never waits for the reader).
    func withReader<T>(_ body: (SQLiteConnection) throws(SQLiteError) -> T) throws(StoreError) -> T {
        if writer.isCurrent { return try withWriter(body) }
        return try reader.sync { () throws(StoreError) in
            guard let connection = readerConnection else { throw StoreError(.closed, "\(location) is closed") }
            return try Self.mapped { () throws(SQLiteError) in
                try Self.retrying(lockTimeout, closing) { () throws(SQLiteError) in try body(connection) }
            }
        }
    }

    /// Runs `body` again while it fails with lock contention the busy handler did not wait out (a lock SQLite
    /// does not wait for, such as a snapshot that became stale), pausing up to 50 ms between tries, until `timeout`
    /// has passed or the store closes.
    static func retrying<T>(
        _ timeout: Duration,
        _ closing: StoreClosing,
        _ body: () throws(SQLiteError) -> T
    ) throws(SQLiteError) -> T {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(1)
        while true {
            do {
                return try body()
            } catch  where error.isTransient && ContinuousClock.now < deadline && closing.pause(for: pause) {
                pause = min(pause * 2, .milliseconds(50))
            }
        }
    }

    private static func mapped<T>(_ body: () throws(SQLiteError) -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch {
            let code: StoreError.Code
            switch error.code {
            case .SQLITE_CONSTRAINT: code = .constraint
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: code = .corrupt
            case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_CANTOPEN: code = .unavailable
            default: code = .other
            }
            throw StoreError(code, error.description)
        }
    }

    // MARK: Rows

    /// An execution's columns from ``executionSource``: the definition from `definitions` (or inline, for rows
    /// written before definitions had a table), each context from the row, or from `execution_contexts` when it was
    /// too large for the row (an empty input, a NULL final context there).
    private static let executionColumns = """
        e.id, e.workflow, e.package_name, e.package_version, e.package_sha256, COALESCE(d.body, e.definition),
        e.status, CASE WHEN e.input = '' THEN COALESCE(ci.body, '') ELSE e.input END,
        COALESCE(e.final_context, cf.body), e.error, e.created_at, e.started_at, e.completed_at, e.claimed_by,
        e.lease_expires_at, e.cancel_requested, e.paused, e.retry_of, e.rerun_of, e.schedule_id, e.scheduled_for
        """

    private static let executionSource = """
        executions e LEFT JOIN definitions d ON d.sha256 = e.definition_sha256
        LEFT JOIN execution_contexts ci ON ci.execution_id = e.id AND ci.kind = 'input'
        LEFT JOIN execution_contexts cf ON cf.execution_id = e.id AND cf.kind = 'final'
        """

    /// ``executionColumns`` for listing, from `executions e` alone: no definition, input or final context.
    private static let summaryColumns = """
        e.id, e.workflow, e.package_name, e.package_version, e.package_sha256, '', e.status, '', NULL, e.error,
        e.created_at, e.started_at, e.completed_at, e.claimed_by, e.lease_expires_at, e.cancel_requested, e.paused,
        e.retry_of, e.rerun_of, e.schedule_id, e.scheduled_for
        """

    /// An executions row as read, before its status is checked.
    private struct ExecutionRow {
        var id: String
        var workflow: String
        var packageName: String?
        var packageVersion: String?
        var packageSHA256: String?
        var definition: [UInt8]
        var status: String
        var input: [UInt8]
        var finalContext: [UInt8]?
        var error: String?
        var createdAt: Int64
        var startedAt: Int64?
        var completedAt: Int64?
        var owner: String?
        var leaseExpiresAt: Int64?
        var cancelRequested: Bool
        var paused: Bool
        var retryOf: String?
        var rerunOf: String?
        var scheduleID: String?
        var scheduledFor: Int64?
    }

    private static func executionRecord(_ row: SQLiteRow) -> ExecutionRow {
        ExecutionRow(
            id: row.text(0),
            workflow: row.text(1),
            packageName: row.optionalText(2),
            packageVersion: row.optionalText(3),
            packageSHA256: row.optionalText(4),
            definition: row.bytes(5) ?? [],
            status: row.text(6),
            input: row.bytes(7) ?? [],
            finalContext: row.bytes(8),
            error: row.optionalText(9),
            createdAt: row.int64(10),
            startedAt: row.optionalInt64(11),
            completedAt: row.optionalInt64(12),
            owner: row.optionalText(13),
            leaseExpiresAt: row.optionalInt64(14),
            cancelRequested: row.int64(15) != 0,
            paused: row.int64(16) != 0,
            retryOf: row.optionalText(17),
            rerunOf: row.optionalText(18),
            scheduleID: row.optionalText(19),
            scheduledFor: row.optionalInt64(20)
        )
    }

    private static func decoded(_ row: ExecutionRow) throws(StoreError) -> ExecutionRecord {
        guard let status = ExecutionStatus(rawValue: row.status) else {
            throw StoreError(.corrupt, "execution \(row.id) has unknown status \"\(row.status)\"")
        }
        var package: PackageReference?
        if let name = row.packageName, let version = row.packageVersion {
            package = PackageReference(name: name, version: version, sha256: row.packageSHA256)
        }
        return ExecutionRecord(
            id: row.id,
            workflow: row.workflow,
            package: package,
            definition: row.definition,
            status: status,
            input: row.input,
            finalContext: row.finalContext,
            error: row.error,
            createdAt: Timestamp(milliseconds: row.createdAt),
            startedAt: row.startedAt.map(Timestamp.init(milliseconds:)),
            completedAt: row.completedAt.map(Timestamp.init(milliseconds:)),
            owner: row.owner,
            leaseExpiresAt: row.leaseExpiresAt.map(Timestamp.init(milliseconds:)),
            cancelRequested: row.cancelRequested,
            paused: row.paused,
            retryOf: row.retryOf,
            rerunOf: row.rerunOf,
            scheduleID: row.scheduleID,
            scheduledFor: row.scheduledFor.map(Timestamp.init(milliseconds:))
        )
    }

    private static func filter(_ query: ExecutionQuery) -> (String, [SQLiteValue]) {
        var clauses: [String] = []
        var values: [SQLiteValue] = []
        if !query.statuses.isEmpty {
            let statuses = query.statuses.map(\.rawValue).sorted()
            clauses.append("e.status IN (\(statuses.map { _ in "?" }.joined(separator: ", ")))")
            values += statuses.map { .text($0) }
        }
        if let workflow = query.workflow {
            clauses.append("e.workflow = ?")
            values.append(.text(workflow))
        }
        if let prefix = query.idPrefix {
            // A range of the primary key: every id that starts with the prefix sorts between these two.
            clauses.append("e.id >= ? AND e.id < ?")
            values += [.text(prefix), .text(prefix + "\u{10FFFF}")]
        }
        if let schedule = query.scheduleID {
            clauses.append("e.schedule_id = ?")
            values.append(.text(schedule))
        }
        if let after = query.after {
            // A row value, which SQLite scans as a range of the (created_at, id) index.
            clauses.append("(e.created_at, e.id) < (?, ?)")
            values += [.integer(after.createdAt.milliseconds), .text(after.id)]
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), values)
    }

    private static func taskValues(_ task: TaskRecord) -> [SQLiteValue] {
        [
            .text(task.executionID), .text(task.taskID), .integer(Int64(task.position)), .text(task.status.rawValue),
            .integer(Int64(task.attempt)), .integer(Int64(task.maxAttempts)), integer(task.nextRetryAt),
            integer(task.startedAt), integer(task.completedAt), text(task.error), utf8(task.output),
        ]
    }

    static func text(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
    private static func utf8(_ value: [UInt8]?) -> SQLiteValue { value.map { .utf8($0) } ?? .null }
    static func integer(_ value: Timestamp?) -> SQLiteValue { value.map { .integer($0.milliseconds) } ?? .null }
}
