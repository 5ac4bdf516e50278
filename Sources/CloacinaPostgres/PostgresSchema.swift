internal import CloacinaStorage

/// The versioned tables of one tenant schema, and the session setup that confines a connection to it.
///
/// The same tables and columns as the SQLite store (`schema_migrations`, `executions`, `task_executions`,
/// `execution_events`, `execution_contexts`, `definitions`, and `executions.write_token` for the batches' guard), with BIGINT millisecond timestamps, TEXT for JSON (the bytes come back exactly as stored;
/// jsonb would normalise them) and an identity column for the event sequence. Text keys use the "C" collation, so
/// ids sort bytewise as they do in SQLite. Every name is schema-qualified. Migrations only ever append; each runs in
/// its own transaction holding a lock on the schema's `schema_migrations` table (one a role that may not use the
/// schema cannot take), so concurrent hosts migrate a schema once, in order.
/// It does not create roles or grant privileges (that is the administrator's job).
public enum PostgresSchema {
    /// Migrations by version, in order, for the schema quoted as `schema`.
    static func migrations(_ schema: String) -> [(version: Int, sql: String)] {
        [
            (
                1,
                """
                CREATE TABLE \(schema).executions (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    workflow TEXT COLLATE "C" NOT NULL,
                    package_name TEXT,
                    package_version TEXT,
                    package_sha256 TEXT,
                    definition TEXT NOT NULL,
                    status TEXT NOT NULL
                        CHECK (status IN ('Pending', 'Running', 'Completed', 'Failed', 'Cancelled')),
                    input TEXT NOT NULL,
                    final_context TEXT,
                    error TEXT,
                    created_at BIGINT NOT NULL,
                    started_at BIGINT,
                    completed_at BIGINT,
                    claimed_by TEXT COLLATE "C",
                    lease_expires_at BIGINT,
                    cancel_requested BOOLEAN NOT NULL DEFAULT false
                );
                CREATE INDEX executions_by_status ON \(schema).executions (status, created_at);
                CREATE INDEX executions_by_created ON \(schema).executions (created_at);
                CREATE INDEX executions_by_workflow ON \(schema).executions (workflow, created_at);
                CREATE INDEX executions_by_owner ON \(schema).executions (claimed_by)
                    WHERE status IN ('Pending', 'Running');

                CREATE TABLE \(schema).task_executions (
                    execution_id TEXT COLLATE "C" NOT NULL
                        REFERENCES \(schema).executions (id) ON DELETE CASCADE,
                    task_id TEXT COLLATE "C" NOT NULL,
                    position INTEGER NOT NULL,
                    status TEXT NOT NULL
                        CHECK (status IN ('Pending', 'Running', 'Retrying', 'Completed', 'Failed', 'Skipped', 'Cancelled')),
                    attempt INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    next_retry_at BIGINT,
                    started_at BIGINT,
                    completed_at BIGINT,
                    error TEXT,
                    output TEXT,
                    claimed_by TEXT COLLATE "C",
                    lease_expires_at BIGINT,
                    PRIMARY KEY (execution_id, task_id)
                );

                CREATE TABLE \(schema).execution_events (
                    sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    execution_id TEXT COLLATE "C" NOT NULL
                        REFERENCES \(schema).executions (id) ON DELETE CASCADE,
                    task_id TEXT,
                    kind TEXT NOT NULL,
                    attempt INTEGER,
                    detail TEXT,
                    created_at BIGINT NOT NULL
                );
                CREATE INDEX execution_events_by_execution ON \(schema).execution_events (execution_id, sequence);
                """
            ),
            (
                2,
                // The token of the last batch that wrote the execution: it marks the rows a batch holds, and tells
                // whether a batch whose transaction id was lost with its connection committed.
                "ALTER TABLE \(schema).executions ADD COLUMN write_token BIGINT"
            ),
            (
                3,
                // As in SQLite: contexts over ExecutionRecord.inlineContextBytes in rows of their own, written once;
                // definitions once per content hash (rows written before keep theirs inline); paging by
                // (created_at, id).
                """
                CREATE TABLE \(schema).definitions (sha256 TEXT COLLATE "C" PRIMARY KEY, body TEXT NOT NULL);
                CREATE TABLE \(schema).execution_contexts (
                    execution_id TEXT COLLATE "C" NOT NULL
                        REFERENCES \(schema).executions (id) ON DELETE CASCADE,
                    kind TEXT NOT NULL CHECK (kind IN ('input', 'final')),
                    body TEXT NOT NULL,
                    PRIMARY KEY (execution_id, kind)
                );
                ALTER TABLE \(schema).executions ADD COLUMN definition_sha256 TEXT COLLATE "C";
                DROP INDEX \(schema).executions_by_created;
                CREATE INDEX executions_by_created_id ON \(schema).executions (created_at, id);
                """
            ),
            (
                4,
                // The hosts serving the schema (HostRecord), for `cloacina hosts`.
                """
                CREATE TABLE \(schema).hosts (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    address TEXT NOT NULL,
                    version TEXT NOT NULL,
                    capacity INTEGER NOT NULL,
                    started_at BIGINT NOT NULL,
                    heartbeat_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL
                )
                """
            ),
            (
                5,
                // Execution control and schedules (as in SQLite v4): pause, the execution an execution retries or
                // re-runs, the schedule fire that created it (at most one execution per schedule and fire time),
                // the schedules themselves, and the log lines of attempts.
                """
                ALTER TABLE \(schema).executions ADD COLUMN paused BOOLEAN NOT NULL DEFAULT false;
                ALTER TABLE \(schema).executions ADD COLUMN retry_of TEXT COLLATE "C";
                ALTER TABLE \(schema).executions ADD COLUMN rerun_of TEXT COLLATE "C";
                ALTER TABLE \(schema).executions ADD COLUMN schedule_id TEXT COLLATE "C";
                ALTER TABLE \(schema).executions ADD COLUMN scheduled_for BIGINT;
                CREATE UNIQUE INDEX executions_by_schedule_fire ON \(schema).executions (schedule_id, scheduled_for)
                    WHERE schedule_id IS NOT NULL;

                CREATE TABLE \(schema).schedules (
                    id TEXT COLLATE "C" PRIMARY KEY,
                    workflow TEXT COLLATE "C" NOT NULL,
                    cron TEXT NOT NULL,
                    time_zone TEXT NOT NULL,
                    input TEXT NOT NULL,
                    starts_at BIGINT,
                    ends_at BIGINT,
                    catch_up TEXT NOT NULL CHECK (catch_up IN ('skip', 'all', 'none')),
                    catch_up_cap INTEGER NOT NULL,
                    overlap TEXT NOT NULL CHECK (overlap IN ('allow', 'skip', 'queue', 'cancel-previous')),
                    paused BOOLEAN NOT NULL DEFAULT false,
                    source TEXT NOT NULL CHECK (source IN ('user', 'package')),
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    fired_through BIGINT
                );

                CREATE TABLE \(schema).task_logs (
                    sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    execution_id TEXT COLLATE "C" NOT NULL
                        REFERENCES \(schema).executions (id) ON DELETE CASCADE,
                    task_id TEXT COLLATE "C" NOT NULL,
                    attempt INTEGER NOT NULL,
                    level TEXT NOT NULL,
                    message TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                );
                CREATE INDEX task_logs_by_attempt ON \(schema).task_logs (execution_id, task_id, attempt, sequence);
                ALTER TABLE \(schema).task_executions ADD COLUMN logs_dropped INTEGER NOT NULL DEFAULT 0;
                """
            ),
            (
                6,
                // No foreign keys to executions: each adds row triggers to the table every transition and lease
                // renewal updates, and a key-share lock and lookup per task, event, context and log row inserted;
                // the one task_logs added in v5 cost about a tenth of the PostgreSQL throughput, all four together
                // about a fifth (BENCHMARKS.md). What they guarded is guarded by the batches themselves: a row of
                // those tables is inserted in the batch that inserts its execution or by a statement that requires
                // the execution to be held by the batch (`write_token`), and executions are never deleted one by
                // one (a tenant goes with its schema).
                """
                ALTER TABLE \(schema).task_logs DROP CONSTRAINT IF EXISTS task_logs_execution_id_fkey;
                ALTER TABLE \(schema).task_executions DROP CONSTRAINT IF EXISTS task_executions_execution_id_fkey;
                ALTER TABLE \(schema).execution_events DROP CONSTRAINT IF EXISTS execution_events_execution_id_fkey;
                ALTER TABLE \(schema).execution_contexts
                    DROP CONSTRAINT IF EXISTS execution_contexts_execution_id_fkey;
                """
            ),
        ]
    }

