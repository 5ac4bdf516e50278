import Cloacina
import CloacinaSDK
import CloacinaStorage
import CloacinaTestSupport
import Foundation
import Synchronization
import Testing

@testable import CloacinaPostgres

/// PostgreSQL-only behaviour that needs no server: names are refused before any connection is made, and
/// connection strings are redacted.
@Suite("PostgreSQL store without a server")
struct PostgresNamingTests {
    /// Nothing listens here: a store that tried to connect would fail with `unavailable`, not `schema`.
    static let unreachable = "postgresql://nobody:secret@/nowhere?host=/nonexistent-cloacina-socket-dir&port=1"

    @Test(
        "invalid and reserved schema names are refused before any connection is made",
        arguments: [
            "bad\"name", "a;drop table x", "has space", String(repeating: "a", count: 64), "public", "PUBLIC",
            "information_schema", "pg_x", "Pg_catalog", "", "1abc", "ünïcode", "a-b", "a.b", "Acme", "tenant_A",
            "ALLCAPS",
        ]
    )
    func refusedNames(_ name: String) throws {
        do throws(StoreError) {
            _ = try PostgresExecutionStore(url: Self.unreachable, schema: name)
            Issue.record("schema name \"\(name)\" was accepted")
        } catch {
            #expect(error.code == .schema)
            #expect(error.message.contains("refusing the schema name"))
        }
        #expect(!PostgresIdentifier.isValid(name))
    }

    @Test("valid names follow ^[a-z_][a-z0-9_]{0,62}$ and are quoted exactly")
    func validNames() throws {
        for name in ["a", "_x", "tenant_42", String(repeating: "z", count: 63), "publicity", "pgx"] {
            #expect(PostgresIdentifier.isValid(name))
            #expect(try PostgresIdentifier(name).quoted == "\"\(name)\"")
        }
        // A valid name is only then tried against the server, which is not there.
        #expect(throws: StoreError.self) { try PostgresExecutionStore(url: Self.unreachable, schema: "acme") }
        do throws(StoreError) {
            _ = try PostgresExecutionStore(url: Self.unreachable, schema: "acme")
        } catch {
            #expect(error.code == .unavailable)
            #expect(!error.message.contains("secret"))
        }
    }

    @Test("passwords in URLs and key=value strings are redacted")
    func redaction() {
        let cases: [(String, String)] = [
            ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
            ("postgresql://app:p@ss@db/x?sslmode=require", "postgresql://app:***@db/x?sslmode=require"),
            ("postgresql://db/x?user=app&password=s3cret&port=1", "postgresql://db/x?user=app&password=***&port=1"),
            ("host=db password=s3cret user=app", "host=db password=*** user=app"),
            ("host=db password = 'a b\\' c' user=app", "host=db password = *** user=app"),
            ("host=db sslpassword=k1 password=k2", "host=db sslpassword=*** password=***"),
            ("postgresql://app@db/x", "postgresql://app@db/x"),
        ]
        for (input, expected) in cases {
            #expect(ConnectionStringRedaction.redact(input) == expected)
        }
    }

    @Test(
        "libpq's connection errors never show a password, also a malformed URL's (raw @, /, :, bad escapes)",
        arguments: [
            "postgresql://acme:Sekr1t@[::1:5432/db",
            "postgresql://acme:Sekr1t@tail@nohost.invalid:1/db",
            "postgresql://acme:Sekr1t/tail@localhost:1/db",
            "postgresql://acme:Sekr1t:tail@/db?host=/nonexistent-cloacina-socket-dir&port=1",
            "postgresql://acme:Sekr1t?tail@/db?host=/nonexistent-cloacina-socket-dir&port=1",
            "postgresql://acme:Sekr1t%zztail@h/db",
            "postgresql://acme@/db?host=/nonexistent-cloacina-socket-dir&port=1&password=Sekr1t%40tail",
            "host=/nonexistent-cloacina-socket-dir port=1 password='Sekr1t tail'",
            "postgresql://acme:Sekr1t@/db?host=/nonexistent-cloacina-socket-dir&port=x",
        ]
    )
    func connectionErrorsAreRedacted(_ url: String) {
        do throws(PostgresError) {
            _ = try PostgresConnection(url)
            Issue.record("connected with \(url)")
        } catch {
            for fragment in ["Sekr1t", "tail", "zz"] {
                #expect(!error.description.contains(fragment), "\(error.description)")
            }
        }
        do throws(StoreError) {
            _ = try PostgresExecutionStore(url: url, schema: "acme")
        } catch {
            #expect(!"\(error)".contains("Sekr1t") && !"\(error)".contains("tail"), "\(error)")
        }
        do throws(PostgresError) {
            _ = try PostgresConnection.parameters(of: url)
        } catch {
            #expect(!error.description.contains("Sekr1t") && !error.description.contains("tail"), "\(error)")
        }
    }
}

