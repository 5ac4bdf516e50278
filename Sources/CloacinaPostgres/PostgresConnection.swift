internal import CPostgreSQL
internal import CloacinaStorage
public import Synchronization

#if canImport(Glibc)
internal import Glibc
#endif

/// One libpq connection: a thin, blocking layer over `PQconnectdb` and `PQexecParams`.
///
/// The connection string goes to `PQconnectdb` unchanged, so it means exactly what libpq says: `postgresql://`
/// URLs with all their parameters, `key=value` strings, the `PG*` environment variables and `.pgpass`. Parameters
/// are always sent separately from the SQL, in text format; results are read in full as text-format bytes.
///
/// Not thread-safe: one thread at a time (a ``PostgresLane`` uses each connection only from its own queue). It is
/// `Sendable` only so that such an owner can hold it. It does no retrying and no reconnecting; a failure tells by
/// ``PostgresError/isConnectionFailure`` whether the connection is still usable, and the caller decides.
public final class PostgresConnection: @unchecked Sendable {
    let handle: OpaquePointer
    /// The connection string with its passwords replaced by `***`, for messages.
    public let location: String
    /// The connection string, whose secrets are scrubbed from every libpq message (``scrubbed(_:)``).
    private let conninfo: String
    /// The password libpq parsed from the connection string (nil when it names none or does not parse).
    private let password: String?
    /// Round trips to the server made by every connection of the process (a query, or one pipeline), for the
    /// benchmark's statements-per-execution figures.
    public static let roundTrips = Atomic<Int>(0)

    /// The names of the statements prepared on this session (``PostgresStatement/name``).
    var prepared: Set<String> = []
    /// How often each named statement was used since it was last prepared (``replans(after:)``).
    var statementUses: [String: Int] = [:]

