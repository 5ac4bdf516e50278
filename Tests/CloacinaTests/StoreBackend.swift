import CloacinaPostgres
import CloacinaSQLite
import CloacinaStorage
import CloacinaTestSupport
import Foundation
import Testing

/// A database the storage conformance suite runs against: each test opens a fresh, empty store of its own.
///
/// SQLite always runs. PostgreSQL runs when `CLOACINA_TEST_POSTGRES_URL` names a server (`scripts/test.sh` starts
/// one and sets it); each store gets a schema of its own, dropped when the test ends.
struct StoreBackend: CustomTestStringConvertible, Sendable {
    let name: String
    /// Opens a new empty store; `close` releases it and deletes what it made.
    let open: @Sendable (_ label: String) throws -> OpenedStore

    var testDescription: String { name }

    static let sqlite = StoreBackend(name: "SQLite") { label in
        let directory = try TemporaryDirectory("store-\(label)")
        let store = try SQLiteExecutionStore(path: directory.file("tenant.db"))
        return OpenedStore(store: store, reopen: { try SQLiteExecutionStore(path: directory.file("tenant.db")) }) {
            _ = directory
        }
    }

    /// A PostgreSQL server at `url`: every store gets a fresh schema, `t_<label>_<8 random hex digits>`, dropped
    /// with everything in it by `cleanup`.
    static func postgres(_ url: String) -> StoreBackend {
        StoreBackend(name: "PostgreSQL") { label in
            let schema = uniqueSchemaName(label)
            let store = try PostgresExecutionStore(url: url, schema: schema)
            return OpenedStore(store: store, reopen: { try PostgresExecutionStore(url: url, schema: schema) }) {
                store.close()
                dropSchema(schema, url: url)
            }
        }
    }

    /// The URL of the test PostgreSQL server, when this run has one.
    static var postgresURL: String? { TestEnvironment.variable("CLOACINA_TEST_POSTGRES_URL") }

    /// Every backend this test run can reach.
    static var available: [StoreBackend] { [sqlite] + (postgresURL.map { [postgres($0)] } ?? []) }

    /// A schema name no other test uses: `t_<label>_<8 random hex digits>`, lower-cased, valid by the schema rule.
    static func uniqueSchemaName(_ label: String) -> String {
        let cleaned = label.lowercased().unicodeScalars.map { scalar -> String in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) ? String(scalar) : "_"
        }.joined().prefix(40)
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return "t_\(cleaned)_\(String(repeating: "0", count: 8 - random.count))\(random)"
    }

    /// Drops `schema` and everything in it, through a connection of its own.
    static func dropSchema(_ schema: String, url: String) {
        guard let connection = try? PostgresConnection(url), let identifier = try? PostgresIdentifier(schema) else {
            return
        }
        _ = try? connection.execute("DROP SCHEMA IF EXISTS \(identifier.quoted) CASCADE")
    }
}

/// A store opened for one test, and how to open it again (as a restarted host would) and clean up.
struct OpenedStore: Sendable {
    let store: any ExecutionStore
    let reopen: @Sendable () throws -> any ExecutionStore
    let cleanup: @Sendable () -> Void

    init(
        store: any ExecutionStore,
        reopen: @escaping @Sendable () throws -> any ExecutionStore,
        cleanup: @escaping @Sendable () -> Void
    ) {
        self.store = store
        self.reopen = reopen
        self.cleanup = cleanup
    }
}
