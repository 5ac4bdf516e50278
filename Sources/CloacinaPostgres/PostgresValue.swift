/// A statement parameter, always sent to the server in text format.
///
/// Values are never interpolated into SQL: ``PostgresConnection/query(_:_:)`` passes them separately and the server
/// parses them. Text cannot contain a NUL byte (libpq's text format ends a value at the first one), so such a value
/// is refused rather than cut short.
public enum PostgresValue: Sendable, Hashable {
    case null
    case text(String)
    /// UTF-8 text given as bytes (JSON documents), sent without a detour through `String`.
    case utf8([UInt8])
    case integer(Int64)
    case boolean(Bool)

    /// A `text[]` array literal of `elements` (each quoted and escaped), for `= ANY($1::text[])`.
    public static func textArray(_ elements: some Sequence<String>) -> PostgresValue {
        textArray(elements.lazy.map { Optional($0) })
    }

    /// A `text[]` array literal of `elements`, NULL for nil; built as bytes, each element quoted and its `"` and
    /// `\` escaped, for `unnest($1::text[])`.
    public static func textArray(_ elements: some Sequence<String?>) -> PostgresValue {
        arrayLiteral(elements.lazy.map { $0?.utf8 })
    }

    /// ``textArray(_:)-(Sequence<String?>)`` of UTF-8 texts given as bytes (JSON documents).
    public static func textArray(utf8 elements: some Sequence<[UInt8]?>) -> PostgresValue {
        arrayLiteral(elements)
    }

    private static func arrayLiteral<Text: Sequence<UInt8>>(_ elements: some Sequence<Text?>) -> PostgresValue {
        var literal: [UInt8] = [UInt8(ascii: "{")]
        for element in elements {
            if literal.count > 1 { literal.append(UInt8(ascii: ",")) }
            guard let element else {
                literal.append(contentsOf: "NULL".utf8)
                continue
            }
            literal.append(UInt8(ascii: "\""))
            for byte in element {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { literal.append(UInt8(ascii: "\\")) }
                literal.append(byte)
            }
            literal.append(UInt8(ascii: "\""))
        }
        literal.append(UInt8(ascii: "}"))
        return .utf8(literal)
    }

    /// A `bigint[]` (or `int[]`) array literal of `elements`, NULL for nil, for `unnest($1::bigint[])`.
    public static func integerArray(_ elements: some Sequence<Int64?>) -> PostgresValue {
        var literal: [UInt8] = [UInt8(ascii: "{")]
        for element in elements {
            if literal.count > 1 { literal.append(UInt8(ascii: ",")) }
            if let element {
                literal.append(contentsOf: String(element).utf8)
            } else {
                literal.append(contentsOf: "NULL".utf8)
            }
        }
        literal.append(UInt8(ascii: "}"))
        return .utf8(literal)
    }

    /// Whether the value's text holds a NUL byte, which PostgreSQL text cannot hold.
    var containsNUL: Bool {
        switch self {
        case .text(let text): return text.utf8.contains(0)
        case .utf8(let bytes): return bytes.contains(0)
        case .null, .integer, .boolean: return false
        }
    }

    /// Appends the value's text-format bytes and a terminating NUL to `buffer`; false (appending nothing) for SQL
    /// NULL. No intermediate copy: the bytes of a text go straight into the buffer.
    func appendText(to buffer: inout [CChar]) -> Bool {
        switch self {
        case .null: return false
        case .text(let text): buffer.append(contentsOf: text.utf8.lazy.map { CChar(bitPattern: $0) })
        case .utf8(let bytes): buffer.append(contentsOf: bytes.lazy.map { CChar(bitPattern: $0) })
        case .integer(let integer): buffer.append(contentsOf: String(integer).utf8.lazy.map { CChar(bitPattern: $0) })
        case .boolean(let boolean):
            buffer.append(contentsOf: (boolean ? "true" : "false").utf8.lazy.map { CChar(bitPattern: $0) })
        }
        buffer.append(0)
        return true
    }
}

/// The rows a statement returned, read in full, and the number of rows it changed.
public struct PostgresResult: Sendable {
    public var rows: [PostgresRow]
    /// What `PQcmdTuples` reported: rows inserted, updated, deleted or selected; 0 for other commands.
    public var affectedRows: Int

    public init(rows: [PostgresRow], affectedRows: Int) {
        self.rows = rows
        self.affectedRows = affectedRows
    }
}

/// One row of a result: each column's text-format bytes, nil for NULL.
public struct PostgresRow: Sendable, Hashable {
    public var values: [[UInt8]?]

    public init(values: [[UInt8]?]) {
        self.values = values
    }

    /// The column's bytes; nil when NULL.
    public func bytes(_ column: Int) -> [UInt8]? { values[column] }

    /// The column as text; nil when NULL.
    public func text(_ column: Int) -> String? {
        values[column].map { String(decoding: $0, as: UTF8.self) }
    }

    /// The column as an integer; nil when NULL or not an integer.
    public func int64(_ column: Int) -> Int64? {
        text(column).flatMap { Int64($0) }
    }

    /// The column as a boolean (`t` or `f`); nil when NULL.
    public func bool(_ column: Int) -> Bool? {
        values[column].map { $0 == Array("t".utf8) || $0 == Array("true".utf8) }
    }
}
