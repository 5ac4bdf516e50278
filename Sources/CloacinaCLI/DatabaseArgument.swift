import ArgumentParser
import Cloacina

/// Where a command's database URL comes from on its command line: `--database URL` (warned about when it holds a
/// password, which every user sees in the process list) or `--database-file PATH` (the URL read from a file).
///
/// Without either, commands read `$DATABASE_URL`; libpq itself reads `$PGPASSWORD` and `~/.pgpass` (or
/// `$PGPASSFILE`) for a URL without a password.
enum DatabaseArgument {
    /// The help of `--database`.
    static let help =
        "Database URL (default: $DATABASE_URL). A password here is visible to every user in the process list: "
        + "prefer --database-file, $DATABASE_URL, or a URL without one and $PGPASSWORD or ~/.pgpass."

    /// The help of `--database-file`.
    static let fileHelp = "Read the database URL from the first line of a file (or - for standard input)."

    /// `url` as given with `--database`, after warning on standard error when it contains a password.
    static func fromCommandLine(_ url: String) -> String {
        let redacted = ConnectionStringRedaction.redact(url)
        if redacted != url {
            printError(
                "warning: the --database URL contains a password, which other users can see in the process list "
                    + "(\(redacted)); use --database-file, $DATABASE_URL, or $PGPASSWORD or ~/.pgpass instead"
            )
        }
        return url
    }

    /// The URL in the first line of the file at `path`, without surrounding white space.
    static func fromFile(_ path: String) throws -> String {
        do {
            return try read(path)
        } catch let error as UsageError {
            throw ValidationError(error.message)
        }
    }

    private static func read(_ path: String) throws -> String {
        let bytes = try InputFile.read(path, what: "database URL file")
        let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
        let url = String(line.trimmingPrefix(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        guard !url.isEmpty else { throw UsageError(message: "the database URL file \(path) is empty") }
        return url
    }

    /// The URL given by `--database` or `--database-file` (at most one of them), if any.
    static func chosen(_ flag: String?, _ file: String?) throws -> String? {
        if flag != nil && file != nil { throw UsageError(message: "give --database or --database-file, not both") }
        return flag ?? file
    }
}
