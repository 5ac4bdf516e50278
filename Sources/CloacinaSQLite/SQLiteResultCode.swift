/// An SQLite result code, by name (GRDB's `ResultCode`): a primary code (the low 8 bits) or an extended one.
///
/// In a `switch` or `~=`, a primary code matches itself and all its extended codes, an extended code only itself:
/// `case .SQLITE_CONSTRAINT:` catches `SQLITE_CONSTRAINT_PRIMARYKEY` too. See <https://www.sqlite.org/rescode.html>.
public struct SQLiteResultCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The primary code: `SQLITE_CONSTRAINT` for `SQLITE_CONSTRAINT_UNIQUE`.
    public var primary: SQLiteResultCode { SQLiteResultCode(rawValue: rawValue & 0xFF) }

    /// Whether this is a primary code.
    public var isPrimary: Bool { self == primary }

    /// Whether `code` is `pattern`, or one of its extended codes when `pattern` is primary.
    public static func ~= (pattern: SQLiteResultCode, code: SQLiteResultCode) -> Bool {
        pattern.isPrimary ? pattern == code.primary : pattern == code
    }

    public var description: String { "\(rawValue)" }

    // Primary codes.
    public static let SQLITE_OK = SQLiteResultCode(rawValue: 0)
    public static let SQLITE_ERROR = SQLiteResultCode(rawValue: 1)
    public static let SQLITE_INTERNAL = SQLiteResultCode(rawValue: 2)
    public static let SQLITE_PERM = SQLiteResultCode(rawValue: 3)
    public static let SQLITE_ABORT = SQLiteResultCode(rawValue: 4)
    /// The file is locked by another connection.
    public static let SQLITE_BUSY = SQLiteResultCode(rawValue: 5)
    /// A table is locked (shared cache, or within this connection).
    public static let SQLITE_LOCKED = SQLiteResultCode(rawValue: 6)
    public static let SQLITE_NOMEM = SQLiteResultCode(rawValue: 7)
    public static let SQLITE_READONLY = SQLiteResultCode(rawValue: 8)
    public static let SQLITE_INTERRUPT = SQLiteResultCode(rawValue: 9)
    public static let SQLITE_IOERR = SQLiteResultCode(rawValue: 10)
    /// The database file is malformed.
    public static let SQLITE_CORRUPT = SQLiteResultCode(rawValue: 11)
    public static let SQLITE_NOTFOUND = SQLiteResultCode(rawValue: 12)
    /// The disk is full.
    public static let SQLITE_FULL = SQLiteResultCode(rawValue: 13)
    /// The file cannot be opened.
    public static let SQLITE_CANTOPEN = SQLiteResultCode(rawValue: 14)
    public static let SQLITE_PROTOCOL = SQLiteResultCode(rawValue: 15)
    public static let SQLITE_SCHEMA = SQLiteResultCode(rawValue: 17)
    public static let SQLITE_TOOBIG = SQLiteResultCode(rawValue: 18)
    /// A write broke a constraint.
    public static let SQLITE_CONSTRAINT = SQLiteResultCode(rawValue: 19)
    public static let SQLITE_MISMATCH = SQLiteResultCode(rawValue: 20)
    public static let SQLITE_MISUSE = SQLiteResultCode(rawValue: 21)
    public static let SQLITE_AUTH = SQLiteResultCode(rawValue: 23)
    public static let SQLITE_RANGE = SQLiteResultCode(rawValue: 25)
    /// The file is not a database.
    public static let SQLITE_NOTADB = SQLiteResultCode(rawValue: 26)
    public static let SQLITE_ROW = SQLiteResultCode(rawValue: 100)
    public static let SQLITE_DONE = SQLiteResultCode(rawValue: 101)

    // Extended codes this code names.
    public static let SQLITE_BUSY_RECOVERY = SQLiteResultCode(rawValue: SQLITE_BUSY.rawValue | (1 << 8))
    public static let SQLITE_BUSY_SNAPSHOT = SQLiteResultCode(rawValue: SQLITE_BUSY.rawValue | (2 << 8))
    public static let SQLITE_BUSY_TIMEOUT = SQLiteResultCode(rawValue: SQLITE_BUSY.rawValue | (3 << 8))
    public static let SQLITE_LOCKED_SHAREDCACHE = SQLiteResultCode(rawValue: SQLITE_LOCKED.rawValue | (1 << 8))
    public static let SQLITE_CONSTRAINT_FOREIGNKEY = SQLiteResultCode(rawValue: SQLITE_CONSTRAINT.rawValue | (3 << 8))
    public static let SQLITE_CONSTRAINT_NOTNULL = SQLiteResultCode(rawValue: SQLITE_CONSTRAINT.rawValue | (5 << 8))
    public static let SQLITE_CONSTRAINT_PRIMARYKEY = SQLiteResultCode(rawValue: SQLITE_CONSTRAINT.rawValue | (6 << 8))
    public static let SQLITE_CONSTRAINT_UNIQUE = SQLiteResultCode(rawValue: SQLITE_CONSTRAINT.rawValue | (8 << 8))
}