/// PostgreSQL-only behaviour against the test server named by `CLOACINA_TEST_POSTGRES_URL`.
@Suite("PostgreSQL store", .enabled(if: StoreBackend.postgresURL != nil, "needs CLOACINA_TEST_POSTGRES_URL"))
struct PostgresStoreTests {
    let url = StoreBackend.postgresURL ?? ""

    /// A store on a fresh schema; the schema is dropped when `body` returns.
    func withStore(
        _ label: String,
        poolSize: Int = 4,
        _ body: (PostgresExecutionStore, String) throws -> Void
    ) throws {
        let schema = StoreBackend.uniqueSchemaName(label)
        let store = try PostgresExecutionStore(url: url, schema: schema, poolSize: poolSize)
        defer {
            store.close()
            StoreBackend.dropSchema(schema, url: url)
        }
        try body(store, schema)
    }

    static func execution(_ id: String, owner: String = "runner") -> ExecutionRecord {
        ExecutionRecord(
            id: id,
            workflow: "flow",
            package: nil,
            definition: Array("{}".utf8),
            status: .pending,
            input: Array("{}".utf8),
            createdAt: Timestamp(milliseconds: 1),
            owner: owner
        )
    }

    @Test("the database named in the URL is the one used")
    func databaseFromURL() throws {
        let admin = try PostgresConnection(url)
        try admin.execute("DROP DATABASE IF EXISTS cloacina_other WITH (FORCE)")
        try admin.execute("CREATE DATABASE cloacina_other")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS cloacina_other WITH (FORCE)") }
        let otherURL = PostgresTestURL.replacing(url, database: "cloacina_other")
        let schema = StoreBackend.uniqueSchemaName("db")
        let store = try PostgresExecutionStore(url: otherURL, schema: schema)
        _ = try store.write([.insertExecution(Self.execution("e1"), tasks: [])], owner: "runner")
        store.close()

        let other = try PostgresConnection(otherURL)
        #expect(try other.query("SELECT current_database()").rows.first?.text(0) == "cloacina_other")
        let tables = try other.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
            [.text(schema)]
        )
        #expect(
            tables.rows.map { $0.text(0) }
                == [
                    "definitions", "execution_contexts", "execution_events", "executions", "hosts", "schedules",
                    "schema_migrations", "task_executions", "task_logs",
                ]
        )
        #expect(try other.query("SELECT id FROM \"\(schema)\".executions").rows.map { $0.text(0) } == ["e1"])
        #expect(
            try admin.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [.text(schema)]).rows.isEmpty
        )
    }

    @Test("a key=value connection string works as libpq defines it")
    func keywordConnectionString() throws {
        let conninfo = try PostgresTestURL.keywordForm(url)
        let schema = StoreBackend.uniqueSchemaName("kv")
        let store = try PostgresExecutionStore(url: conninfo, schema: schema, poolSize: 1)
        defer {
            store.close()
            StoreBackend.dropSchema(schema, url: url)
        }
        _ = try store.write([.insertExecution(Self.execution("kv"), tasks: [])], owner: "runner")
        #expect(try store.execution("kv")?.id == "kv")
    }

    @Test("one schema's executions are invisible from another schema's store")
    func isolation() throws {
        try withStore("iso_a") { a, schemaA in
            try withStore("iso_b") { b, schemaB in
                _ = try a.write([.insertExecution(Self.execution("e1"), tasks: [])], owner: "runner")
                #expect(try b.execution("e1") == nil)
                #expect(try b.countExecutions(ExecutionQuery()) == 0)
                #expect(
                    try b.claimUnfinished(owner: "x", leaseUntil: .now(), now: .now(), ownerIsAlive: { _ in false })
                        .isEmpty
                )
                #expect(try !b.requestCancel("e1"))
                // The same id in the other schema is a different execution.
                _ = try b.write([.insertExecution(Self.execution("e1", owner: "other"), tasks: [])], owner: "other")
                #expect(try a.execution("e1")?.owner == "runner")
                #expect(try b.execution("e1")?.owner == "other")
                // Pooled sessions are confined to their schema: unqualified names resolve there.
                let confined = try b.withConnection { connection throws(PostgresError) in
                    try connection.query("SELECT current_schema(), count(*) FROM executions").rows.first
                }
                #expect(confined?.text(0) == schemaB && confined?.int64(1) == 1)
                #expect(schemaA != schemaB)
            }
        }
    }

    @Test("a session that cannot be confined to its schema is refused")
    func confinement() throws {
        let connection = try PostgresConnection(url)
        #expect(throws: PostgresError.self) {
            try PostgresSchema.confine(connection, to: PostgresIdentifier("no_such_schema_here"))
        }
        let schema = StoreBackend.uniqueSchemaName("missing")
        do throws(StoreError) {
            _ = try PostgresExecutionStore(url: url, schema: schema, createSchema: false)
            Issue.record("a missing schema was opened without createSchema")
        } catch {
            #expect(error.code == .schema)
        }
    }

    @Test("a lane replaces a connection the server terminated; the next operation succeeds")
    func terminatedConnection() throws {
        try withStore("killed", poolSize: 1) { store, _ in
            _ = try store.write([.insertExecution(Self.execution("e1"), tasks: [])], owner: "runner")
            let admin = try PostgresConnection(url)
            let killed = try store.withConnection { connection throws(PostgresError) in connection.backendPID }
            try PostgresTestURL.terminate(killed, using: admin)
            #expect(try store.execution("e1")?.id == "e1")
            let replacement = try store.withConnection { connection throws(PostgresError) in connection.backendPID }
            #expect(replacement != killed)

            // The same through a write, which runs in a transaction.
            try PostgresTestURL.terminate(replacement, using: admin)
            let lost = try store.write(
                [.updateExecution(ExecutionUpdate(id: "e1", status: .running))],
                owner: "runner"
            )
            #expect(lost.isEmpty)
            #expect(try store.execution("e1")?.status == .running)
        }
    }

    @Test("a bare lane drops a broken connection and connects again on the next call; a closed lane refuses calls")
    func laneReplacesBrokenConnection() throws {
        let url = self.url
        let lane = PostgresLane(label: "test") { () throws(PostgresError) in try PostgresConnection(url) }
        defer { lane.close() }
        let admin = try PostgresConnection(url)
        let first = try lane.withConnection { connection throws(PostgresError) in connection.backendPID }
        try PostgresTestURL.terminate(first, using: admin)
        do throws(PostgresError) {
            _ = try lane.withConnection { connection throws(PostgresError) in try connection.query("SELECT 1") }
            Issue.record("a query on a terminated connection succeeded")
        } catch {
            #expect(error.isConnectionFailure)
        }
        let second = try lane.withConnection { connection throws(PostgresError) in
            try connection.query("SELECT pg_backend_pid()").rows.first?.int64(0)
        }
        #expect(second != nil && second != Int64(first))
        lane.close()
        do throws(PostgresError) {
            _ = try lane.withConnection { connection throws(PostgresError) in try connection.query("SELECT 1") }
            Issue.record("a closed lane ran a call")
        } catch {
            #expect(error.code == .closed)
        }
    }

    @Test("connection errors never show the password")
    func noPasswordInErrors() async throws {
        let secret = "s3cr3t-Pa55w0rd"
        let withUserInfo = PostgresTestURL.replacing(url, password: secret, database: "no_such_database")
        let keyword = try PostgresTestURL.keywordForm(url, database: "no_such_database") + " password=\(secret)"
        for target in [withUserInfo, keyword] {
            do throws(StoreError) {
                _ = try PostgresExecutionStore(url: target, schema: "acme")
                Issue.record("opened a database that does not exist")
            } catch {
                #expect(error.code == .unavailable)
                #expect(error.message.contains("no_such_database"))
                #expect(!error.message.contains(secret))
                #expect(error.message.contains("***"))
            }
            do throws(PostgresError) {
                _ = try PostgresConnection(target)
            } catch {
                #expect(!error.description.contains(secret))
            }
        }
        let directory = try TemporaryDirectory("pg-redact")
        var configuration = DefaultRunner.Configuration(databaseURL: withUserInfo)
        configuration.packageCacheDirectory = directory.file("packages")
        configuration.schema = "acme"
        do throws(CloacinaError) {
            _ = try await DefaultRunner.Builder(configuration: configuration).build()
            Issue.record("a runner opened a database that does not exist")
        } catch {
            #expect(!"\(error)".contains(secret))
        }
    }

    @Test("runners for two tenant schemas run workflows, each seeing only its own executions")
    func runnersPerSchema() async throws {
        let package = WorkflowPackage(name: "pg", version: "1") {
            Workflow("chain") {
                WorkflowTask("first") { ctx in ctx["n"] = 1 }
                WorkflowTask("second", dependsOn: "first") { ctx in ctx["n"] = .int(try ctx.int("n") + 1) }
            }
        }
        let directory = try TemporaryDirectory("pg-runner")
        let schemas = [StoreBackend.uniqueSchemaName("tenant_a"), StoreBackend.uniqueSchemaName("tenant_b")]
        defer { for schema in schemas { StoreBackend.dropSchema(schema, url: url) } }
        var runners: [DefaultRunner] = []
        for schema in schemas {
            var configuration = DefaultRunner.Configuration(databaseURL: url)
            configuration.packageCacheDirectory = directory.file("packages")
            configuration.embeddedPackages = [package]
            configuration.schema = schema
            configuration.dbPoolSize = 2
            runners.append(try await DefaultRunner.Builder(configuration: configuration).build())
        }
        let a = try await runners[0].execute("chain", context: ["tenant": "a"])
        let b = try await runners[1].execute("chain", context: ["tenant": "b"])
        #expect(a.status == .completed && b.status == .completed)
        #expect(a.finalContext?["n"] == 2)
        #expect(a.executionID != b.executionID)
        #expect(try await runners[0].listExecutions().map(\.executionID) == [a.executionID])
        #expect(try await runners[1].listExecutions().map(\.executionID) == [b.executionID])
        #expect(try await runners[1].executionStatus(b.executionID).tasks.map(\.status) == [.completed, .completed])
        for runner in runners { await runner.shutdown() }

        // A restarted runner reads the same schema back.
        var configuration = DefaultRunner.Configuration(databaseURL: url)
        configuration.packageCacheDirectory = directory.file("packages")
        configuration.schema = schemas[0]
        let reopened = try await DefaultRunner.Builder(configuration: configuration).build()
        #expect(try await reopened.executionStatus(a.executionID).finalContext?["n"] == 2)
        await reopened.shutdown()
    }

    @Test("a schema written by a newer host is refused")
    func newerSchemaRefused() throws {
        try withStore("newer") { store, schema in
            let admin = try PostgresConnection(url)
            try admin.query(
                "INSERT INTO \"\(schema)\".schema_migrations (version, applied_at) VALUES ($1, 0)",
                [.integer(Int64(PostgresSchema.latestVersion + 1))]
            )
            do throws(StoreError) {
                _ = try PostgresExecutionStore(url: url, schema: schema)
                Issue.record("a newer schema was opened")
            } catch {
                #expect(error.code == .schema)
                #expect(error.message.contains("newer"))
            }
        }
    }

    /// A store on a fresh schema whose connections go through a ``PostgresFaultProxy``.
    func withProxiedStore(_ label: String, _ body: (PostgresExecutionStore, PostgresFaultProxy) throws -> Void) throws {
        let proxy = try PostgresFaultProxy(forwardingTo: url)
        defer { proxy.close() }
        let schema = StoreBackend.uniqueSchemaName(label)
        let store = try PostgresExecutionStore(url: proxy.url, schema: schema, poolSize: 1)
        defer {
            store.close()
            StoreBackend.dropSchema(schema, url: url)
        }
        try body(store, proxy)
    }

    @Test("a batch whose COMMIT reply was lost is found committed and not applied again")
    func lostCommitReply() throws {
        try withProxiedStore("doubt_c") { store, proxy in
            _ = try store.write([.insertExecution(Self.execution("e1"), tasks: [])], owner: "runner")
            proxy.arm(.loseCommitReply)
            let lost = try store.write(
                [
                    .updateExecution(ExecutionUpdate(id: "e1", status: .running)),
                    .appendEvent(
                        ExecutionEvent(executionID: "e1", kind: .executionCreated, at: .init(milliseconds: 1))
                    ),
                ],
                owner: "runner"
            )
            #expect(proxy.faultsInjected == 1)
            #expect(lost.isEmpty)
            #expect(try store.events(of: "e1").map(\.kind) == [.executionCreated])
            #expect(store.inDoubt.withLock { $0.isEmpty })
        }
    }

    @Test("a batch left in doubt is resolved when it is written again: applied if it aborted, skipped if it committed")
    func rememberedDoubt() throws {
        try withStore("doubt_r") { store, _ in
            _ = try store.write([.insertExecution(Self.execution("e1"), tasks: [])], owner: "runner")
            let admin = try PostgresConnection(url)
            func transaction(_ end: String) throws -> Int64 {
                let id = try #require(try admin.execute("BEGIN; SELECT txid_current()").rows.first?.int64(0))
                try admin.execute(end)
                return id
            }
            // Each case appends an event of its own kind, to tell whether its batch was applied.
            let cases: [(String, Bool, ExecutionEvent.Kind)] = [
                ("COMMIT", false, .executionStarted), ("ROLLBACK", true, .executionCompleted),
            ]
            for (end, applied, kind) in cases {
                let batch: [StoreWrite] = [
                    .appendEvent(ExecutionEvent(executionID: "e1", kind: kind, at: .init(milliseconds: 1)))
                ]
                let doubt = PostgresExecutionStore.InDoubtBatch(
                    transaction: try transaction(end),
                    token: 1,
                    backend: 0,
                    writes: batch,
                    owner: "runner",
                    lost: []
                )
                store.inDoubt.withLock { $0.append(doubt) }
                #expect(try store.write(batch, owner: "runner").isEmpty)
                #expect(try store.events(of: "e1").contains { $0.kind == kind } == applied)
                #expect(store.inDoubt.withLock { $0.isEmpty })
            }
        }
    }

    @Test("a batch that committed while every reply to it was lost is found by its token, not applied again")
    func everyReplyLost() throws {
        try withProxiedStore("doubt_t") { store, proxy in
            _ = try store.write([.insertExecution(Self.execution("e1"), tasks: [])], owner: "runner")
            _ = try store.write([.insertExecution(Self.execution("e2", owner: "other"), tasks: [])], owner: "other")
            proxy.arm(.loseEveryReply)
            let lost = try store.write(
                [
                    .updateExecution(ExecutionUpdate(id: "e1", status: .running)),
                    .appendEvent(
                        ExecutionEvent(executionID: "e1", kind: .executionCreated, at: .init(milliseconds: 1))
                    ),
                    .appendEvent(
                        ExecutionEvent(executionID: "e2", kind: .executionCreated, at: .init(milliseconds: 1))
                    ),
                ],
                owner: "runner"
            )
            #expect(proxy.faultsInjected == 1)
            #expect(lost == ["e2"])
            #expect(try store.events(of: "e1").map(\.kind) == [.executionCreated])
            #expect(try store.events(of: "e2").isEmpty)
            #expect(try store.execution("e1")?.status == .running)
            #expect(store.inDoubt.withLock { $0.isEmpty })
        }
    }

    @Test("a prepared statement is prepared again as it is used (16, 64, 256 … uses), so plans follow growing tables")
    func replanning() throws {
        let connection = try PostgresConnection(url)
        let lookup = PostgresStatement(
            "SELECT k.id FROM unnest($1::int[]) AS k (id) ORDER BY k.id",
            [.integerArray([7, 3])],
            prepared: "probe_lookup"
        )
        func prepared() throws -> (time: String?, executions: Int64?) {
            let row = try connection.execute(
                """
                SELECT prepare_time, generic_plans + custom_plans FROM pg_prepared_statements
                WHERE name = 'probe_lookup'
                """
            ).rows.first
            return (row?.text(0), row?.int64(1))
        }
        var times: [String] = []
        for use in 1...70 {
            #expect(try connection.pipeline([lookup]).first?.rows.compactMap { $0.text(0) } == ["3", "7"])
            let (time, executions) = try prepared()
            if let time, times.last != time { times.append(time) }
            // Counted since the statement was last prepared.
            let expected = use > 64 ? use - 64 : use > 16 ? use - 16 : use
            #expect(executions == Int64(expected), "use \(use)")
        }
        #expect(times.count == 3)
        #expect(
            (0..<300).allSatisfy { PostgresConnection.replans(after: $0) == [16, 64, 256].contains($0) }
                && PostgresConnection.replans(after: 16_384 * 3) && !PostgresConnection.replans(after: 16_385)
        )
    }

    @Test("a batch whose connection died just before COMMIT is applied exactly once")
    func connectionLostAtCommit() throws {
        try withProxiedStore("doubt_a") { store, proxy in
            _ = try store.write([.insertExecution(Self.execution("e1"), tasks: [])], owner: "runner")
            proxy.arm(.dropBeforeCommit)
            let lost = try store.write(
                [
                    .updateExecution(ExecutionUpdate(id: "e1", status: .running)),
                    .appendEvent(
                        ExecutionEvent(executionID: "e1", kind: .executionCreated, at: .init(milliseconds: 1))
                    ),
                ],
                owner: "runner"
            )
            #expect(proxy.faultsInjected == 1)
            #expect(lost.isEmpty)
            #expect(try store.events(of: "e1").map(\.kind) == [.executionCreated])
            #expect(try store.execution("e1")?.status == .running)
        }
    }

    @Test("closing the store ends a call's back-off while the server cannot be reached", .timeLimit(.minutes(1)))
    func closeEndsBackoff() async throws {
        let proxy = try PostgresFaultProxy(forwardingTo: url)
        let schema = StoreBackend.uniqueSchemaName("backoff")
        defer { StoreBackend.dropSchema(schema, url: url) }
        let store = try PostgresExecutionStore(
            url: proxy.url,
            schema: schema,
            poolSize: 1,
            retryTimeout: .seconds(3600)
        )
        // The server is gone for the store: its connection dropped, and no new one can be made.
        proxy.close()
        store.releaseIdleConnections()
        let lane = store.executor(for: .read)
        let read = Task { try await lane.run { () throws(StoreError) in _ = try store.execution("e1") } }
        while lane.load < 1 { await Task.yield() }
        store.close()
        await #expect(throws: StoreError.self) { try await read.value }
    }

    @Test("concurrent hosts opening one new schema create and migrate it once")
    func concurrentMigrations() throws {
        let url = self.url
        let schema = StoreBackend.uniqueSchemaName("migrate")
        defer { StoreBackend.dropSchema(schema, url: url) }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do throws(StoreError) {
                let store = try PostgresExecutionStore(url: url, schema: schema, poolSize: 1)
                store.close()
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let admin = try PostgresConnection(url)
        let versions = try admin.query("SELECT version FROM \"\(schema)\".schema_migrations ORDER BY version")
        #expect(versions.rows.map { $0.int64(0) } == (1...PostgresSchema.latestVersion).map { Int64($0) })
        // Nothing refers to executions by a foreign key: its row triggers would run on every transition (v6).
        let references = try admin.query(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::regclass",
            [.text("\"\(schema)\".executions")]
        )
        #expect(references.rows.first?.int64(0) == 0)
    }

    @Test("a role that may only use an existing schema opens it; missing privileges are named")
    func restrictedRole() throws {
        try withStore("roles") { _, schema in
            let admin = try PostgresConnection(url)
            let role = StoreBackend.uniqueSchemaName("role")
            // Roles other than the test server's admin log in with a password.
            let password = "pw_\(UInt64.random(in: .min ... .max))"
            try admin.execute("CREATE ROLE \(role) LOGIN PASSWORD '\(password)'")
            let bare = StoreBackend.uniqueSchemaName("bare")
            defer {
                StoreBackend.dropSchema(bare, url: url)
                _ = try? admin.execute("DROP OWNED BY \(role); DROP ROLE \(role)")
            }
            try admin.execute(
                """
                GRANT USAGE ON SCHEMA "\(schema)" TO \(role);
                GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "\(schema)" TO \(role);
                CREATE SCHEMA "\(bare)";
                GRANT USAGE ON SCHEMA "\(bare)" TO \(role);
                """
            )
            let roleURL = PostgresTestURL.replacing(url, user: role, password: password)

            let tenant = try PostgresExecutionStore(url: roleURL, schema: schema)
            _ = try tenant.write(
                [
                    .insertExecution(Self.execution("e1"), tasks: []),
                    .appendEvent(
                        ExecutionEvent(executionID: "e1", kind: .executionCreated, at: .init(milliseconds: 1))
                    ),
                ],
                owner: "runner"
            )
            #expect(try tenant.events(of: "e1").map(\.kind) == [.executionCreated])
            tenant.close()

            do throws(StoreError) {
                _ = try PostgresExecutionStore(url: roleURL, schema: bare)
                Issue.record("a role without CREATE on the schema created tables")
            } catch {
                #expect(error.message.contains("may not create tables"))
            }
            do throws(StoreError) {
                _ = try PostgresExecutionStore(url: roleURL, schema: StoreBackend.uniqueSchemaName("nocreate"))
                Issue.record("a role without CREATE on the database created a schema")
            } catch {
                #expect(error.message.contains("may not create schemas"))
            }
        }
    }
}

