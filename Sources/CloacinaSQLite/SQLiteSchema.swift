internal import CloacinaStorage

/// The versioned schema of a tenant's SQLite file. Migrations only ever append; each runs in its own transaction
/// and is recorded in `schema_migrations`, so a file is either at a version or before it, never half-way.
enum SQLiteSchema {
    /// Migrations by version, in order.
    static let migrations: [(version: Int, sql: String)] = [
        (
            1,
            """
            CREATE TABLE executions (
                id TEXT PRIMARY KEY,
                workflow TEXT NOT NULL,
                package_name TEXT,
                package_version TEXT,
                package_sha256 TEXT,
                definition TEXT NOT NULL,
                status TEXT NOT NULL
                    CHECK (status IN ('Pending', 'Running', 'Completed', 'Failed', 'Cancelled')),
                input TEXT NOT NULL,
                final_context TEXT,
                error TEXT,
                created_at INTEGER NOT NULL,
                started_at INTEGER,
                completed_at INTEGER,
                claimed_by TEXT,
                lease_expires_at INTEGER,
                cancel_requested INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX executions_by_status ON executions (status, created_at);
            CREATE INDEX executions_by_created ON executions (created_at);
            CREATE INDEX executions_by_workflow ON executions (workflow, created_at);

            CREATE TABLE task_executions (
                execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
                task_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                status TEXT NOT NULL
                    CHECK (status IN ('Pending', 'Running', 'Retrying', 'Completed', 'Failed', 'Skipped', 'Cancelled')),
                attempt INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL,
                next_retry_at INTEGER,
                started_at INTEGER,
                completed_at INTEGER,
                error TEXT,
                output TEXT,
                claimed_by TEXT,
                lease_expires_at INTEGER,
                PRIMARY KEY (execution_id, task_id)
            );

            CREATE TABLE execution_events (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
                task_id TEXT,
                kind TEXT NOT NULL,
                attempt INTEGER,
                detail TEXT,
                created_at INTEGER NOT NULL
            );
            CREATE INDEX execution_events_by_execution ON execution_events (execution_id, sequence);
            """
        ),
        (
            2,
            // Contexts over ExecutionRecord.inlineContextBytes go in rows of their own (execution_contexts), written
            // once; definitions are stored once per content hash (rows written before keep theirs inline); listing
            // pages by (created_at, id).
            """
            CREATE TABLE definitions (sha256 TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE execution_contexts (
                execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('input', 'final')),
                body TEXT NOT NULL,
                PRIMARY KEY (execution_id, kind)
            );
            ALTER TABLE executions ADD COLUMN definition_sha256 TEXT;
            DROP INDEX executions_by_created;
            CREATE INDEX executions_by_created_id ON executions (created_at, id);
            """
        ),
        (
            3,
            // The host serving the file (HostRecord), for `cloacina hosts`.
            """
            CREATE TABLE hosts (
                id TEXT PRIMARY KEY,
                address TEXT NOT NULL,
                version TEXT NOT NULL,
                capacity INTEGER NOT NULL,
                started_at INTEGER NOT NULL,
                heartbeat_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            ) WITHOUT ROWID
            """
        ),
        (
            4,
            // Execution control and schedules: pause, the execution an execution retries or re-runs, the schedule
            // fire that created it (at most one execution per schedule and fire time), the schedules themselves,
            // and the log lines of attempts.
            """
            ALTER TABLE executions ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE executions ADD COLUMN retry_of TEXT;
            ALTER TABLE executions ADD COLUMN rerun_of TEXT;
            ALTER TABLE executions ADD COLUMN schedule_id TEXT;
            ALTER TABLE executions ADD COLUMN scheduled_for INTEGER;
            CREATE UNIQUE INDEX executions_by_schedule_fire ON executions (schedule_id, scheduled_for)
                WHERE schedule_id IS NOT NULL;

            CREATE TABLE schedules (
                id TEXT PRIMARY KEY,
                workflow TEXT NOT NULL,
                cron TEXT NOT NULL,
                time_zone TEXT NOT NULL,
                input TEXT NOT NULL,
                starts_at INTEGER,
                ends_at INTEGER,
                catch_up TEXT NOT NULL CHECK (catch_up IN ('skip', 'all', 'none')),
                catch_up_cap INTEGER NOT NULL,
                overlap TEXT NOT NULL CHECK (overlap IN ('allow', 'skip', 'queue', 'cancel-previous')),
                paused INTEGER NOT NULL DEFAULT 0,
                source TEXT NOT NULL CHECK (source IN ('user', 'package')),
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                fired_through INTEGER
            ) WITHOUT ROWID;

            CREATE TABLE task_logs (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
                task_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                level TEXT NOT NULL,
                message TEXT NOT NULL,
                created_at INTEGER NOT NULL
            );
            CREATE INDEX task_logs_by_attempt ON task_logs (execution_id, task_id, attempt, sequence);
            ALTER TABLE task_executions ADD COLUMN logs_dropped INTEGER NOT NULL DEFAULT 0;
            """
        ),
    ]

    /// The newest version this code knows.
    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the file to ``latestVersion``; refuses a file written by a newer version of the host.
    static func migrate(
        _ connection: SQLiteConnection,
        lockTimeout: Duration,
        closing: StoreClosing
    ) throws(StoreError) {
        do {
            try SQLiteExecutionStore.retrying(lockTimeout, closing) { () throws(SQLiteError) in
                try connection.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
                )
            }
            for migration in migrations {
                let applied = try SQLiteExecutionStore.retrying(lockTimeout, closing) { () throws(SQLiteError) in
                    try connection.transaction { () throws(SQLiteError) -> Bool in
                        let current =
                            try connection.query("SELECT MAX(version) FROM schema_migrations") {
                                $0.optionalInt64(0) ?? 0
                            }.first ?? 0
                        guard current < migration.version else { return false }
                        try connection.execute(migration.sql)
                        try connection.run(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                            [.integer(Int64(migration.version)), .integer(Timestamp.now().milliseconds)]
                        )
                        return true
                    }
                }
                _ = applied
            }
            let current =
                try connection.query("SELECT MAX(version) FROM schema_migrations") { $0.optionalInt64(0) ?? 0 }
                .first ?? 0
            guard current <= Int64(latestVersion) else {
                throw StoreError(
                    .schema,
                    "\(connection.path) has schema version \(current), newer than this host's \(latestVersion); upgrade the host"
                )
            }
        } catch let error as SQLiteError {
            throw StoreError(.schema, "migrating \(connection.path): \(error)")
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.schema, "migrating \(connection.path): \(error)")
        }
    }
}
