internal import CloacinaStorage

/// Where a runner keeps its state, parsed from a database URL.
///
/// - `sqlite:///absolute/path.db`, `sqlite://relative/path.db` or `sqlite:path.db`: one SQLite file.
/// - `postgresql://…` or `postgres://…`: a PostgreSQL database (libpq conninfo URL).
///
/// Anything else is refused with a message naming what was wrong; a URL is never echoed with its password.
public enum DatabaseLocation: Sendable, Hashable {
    case sqlite(path: String)
    case postgres(url: String)

    public init(url: String) throws(CloacinaError) {
        if url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") {
            self = .postgres(url: url)
            return
        }
        guard url.hasPrefix("sqlite:") else {
            throw CloacinaError(
                .configuration,
                "unsupported database URL \"\(Self.redact(url))\": use sqlite:///path/to/file.db or postgresql://…"
            )
        }
        var rest = url.dropFirst("sqlite:".count)
        if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
        if let query = rest.firstIndex(of: "?") {
            throw CloacinaError(
                .configuration,
                "SQLite URLs take no parameters (\"\(rest[query...])\"); give just the file path"
            )
        }
        guard !rest.isEmpty, rest != ":memory:" else {
            throw CloacinaError(
                .configuration,
                "the SQLite URL \"\(url)\" names no file (in-memory databases are not supported: executions must be durable)"
            )
        }
        guard let path = ConnectionStringRedaction.percentDecoded(String(rest)) else {
            throw CloacinaError(.configuration, "the SQLite URL \"\(url)\" has an invalid %-escape")
        }
        self = .sqlite(path: path)
    }

    /// The location for messages and logs, with any password replaced by `***`.
    public var redacted: String {
        switch self {
        case .sqlite(let path): return "sqlite://\(path)"
        case .postgres(let url): return Self.redact(url)
        }
    }

    /// `url` with the password of its user-info part, and any `password` parameter, replaced by `***`
    /// (``ConnectionStringRedaction``, the one rule the stores use too).
    public static func redact(_ url: String) -> String {
        ConnectionStringRedaction.redact(url)
    }
}