    /// The newest version this code knows.
    static var latestVersion: Int { migrations("s").last?.version ?? 0 }

    /// Makes sure `schema` exists (creating it when `create` allows and it is missing) and its tables are at
    /// ``latestVersion``; refuses a schema written by a newer host. Runs no DDL when everything is current, so a
    /// role that may only use its schema can open it.
    static func prepare(
        _ connection: PostgresConnection,
        schema: PostgresIdentifier,
        create: Bool
    ) throws(PostgresError) {
        let exists = try !connection.query(
            "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
            [.text(schema.name)]
        ).rows.isEmpty
        if !exists {
            guard create else {
                let database = try currentDatabase(connection)
                throw PostgresError(
                    .scope,
                    message: "the schema does not exist in database \(database)",
                    context: "opening schema \(schema.quoted)"
                )
            }
            do throws(PostgresError) {
                try connection.execute("CREATE SCHEMA IF NOT EXISTS \(schema.quoted)")
            } catch  where error.sqlState == "42501" {
                let database = (try? currentDatabase(connection)) ?? "?"
                throw PostgresError(
                    .server,
                    sqlState: error.sqlState,
                    message: "the role may not create schemas in database \(database) "
                        + "(it needs CREATE on the database); create the schema as an administrator and grant "
                        + "the role its use (\(error.message))",
                    context: "creating schema \(schema.quoted)"
                )
            } catch  where error.sqlState == "42P06" || error.sqlState == "23505" {
                // Created by a concurrent host between the check and here.
            }
        }
        try requireUsage(connection, schema: schema)
        let current = try version(connection, schema: schema)
        guard current != latestVersion else { return }
        guard current < latestVersion else { throw tooNew(current, schema: schema) }
        for migration in migrations(schema.quoted) where migration.version > current {
            do throws(PostgresError) {
                try migrate(connection, schema: schema, to: migration)
            } catch  where error.sqlState == "42501" {
                throw PostgresError(
                    .server,
                    sqlState: error.sqlState,
                    message: "the role may not create tables in schema \(schema.quoted) (its tables are missing or "
                        + "older than version \(latestVersion)); grant it CREATE on the schema, or open the store "
                        + "once with a role that may (\(error.message))",
                    context: "migrating schema \(schema.quoted) to version \(migration.version)"
                )
            }
        }
        let migrated = try version(connection, schema: schema)
        guard migrated <= latestVersion else { throw tooNew(migrated, schema: schema) }
    }

