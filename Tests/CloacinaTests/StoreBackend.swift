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

    /// Every backend this test run can reach.
    static var available: [StoreBackend] { [sqlite] }
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
