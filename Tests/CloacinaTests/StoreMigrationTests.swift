import CloacinaStorage
import CloacinaTestSupport
import Foundation
import Testing

@testable import CloacinaPostgres
@testable import CloacinaSQLite

/// A store written by the first schema version (contexts and definitions inline in the executions row) opens
/// migrated, its executions reading back exactly as they were written.
@Suite("Store migrations")
struct StoreMigrationTests {
    static let definition = #"{"name":"legacy","tasks":[]}"#
    static let input = #"{"n": 1, "text": "kept as written"}"#
    static let finalContext = #"[{"set":{"done":true}}]"#

    static func check(_ store: any ExecutionStore) throws {
        let done = try #require(try store.execution("old-done"))
        #expect(done.definition == Array(definition.utf8) && done.input == Array(input.utf8))
        #expect(done.finalContext == Array(finalContext.utf8) && done.status == .completed)
        let running = try #require(try store.execution("old-running"))
        #expect(running.input == Array(input.utf8) && running.finalContext == nil)
        #expect(try store.executions(ExecutionQuery()).map(\.id) == ["old-running", "old-done"])
        // New executions go on beside them.
        var record = try #require(try store.execution("old-done"))
        record.id = "new"
        record.createdAt = Timestamp(milliseconds: 3)
        _ = try store.write([.insertExecution(record, tasks: [])], owner: "r")
        #expect(try store.execution("new")?.definition == Array(definition.utf8))
    }

    static func legacyRows(_ executions: String) -> String {
        """
        INSERT INTO \(executions) (id, workflow, definition, status, input, final_context, created_at)
        VALUES ('old-done', 'legacy', '\(definition)', 'Completed', '\(input)', '\(finalContext)', 1),
            ('old-running', 'legacy', '\(definition)', 'Running', '\(input)', NULL, 2);
        """
    }

    @Test("a SQLite file at version 1 migrates, keeping every execution's definition and contexts")
    func sqlite() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("legacy.db")
        do {
            let connection = try SQLiteConnection(path: path)
            try connection.execute(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
            )
            try connection.execute(SQLiteSchema.migrations[0].sql)
            try connection.execute("INSERT INTO schema_migrations VALUES (1, 0)")
            try connection.execute(Self.legacyRows("executions"))
        }
        let store = try SQLiteExecutionStore(path: path)
        defer { store.close() }
        try Self.check(store)
    }

    @Test(
        "a PostgreSQL schema at version 1 migrates, keeping every execution's definition and contexts",
        .enabled(if: StoreBackend.postgresURL != nil)
    )
    func postgres() throws {
        let url = try #require(StoreBackend.postgresURL)
        let schema = StoreBackend.uniqueSchemaName("legacy")
        defer { StoreBackend.dropSchema(schema, url: url) }
        let identifier = try PostgresIdentifier(schema)
        let admin = try PostgresConnection(url)
        try admin.execute("CREATE SCHEMA \(identifier.quoted)")
        try admin.execute(PostgresSchema.migrationsTable(identifier.quoted))
        try admin.execute(PostgresSchema.migrations(identifier.quoted)[0].sql)
        try admin.execute("INSERT INTO \(identifier.quoted).schema_migrations VALUES (1, 0)")
        try admin.execute(Self.legacyRows("\(identifier.quoted).executions"))
        let store = try PostgresExecutionStore(url: url, schema: schema, createSchema: false)
        defer { store.close() }
        try Self.check(store)
    }
}