    /// Connects with `conninfo` (a `postgresql://` URL or a libpq `key=value` string) and sets the client encoding
    /// to UTF-8.
    public init(_ conninfo: String) throws(PostgresError) {
        let location = ConnectionStringRedaction.redact(conninfo)
        let password = Self.password(in: conninfo)
        let context = "connecting to \(location)"
        guard let handle = PQconnectdb(conninfo) else {
            throw PostgresError(.connection, message: "libpq is out of memory", context: context)
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.scrubbed(Self.trimmed(String(cString: PQerrorMessage(handle))), conninfo, password)
            PQfinish(handle)
            throw PostgresError(.connection, message: message, context: context)
        }
        // Notices (`… already exists, skipping`) would otherwise be printed on stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        guard PQsetClientEncoding(handle, "UTF8") == 0 else {
            let message = Self.scrubbed(Self.trimmed(String(cString: PQerrorMessage(handle))), conninfo, password)
            PQfinish(handle)
            throw PostgresError(.connection, message: message, context: "setting the client encoding to UTF8")
        }
        self.handle = handle
        self.location = location
        self.conninfo = conninfo
        self.password = password
    }

    deinit {
        PQfinish(handle)
    }

    /// Whether libpq still considers the connection usable (it finds out a connection broke when it next uses it).
    public var isOpen: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Whether the session is outside any transaction (not in one, not in a failed one, no command running).
    public var isIdle: Bool { PQtransactionStatus(handle) == PQTRANS_IDLE }

    /// The process id of the server backend serving this connection.
    public var backendPID: Int32 { PQbackendPID(handle) }

    /// Runs one or more statements without parameters (the simple query protocol); returns the last one's result.
    @discardableResult
    public func execute(_ sql: String) throws(PostgresError) -> PostgresResult {
        Self.roundTrips.add(1, ordering: .relaxed)
        return try consume(PQexec(handle, sql), sql)
    }

    /// Runs one statement with `parameters` bound to `$1`, `$2`, … in text format.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresResult {
        Self.roundTrips.add(1, ordering: .relaxed)
        let result = try withParameters(parameters, for: sql) { count, values in
            PQexecParams(handle, sql, count, nil, values, nil, nil, 0)
        }
        return try consume(result, sql)
    }

    /// Calls `body` with `parameters` as the count and NUL-terminated text values libpq takes; refuses values
    /// with a NUL byte. The values are copied once, into one buffer.
    func withParameters<R>(
        _ parameters: [PostgresValue],
        for sql: String,
        _ body: (Int32, [UnsafePointer<CChar>?]) -> R
    ) throws(PostgresError) -> R {
        try Self.validate(parameters, for: sql)
        return withValidatedParameters(parameters, body)
    }

    /// ``withParameters(_:for:_:)`` for parameters ``validate(_:for:)`` already accepted.
    func withValidatedParameters<R>(
        _ parameters: [PostgresValue],
        _ body: (Int32, [UnsafePointer<CChar>?]) -> R
    ) -> R {
        var buffer: [CChar] = []
        var offsets: [Int?] = []
        offsets.reserveCapacity(parameters.count)
        for parameter in parameters {
            let offset = buffer.count
            offsets.append(parameter.appendText(to: &buffer) ? offset : nil)
        }
        if buffer.isEmpty { buffer.append(0) }
        return buffer.withUnsafeBufferPointer { base in
            body(Int32(parameters.count), offsets.map { offset in offset.map { base.baseAddress! + $0 } })
        }
    }

    /// Refuses parameters libpq cannot send (a NUL byte in a text value), without copying any.
    static func validate(_ parameters: [PostgresValue], for sql: String) throws(PostgresError) {
        for (index, parameter) in parameters.enumerated() where parameter.containsNUL {
            throw PostgresError(
                .invalidParameter,
                message: "parameter $\(index + 1) contains a NUL byte, which PostgreSQL text cannot hold",
                context: "running \(abbreviated(sql))"
            )
        }
    }

    private func consume(_ result: OpaquePointer?, _ sql: String) throws(PostgresError) -> PostgresResult {
        guard let result else {
            throw PostgresError(.connection, message: lastError, context: "running \(Self.abbreviated(sql))")
        }
        defer { PQclear(result) }
        return try read(result, context: "running \(Self.abbreviated(sql))")
    }

    /// The rows of `result` (which the caller clears), or its error. `context` is built only for an error.
    func read(_ result: OpaquePointer, context: @autoclosure () -> String) throws(PostgresError) -> PostgresResult {
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            throw error(from: result, context: context())
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = PQnfields(result)
        var rows: [PostgresRow] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var values: [[UInt8]?] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) != 0 {
                    values.append(nil)
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                let value = PQgetvalue(result, row, column)
                values.append(value.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? [])
            }
            rows.append(PostgresRow(values: values))
        }
        let affected = PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0
        return PostgresResult(rows: rows, affectedRows: affected)
    }

    func error(from result: OpaquePointer, context: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        guard let sqlState = field("C") else {
            // Generated by libpq itself: the connection broke, or was never usable.
            let text = PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
            let message = scrubbed(Self.trimmed(text.isEmpty ? lastError : text))
            return PostgresError(isOpen ? .server : .connection, message: message, context: context)
        }
        var message = field("M") ?? "unknown error"
        if let detail = field("D") { message += "; \(detail)" }
        if let hint = field("H") { message += " (hint: \(hint))" }
        return PostgresError(
            .server,
            sqlState: sqlState,
            message: scrubbed(message),
            context: context
        )
    }

    var lastError: String {
        let message = Self.trimmed(String(cString: PQerrorMessage(handle)))
        return scrubbed(message.isEmpty ? "the connection to the server was lost" : message)
    }

    // MARK: Text helpers

    /// The `password` a connection string gives, as libpq parses it (nil when it gives none or does not parse).
    private static func password(in conninfo: String) -> String? {
        var failure: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &failure) else {
            if let failure { PQfreemem(failure) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if strcmp(keyword, "password") == 0 {
                return option.pointee.val.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            }
            option += 1
        }
        return nil
    }

    /// `message` with every occurrence of `password` replaced by `***`.
    static func scrubbed(_ message: String, password: String?) -> String {
        guard let password, !password.isEmpty else { return message }
        return message.replacing(password, with: "***")
    }

    /// `message` (libpq's or the server's) with the secrets of this connection's string scrubbed.
    func scrubbed(_ message: String) -> String { Self.scrubbed(message, conninfo, password) }

    /// `message` with `conninfo` redacted and every fragment of its passwords, and `password`, scrubbed
    /// (``ConnectionStringRedaction/scrub(_:connectionString:extraSecrets:)``, the one rule).
    static func scrubbed(_ message: String, _ conninfo: String, _ password: String?) -> String {
        ConnectionStringRedaction.scrub(message, connectionString: conninfo, extraSecrets: password.map { [$0] } ?? [])
    }

    private static func trimmed(_ text: String) -> String {
        String(text.trimmingPrefix(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            .split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The first 80 characters of `sql` on one line, for messages.
    static func abbreviated(_ sql: String) -> String {
        let line = sql.split(whereSeparator: \.isNewline).map { $0.trimmingPrefix(while: \.isWhitespace) }
            .joined(separator: " ")
        return line.count > 80 ? String(line.prefix(80)) + "…" : line
    }
}