    /// Refuses a session whose role may not use `schema` (no USAGE: another tenant's schema, say), before anything
    /// of the schema is read, with a message naming the role and the schema.
    private static func requireUsage(_ connection: PostgresConnection, schema: PostgresIdentifier) throws(PostgresError)
    {
        let row = try connection.query(
            "SELECT has_schema_privilege($1, 'USAGE'), current_user",
            [.text(schema.name)]
        ).rows.first
        guard row?.bool(0) != true else { return }
        throw PostgresError(
            .scope,
            sqlState: "42501",
            message: "permission denied: role \"\(row?.text(1) ?? "?")\" may not use schema \(schema.quoted), so its "
                + "sessions cannot be confined to it (is the connection string another tenant's?)",
            context: "opening schema \(schema.quoted)"
        )
    }

    /// Confines a new session to `schema`: sets the search path and checks `current_schema()` names exactly it.
    ///
    /// It also bounds how long the server keeps a transaction that its client stopped speaking in (a partition, a
    /// paused host) to 5 seconds: the server then ends the session, so the rows it locked do not keep the other
    /// hosts from taking the executions over. Every transaction of the store sends all its statements at once.
    static func confine(_ connection: PostgresConnection, to schema: PostgresIdentifier) throws(PostgresError) {
        try connection.execute("SET search_path TO \(schema.quoted); SET idle_in_transaction_session_timeout = '5s'")
        let current = try connection.query("SELECT current_schema()").rows.first?.text(0)
        guard current == schema.name else {
            throw PostgresError(
                .scope,
                message: "after SET search_path the session's current schema is "
                    + (current.map { "\"\($0)\"" } ?? "NULL")
                    + ", not \(schema.quoted): the schema does not exist or the role may not use it",
                context: "confining a connection to schema \(schema.quoted)"
            )
        }
    }

