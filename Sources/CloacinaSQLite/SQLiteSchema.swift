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
