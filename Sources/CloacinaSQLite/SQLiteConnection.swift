internal import CSQLite
public import CloacinaStorage
internal import Synchronization

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    /// UTF-8 text given as bytes (JSON documents), stored as TEXT without a detour through `String`.
    case utf8([UInt8])
}

/// One open SQLite database connection with a statement cache: a thin layer over the C API.
///
/// Not thread-safe: it is opened without SQLite's own mutex, so its owner must use it from one thread at a time
/// (``SQLiteExecutionStore`` uses each connection only from its own ``StoreQueue``). It is marked `Sendable` only
/// so that such an owner can hold it. While another connection holds the file's lock, SQLite's busy handler waits
/// (pauses growing from 1 ms to 50 ms, ended early by the owner's ``StoreClosing``) for up to the busy timeout;
/// then the call throws an error whose ``SQLiteError/isTransient`` is true, and the caller decides.
public final class SQLiteConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    private let busyWait: BusyWait
    /// The file this connection opened.
    public let path: String

    /// Opens (and creates, unless `readOnly`) the database at `path`, in WAL mode, waiting up to `busyTimeout` for
    /// a lock another connection holds unless `closing` is signalled first.
    public init(
        path: String,
        readOnly: Bool = false,
        busyTimeout: Duration = .seconds(5),
        closing: StoreClosing = StoreClosing()
    ) throws(SQLiteError) {
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw SQLiteError(code: status, message: message, context: "opening \(path)")
        }
        self.handle = handle
        self.path = path
        self.busyWait = BusyWait(timeout: busyTimeout, closing: closing)
        sqlite3_extended_result_codes(handle, 1)
        // A small lookaside: connections of idle tenants should cost little memory.
        _ = cloacina_sqlite3_lookaside(handle, 128, 32)
        sqlite3_busy_handler(
            handle,
            { context, count in
                guard let context else { return 0 }
                return Unmanaged<BusyWait>.fromOpaque(context).takeUnretainedValue().again(after: count) ? 1 : 0
            },
            Unmanaged.passUnretained(busyWait).toOpaque()
        )
        if !readOnly {
            // The write-ahead log shrinks back to 4 MiB after a checkpoint, so one large output does not leave a
            // log of its size behind.
            try execute("PRAGMA journal_mode = WAL; PRAGMA journal_size_limit = 4194304")
        }
        try execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Bytes SQLite has allocated in this process (all connections), for benchmarks.
    public static var memoryInUse: Int64 { sqlite3_memory_used() }

    /// Statements run by every connection of this process since it started, for benchmarks and idle checks.
    public static var statementsRun: Int { statementCount.load(ordering: .relaxed) }
    private static let statementCount = Atomic<Int>(0)

    /// Frees what an idle connection need not hold: its prepared statements and its page cache. They come back as
    /// needed.
    public func releaseMemory() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        sqlite3_db_release_memory(handle)
    }

    /// Runs one or more statements that take no parameters and return no rows of interest.
    public func execute(_ sql: String) throws(SQLiteError) {
        Self.statementCount.add(1, ordering: .relaxed)
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw SQLiteError(
                code: sqlite3_extended_errcode(handle),
                message: text,
                context: "executing \(Self.abbreviate(sql))"
            )
        }
    }

    /// Runs a statement with parameters; returns the number of rows it changed.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLiteValue] = []) throws(SQLiteError) -> Int {
        let statement = try prepared(sql, values)
        defer { done(statement) }
        var status = sqlite3_step(statement)
        while status == SQLITE_ROW { status = sqlite3_step(statement) }
        guard status == SQLITE_DONE else { throw error(status, sql) }
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and maps every row.
    public func query<T>(
        _ sql: String,
        _ values: [SQLiteValue] = [],
        _ map: (SQLiteRow) throws(SQLiteError) -> T
    ) throws(SQLiteError) -> [T] {
        let statement = try prepared(sql, values)
        defer { done(statement) }
        var rows: [T] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw error(status, sql) }
            rows.append(try map(SQLiteRow(statement: statement)))
        }
    }

    /// Runs `body` in a transaction, committing when it returns and rolling back when it throws.
    /// `immediate` takes the write lock at the start, so a writer never fails half-way for lack of it.
    public func transaction<T>(immediate: Bool = true, _ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Resets a cached statement for its next use and lets go of its parameters' copies (a context of megabytes
    /// would otherwise stay in memory with the statement until it runs again).
    private func done(_ statement: OpaquePointer) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    private func prepared(_ sql: String, _ values: [SQLiteValue]) throws(SQLiteError) -> OpaquePointer {
        Self.statementCount.add(1, ordering: .relaxed)
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var prepared: OpaquePointer?
            let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
            guard status == SQLITE_OK, let prepared else { throw error(status, sql) }
            statements[sql] = prepared
            statement = prepared
        }
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let integer): status = sqlite3_bind_int64(statement, index, integer)
            case .real(let real): status = sqlite3_bind_double(statement, index, real)
            case .text(let text):
                status = text.utf8CString.withUnsafeBufferPointer {
                    cloacina_sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count - 1))
                }
            case .utf8(let bytes) where bytes.isEmpty:
                status = "".withCString { cloacina_sqlite3_bind_text(statement, index, $0, 0) }
            case .utf8(let bytes):
                status = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) {
                        cloacina_sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count))
                    }
                }
            }
            guard status == SQLITE_OK else { throw error(status, sql) }
        }
        return statement
    }

    private func error(_ status: Int32, _ sql: String) -> SQLiteError {
        SQLiteError(
            code: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)),
            context: "running \(Self.abbreviate(sql))"
        )
    }

    private static func abbreviate(_ sql: String) -> String {
        let line = sql.split(whereSeparator: \.isNewline).map { $0.trimmingPrefix(while: \.isWhitespace) }.joined(
            separator: " "
        )
        return line.count > 80 ? String(line.prefix(80)) + "…" : line
    }
}

/// The connection's busy handler: how long it has waited for the current lock, and when to stop.
private final class BusyWait {
    let timeout: Duration
    let closing: StoreClosing
    /// When the wait for the current lock began.
    var began = ContinuousClock.now

    init(timeout: Duration, closing: StoreClosing) {
        self.timeout = timeout
        self.closing = closing
    }

    /// Whether to try the lock again after the `count`-th refusal (0 for the first), having waited a pause; false
    /// once the timeout has passed or the store is closing.
    func again(after count: Int32) -> Bool {
        let now = ContinuousClock.now
        if count == 0 { began = now }
        let left = timeout - (now - began)
        guard left > .zero else { return false }
        return closing.pause(for: min(.milliseconds(1 << min(Int(count), 6)), .milliseconds(50), left))
    }
}

/// The current row of a query, read by column index.
public struct SQLiteRow {
    let statement: OpaquePointer

    public func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(statement, column) == SQLITE_NULL
    }

    public func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    public func optionalInt64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : int64(column)
    }

    public func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    public func optionalText(_ column: Int32) -> String? {
        isNull(column) ? nil : text(column)
    }

    /// The column's bytes (TEXT or BLOB), nil when NULL.
    public func bytes(_ column: Int32) -> [UInt8]? {
        guard !isNull(column) else { return nil }
        guard let pointer = sqlite3_column_blob(statement, column) else { return [] }
        let count = Int(sqlite3_column_bytes(statement, column))
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
