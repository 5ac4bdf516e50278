/// A failed SQLite call: the result code, SQLite's message, and what was being done.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_PRIMARYKEY`, ...).
    public let code: SQLiteResultCode
    public let message: String
    /// What the caller was doing, such as "opening /data/acme.db".
    public let context: String

    init(code: Int32, message: String, context: String) {
        self.code = SQLiteResultCode(rawValue: code)
        self.message = message
        self.context = context
    }

    /// Whether the error is lock contention that goes away when retried (`SQLITE_BUSY`, `SQLITE_LOCKED` and
    /// their extended codes).
    public var isTransient: Bool {
        switch code {
        case .SQLITE_BUSY, .SQLITE_LOCKED: return true
        default: return false
        }
    }

    public var description: String { "\(context): \(message) (SQLite error \(code))" }
}