/// Test-server URL surgery and session control.
enum PostgresTestURL {
    /// `url` (`postgresql://[user[:password]@][host]/database?parameters`) with its user, password or database
    /// replaced; the parameters (host directory, port) are kept.
    static func replacing(
        _ url: String,
        user: String? = nil,
        password: String? = nil,
        database: String? = nil
    ) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let queryStart = url[scheme.upperBound...].firstIndex(of: "?") ?? url.endIndex
        let slash = url[scheme.upperBound..<queryStart].firstIndex(of: "/") ?? queryStart
        let authority = url[scheme.upperBound..<slash]
        var host = String(authority)
        var currentUser: String?
        if let at = authority.lastIndex(of: "@") {
            currentUser = authority[..<at].split(separator: ":", maxSplits: 1).first.map(String.init)
            host = String(authority[authority.index(after: at)...])
        }
        var userInfo = user ?? currentUser ?? ""
        if let password { userInfo += ":\(password)" }
        let path = database.map { "/\($0)" } ?? String(url[slash..<queryStart])
        return String(url[..<scheme.upperBound]) + (userInfo.isEmpty ? "" : "\(userInfo)@") + host + path
            + String(url[queryStart...])
    }

    /// The test URL as a libpq `key=value` string (host, port, user, database).
    static func keywordForm(_ url: String, database: String? = nil) throws -> String {
        let parsed = try #require(URLComponents(string: url))
        var parts: [String] = []
        if let host = parsed.host, !host.isEmpty { parts.append("host=\(host)") }
        for item in parsed.queryItems ?? [] {
            if let value = item.value { parts.append("\(item.name)=\(value)") }
        }
        if let user = parsed.user { parts.append("user=\(user)") }
        let path = parsed.path.hasPrefix("/") ? String(parsed.path.dropFirst()) : parsed.path
        parts.append("dbname=\(database ?? path)")
        return parts.joined(separator: " ")
    }

    /// Terminates the backend `pid` and waits (up to 10 s) until it is gone.
    static func terminate(_ pid: Int32, using admin: PostgresConnection) throws {
        let result = try admin.query("SELECT pg_terminate_backend($1::int, 10000)", [.integer(Int64(pid))])
        #expect(result.rows.first?.bool(0) == true)
    }
}
