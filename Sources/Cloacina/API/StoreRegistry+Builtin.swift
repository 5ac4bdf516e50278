internal import CloacinaPostgres
internal import CloacinaSQLite
public import CloacinaStorage

extension StoreRegistry {
    /// The stores the engine comes with: SQLite (`sqlite:`) and PostgreSQL (`postgresql://`, `postgres://`). Every
    /// runner and tenant manager uses it unless its configuration names another registry.
    ///
    /// The one place in the engine that names a backend. Swift runs no code when a module is loaded, so a backend
    /// cannot register itself on import; the module whose calls default to it (`DefaultRunner(databaseURL:)`) lists
    /// them.
    public static let builtin = StoreRegistry([SQLiteBackend(), PostgresBackend()])
}
