public import CloacinaStorage
internal import Synchronization

/// An ``ExecutionStore`` in one schema of a PostgreSQL database: a tenant is a schema.
///
/// Behaves exactly like the SQLite store (the conformance suite runs on both): owner-guarded batches in one
/// transaction, claims and leases, cancel requests, listing newest first. What PostgreSQL adds:
///
/// - Scoping fails closed. The schema name is validated (``PostgresIdentifier``) before any connection is made;
///   every statement names its tables schema-qualified, and every connection sets its search path to the schema
///   and checks `current_schema()` names exactly it, or is refused.
/// - The connection string goes to libpq unchanged: the database it names is the one used; `PG*` variables and
///   `.pgpass` apply. Messages show it redacted (``location``).
/// - Several hosts may share a database: claims lock rows (`FOR UPDATE`, `SKIP LOCKED` when sweeping), and a write
///   locks the rows whose ownership it checks until it commits.
/// - Transient failures (serialization failures, deadlocks, broken connections) are retried for up to
///   ``retryTimeout``. A connection that breaks during `COMMIT` leaves the outcome unknown; the store reads the
///   transaction id before committing and asks the server (`txid_status`) afterwards, so a batch is applied once
///   or not at all, never twice.
///
/// Its connections are ``StoreOptions/poolSize`` lanes (``PostgresLane``), each a connection with its own queue; a
/// call runs on the lane it is already on, else on the least busy. It does not create roles or grant privileges;
/// every method blocks its thread.
public final class PostgresExecutionStore: ExecutionStore {
    public let location: String
    /// The tenant schema every statement is confined to.
    public let schema: PostgresIdentifier
    /// How long an operation keeps retrying transient failures before it reports them.
    public let retryTimeout: Duration
    /// The connections, each on its own queue.
    let lanes: [PostgresLane]
    /// Ends back-offs when the store closes.
    let closing = StoreClosing()
    /// The schema-qualified table names.
    let executionsTable: String
    let tasksTable: String
    let eventsTable: String
    let logsTable: String
    let contextsTable: String
    let definitionsTable: String
    /// Where ``executionColumns`` come from: an execution with its definition and contexts.
    let executionSource: String
    /// The statements of write batches.
    let batchSQL: BatchSQL
    /// Batches whose commit was interrupted and whose outcome is still unknown, oldest first.
    let inDoubt = Mutex<[InDoubtBatch]>([])
    /// The connection string, for the listening session (never shown: ``location`` is).
    private let url: String
    /// The `NOTIFY` channel of the schema: `cloacina_` and 24 hex digits of the SHA-256 of its name, so that it is a
    /// plain identifier whatever the schema's name.
    let channel: String

    /// Opens the store for `schema` in the database `url` names (a `postgresql://` URL or libpq `key=value`
    /// string, passed to libpq unchanged), with up to `poolSize` connections.
    ///
    /// With `createSchema`, a missing schema is created (`CREATE SCHEMA`, which needs CREATE on the database);
    /// otherwise it must exist. Either way its tables are created or migrated when they are missing or older than
    /// this code, which needs CREATE on the schema; a schema already at the current version needs only USAGE and
    /// table privileges. A schema written by a newer host is refused.
    public init(
        url: String,
        schema: String,
        poolSize: Int = 4,
        createSchema: Bool = true,
        retryTimeout: Duration = .seconds(30)
    ) throws(StoreError) {
        let identifier: PostgresIdentifier
        do throws(PostgresError) {
            identifier = try PostgresIdentifier(schema)
        } catch {
            throw error.storeError
        }
        guard poolSize >= 1 else { throw StoreError(.other, "the pool size must be at least 1, got \(poolSize)") }
        self.schema = identifier
        let location = "\(ConnectionStringRedaction.redact(url)) (schema \(identifier.name))"
        self.location = location
        self.url = url
        self.channel = "cloacina_" + SHA256.hex(Array(identifier.name.utf8)).prefix(24)
        self.retryTimeout = retryTimeout
        self.executionsTable = "\(identifier.quoted).executions"
        self.tasksTable = "\(identifier.quoted).task_executions"
        self.eventsTable = "\(identifier.quoted).execution_events"
        self.logsTable = "\(identifier.quoted).task_logs"
        self.contextsTable = "\(identifier.quoted).execution_contexts"
        self.definitionsTable = "\(identifier.quoted).definitions"
        self.batchSQL = BatchSQL(
            executions: executionsTable,
            tasks: tasksTable,
            events: eventsTable,
            logs: logsTable,
            contexts: contextsTable,
            definitions: definitionsTable
        )
        self.executionSource = """
            \(identifier.quoted).executions e LEFT JOIN \(identifier.quoted).definitions d ON d.sha256 = e.definition_sha256
            LEFT JOIN \(identifier.quoted).execution_contexts ci ON ci.execution_id = e.id AND ci.kind = 'input'
            LEFT JOIN \(identifier.quoted).execution_contexts cf ON cf.execution_id = e.id AND cf.kind = 'final'
            """
        do throws(PostgresError) {
            let connection = try PostgresConnection(url)
            try PostgresSchema.prepare(connection, schema: identifier, create: createSchema)
        } catch {
            throw error.storeError
        }
        self.lanes = (1...poolSize).map { lane in
            PostgresLane(label: "\(location) (connection \(lane))") { () throws(PostgresError) in
                let connection = try PostgresConnection(url)
                try PostgresSchema.confine(connection, to: identifier)
                return connection
            }
        }
        // Fail now, not at the first write, when a session cannot be confined to the schema.
        do throws(PostgresError) {
            try lanes[0].withConnection { _ throws(PostgresError) in }
        } catch {
            throw error.storeError
        }
    }