    private static func migrate(
        _ connection: PostgresConnection,
        schema: PostgresIdentifier,
        to migration: (version: Int, sql: String)
    ) throws(PostgresError) {
        try createMigrationsTable(connection, schema: schema)
        try connection.execute("BEGIN")
        do throws(PostgresError) {
            try lockMigrations(connection, schema: schema)
            let current = try version(connection, schema: schema)
            if current < migration.version {
                try connection.execute(migration.sql)
                try connection.query(
                    "INSERT INTO \(schema.quoted).schema_migrations (version, applied_at) VALUES ($1, $2)",
                    [.integer(Int64(migration.version)), .integer(Timestamp.now().milliseconds)]
                )
            }
            try connection.execute("COMMIT")
        } catch {
            if connection.isOpen { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    /// Creates the schema's `schema_migrations` table when it is missing, in a statement of its own (so that the
    /// migrations can lock it); a host that created it at the same moment is fine.
    private static func createMigrationsTable(
        _ connection: PostgresConnection,
        schema: PostgresIdentifier
    ) throws(PostgresError) {
        let exists = try connection.query(
            "SELECT to_regclass($1) IS NOT NULL",
            [.text("\(schema.quoted).schema_migrations")]
        )
        guard exists.rows.first?.bool(0) != true else { return }
        do throws(PostgresError) {
            try connection.execute(migrationsTable(schema.quoted))
        } catch  where ["42P07", "42710", "23505"].contains(error.sqlState) {
            // Created by a concurrent host between the check and here: PostgreSQL reports that race as the table
            // existing (42P07), its row type existing (42710), or a unique violation in its catalogs (23505).
        }
    }

    /// Serialises the migrations of `schema` until the transaction ends: a lock on its `schema_migrations` table,
    /// which only roles that may use the schema can take (never another tenant's role, unlike an advisory lock,
    /// which any role can take by its number).
    private static func lockMigrations(
        _ connection: PostgresConnection,
        schema: PostgresIdentifier
    ) throws(PostgresError) {
        try connection.execute("LOCK TABLE \(schema.quoted).schema_migrations IN SHARE ROW EXCLUSIVE MODE")
    }

    /// The table recording applied migrations, for the schema quoted as `schema`.
    static func migrationsTable(_ schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(schema).schema_migrations (
            version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)
        """
    }

    /// The schema's version: 0 before its first migration.
    private static func version(
        _ connection: PostgresConnection,
        schema: PostgresIdentifier
    ) throws(PostgresError)
        -> Int
    {
        let table = try connection.query(
            "SELECT to_regclass($1) IS NOT NULL",
            [.text("\(schema.quoted).schema_migrations")]
        )
        guard table.rows.first?.bool(0) == true else { return 0 }
        let result = try connection.query("SELECT COALESCE(MAX(version), 0) FROM \(schema.quoted).schema_migrations")
        return Int(result.rows.first?.int64(0) ?? 0)
    }

    private static func tooNew(_ version: Int, schema: PostgresIdentifier) -> PostgresError {
        PostgresError(
            .scope,
            message: "the schema is at version \(version), newer than this host's \(latestVersion); upgrade the host",
            context: "opening schema \(schema.quoted)"
        )
    }

    private static func currentDatabase(_ connection: PostgresConnection) throws(PostgresError) -> String {
        let name = try connection.query("SELECT current_database()").rows.first?.text(0) ?? "?"
        return "\"\(name)\""
    }
}