    /// The least busy lane (the first of those, so a quiet store keeps using one connection).
    private var leastBusyLane: PostgresLane {
        var best = lanes[0]
        var load = best.queue.load
        for lane in lanes.dropFirst() where load > 0 {
            let candidate = lane.queue.load
            if candidate < load { (best, load) = (lane, candidate) }
        }
        return best
    }

    public func executor(for access: StoreAccess) -> StoreQueue {
        leastBusyLane.queue
    }

    /// Runs `body` with a connection: the current lane's when called from a job of one, else the least busy one's.
    func withConnection<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        let lane = lanes.first { $0.queue.isCurrent } ?? leastBusyLane
        return try lane.withConnection(body)
    }

    /// Listens on the schema's channel, in a session shared by every store of this process with the same connection
    /// string (``PostgresListener``).
    public func observeSignals(_ handler: @escaping @Sendable (StoreSignal) -> Void) -> StoreObservation? {
        PostgresListener.subscribe(conninfo: url, channel: channel) { signal in
            switch signal {
            case .missed: handler(.missed)
            case .notified(let payload):
                if let known = Self.signal(payload) { handler(known) }
            }
        }
    }

    /// The payloads stores send, and what they mean; anything else (anyone may notify any channel) is ignored.
    static func signal(_ payload: String) -> StoreSignal? {
        switch payload {
        case "work": return .work
        case "cancel": return .cancel
        case "schedules": return .schedules
        default: return nil
        }
    }

    public func releaseIdleConnections() {
        for lane in lanes { lane.dropConnection() }
    }

    public func close() {
        closing.signal()
        for lane in lanes { lane.close() }
    }

    // MARK: Reading

    public func execution(_ id: String) throws(StoreError) -> ExecutionRecord? {
        let rows = try run { connection throws(PostgresError) in
            try connection.query(
                "SELECT \(Self.executionColumns) FROM \(executionSource) WHERE e.id = $1",
                [.text(id)]
            ).rows
        }
        guard let row = rows.first else { return nil }
        return try Self.executionRecord(row)
    }

    public func tasks(of executionID: String) throws(StoreError) -> [TaskRecord] {
        let rows = try run { connection throws(PostgresError) in
            try connection.query(
                """
                SELECT execution_id, task_id, position, status, attempt, max_attempts, next_retry_at, started_at,
                    completed_at, error, output
                FROM \(tasksTable) WHERE execution_id = $1 ORDER BY position
                """,
                [.text(executionID)]
            ).rows
        }
        var tasks: [TaskRecord] = []
        tasks.reserveCapacity(rows.count)
        for row in rows { tasks.append(try Self.taskRecord(row)) }
        return tasks
    }

    public func executions(_ query: ExecutionQuery) throws(StoreError) -> [ExecutionRecord] {
        var (filter, values) = Self.filter(query)
        values += [.integer(Int64(max(query.limit, 0))), .integer(Int64(max(query.offset, 0)))]
        let sql = """
            SELECT \(Self.summaryColumns) FROM \(executionsTable) e \(filter)
            ORDER BY e.created_at DESC, e.id DESC LIMIT $\(values.count - 1) OFFSET $\(values.count)
            """
        let rows = try run { connection throws(PostgresError) in try connection.query(sql, values).rows }
        var records: [ExecutionRecord] = []
        records.reserveCapacity(rows.count)
        for row in rows { records.append(try Self.executionRecord(row)) }
        return records
    }

    public func countExecutions(_ query: ExecutionQuery, upTo limit: Int?) throws(StoreError) -> Int {
        var (filter, values) = Self.filter(query)
        var sql = "SELECT COUNT(*) FROM \(executionsTable) e \(filter)"
        if let limit {
            values.append(.integer(Int64(max(limit, 0))))
            sql = "SELECT COUNT(*) FROM (SELECT 1 FROM \(executionsTable) e \(filter) LIMIT $\(values.count)) AS capped"
        }
        let rows = try run { connection throws(PostgresError) in try connection.query(sql, values).rows }
        return Int(rows.first?.int64(0) ?? 0)
    }

    public func statistics() throws(StoreError) -> TenantMetrics {
        let (counts, durations) = try run { connection throws(PostgresError) in
            let counts = try connection.query("SELECT status, COUNT(*) FROM \(executionsTable) GROUP BY status").rows
            let durations = try connection.query(
                """
                SELECT COALESCE(SUM(completed_at - started_at), 0), COUNT(*) FROM \(executionsTable)
                WHERE completed_at IS NOT NULL AND started_at IS NOT NULL
                """
            ).rows.first
            return (counts, durations)
        }
        var statistics = TenantMetrics()
        for row in counts {
            let name = row.text(0) ?? ""
            guard let status = ExecutionStatus(rawValue: name) else {
                throw StoreError(.corrupt, "executions have unknown status \"\(name)\"")
            }
            statistics.executionsByStatus[status] = Int(row.int64(1) ?? 0)
        }
        let total = durations?.int64(0) ?? 0
        let count = durations?.int64(1) ?? 0
        if count > 0 { statistics.averageExecutionTime = .milliseconds(total / count) }
        return statistics
    }

    public func events(of executionID: String, after: Int64, limit: Int?) throws(StoreError) -> [ExecutionEvent] {
        let rows = try run { connection throws(PostgresError) in
            try connection.query(
                """
                SELECT sequence, execution_id, task_id, kind, attempt, detail, created_at
                FROM \(eventsTable) WHERE execution_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3
                """,
                [.text(executionID), .integer(after), limit.map { .integer(Int64(max($0, 0))) } ?? .null]
            ).rows
        }
        return try rows.map { row throws(StoreError) in
            ExecutionEvent(
                sequence: row.int64(0) ?? 0,
                executionID: row.text(1) ?? "",
                taskID: row.text(2),
                kind: try ExecutionEvent.Kind(stored: row.text(3) ?? "", executionID: executionID),
                attempt: row.int64(4).map { Int($0) },
                detail: row.text(5),
                at: Timestamp(milliseconds: row.int64(6) ?? 0)
            )
        }
    }

    public func taskLogs(_ query: TaskLogQuery) throws(StoreError) -> TaskLogPage {
        var filter = "execution_id = $1"
        var values: [PostgresValue] = [.text(query.executionID)]
        if let task = query.taskID {
            values.append(.text(task))
            filter += " AND task_id = $\(values.count)"
        }
        let (dropFilter, dropValues) = (filter, values)
        if let attempt = query.attempt, attempt <= Int(Int32.max) {
            values.append(.integer(Int64(attempt)))
            filter += " AND attempt = $\(values.count)"
        } else if query.attempt != nil {
            // Attempts are stored as integers: a larger number names no attempt (and must not fail the query).
            filter += " AND false"
        }
        values += [.integer(query.after), .integer(Int64(max(query.limit, 0)))]
        let (rows, droppedRows) = try run { connection throws(PostgresError) in
            let rows = try connection.query(
                """
                SELECT sequence, task_id, attempt, level, message, created_at FROM \(logsTable)
                WHERE \(filter) AND sequence > $\(values.count - 1) ORDER BY sequence LIMIT $\(values.count)
                """,
                values
            ).rows
            let dropped = try connection.query(
                "SELECT task_id, logs_dropped FROM \(tasksTable) WHERE \(dropFilter) AND logs_dropped > 0",
                dropValues
            ).rows
            return (rows, dropped)
        }
        var page = TaskLogPage()
        for row in droppedRows { page.dropped[row.text(0) ?? ""] = Int(row.int64(1) ?? 0) }
        page.lines.reserveCapacity(rows.count)
        for row in rows {
            page.lines.append(
                TaskLogLine(
                    sequence: row.int64(0) ?? 0,
                    executionID: query.executionID,
                    taskID: row.text(1) ?? "",
                    attempt: Int(row.int64(2) ?? 0),
                    level: try TaskLogLine.Level(stored: row.text(3) ?? "", executionID: query.executionID),
                    message: row.text(4) ?? "",
                    at: Timestamp(milliseconds: row.int64(5) ?? 0)
                )
            )
        }
        return page
    }

    /// The `WHERE` clause of a query's filters (on `executions e`), with its parameters numbered from `$1`.
    private static func filter(_ query: ExecutionQuery) -> (String, [PostgresValue]) {
        var clauses: [String] = []
        var values: [PostgresValue] = []
        if !query.statuses.isEmpty {
            values.append(.textArray(query.statuses.map(\.rawValue).sorted()))
            clauses.append("e.status = ANY($\(values.count)::text[])")
        }
        if let workflow = query.workflow {
            values.append(.text(workflow))
            clauses.append("e.workflow = $\(values.count)")
        }
        if let prefix = query.idPrefix {
            // A range of the primary key ("C" collation: bytewise): every id that starts with the prefix sorts
            // between these two.
            values += [.text(prefix), .text(prefix + "\u{10FFFF}")]
            clauses.append("e.id >= $\(values.count - 1) AND e.id < $\(values.count)")
        }
        if let schedule = query.scheduleID {
            values.append(.text(schedule))
            clauses.append("e.schedule_id = $\(values.count)")
        }
        if let after = query.after {
            values += [.integer(after.createdAt.milliseconds), .text(after.id)]
            clauses.append("(e.created_at, e.id) < ($\(values.count - 1)::bigint, $\(values.count)::text)")
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), values)
    }
}
