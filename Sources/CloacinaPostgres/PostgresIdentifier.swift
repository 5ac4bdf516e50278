/// A validated, quotable PostgreSQL identifier: what a tenant schema (or role) name must look like.
///
/// The rule fails closed: `^[a-z_][a-z0-9_]{0,62}$` (ASCII only, at most 63 bytes, so PostgreSQL never
/// truncates it), and never a reserved name (`public`, `information_schema`, anything starting with `pg_`). Upper
/// case is refused: PostgreSQL folds unquoted names to lower case, so `Acme` quoted and `Acme` typed by hand would be
/// two different objects. A valid name cannot contain a quote, so ``quoted`` is always a single, exact identifier,
/// and it means the same quoted or not.
public struct PostgresIdentifier: Sendable, Hashable, CustomStringConvertible {
    /// The name as given (and as `current_schema()` reports it).
    public let name: String

    /// Validates `name`; throws ``PostgresError/Code/invalidIdentifier`` saying what is wrong.
    public init(_ name: String, kind: String = "schema") throws(PostgresError) {
        if let problem = Self.problem(with: name) {
            throw PostgresError(
                .invalidIdentifier,
                message: "\(problem)",
                context: "refusing the \(kind) name \"\(Self.printable(name))\""
            )
        }
        self.name = name
    }

    /// The name as an SQL identifier: `"acme"`.
    public var quoted: String { "\"\(name)\"" }

    public var description: String { name }

    /// Whether `name` passes the rule.
    public static func isValid(_ name: String) -> Bool { problem(with: name) == nil }

    private static func problem(with name: String) -> String? {
        let bytes = Array(name.utf8)
        guard let first = bytes.first else { return "the name is empty" }
        guard bytes.count <= 63 else { return "the name is \(bytes.count) bytes long; at most 63 are allowed" }
        func isLetter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == UInt8(ascii: "_")
        }
        if bytes.contains(where: { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) {
            return "upper-case letters are not allowed (PostgreSQL folds unquoted names to lower case); use lower case"
        }
        guard isLetter(first) else { return "the name must start with a lower-case letter or an underscore" }
        guard bytes.allSatisfy({ isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return "only lower-case ASCII letters, digits and underscores are allowed"
        }
        if name == "public" || name == "information_schema" || name.hasPrefix("pg_") {
            return "the name is reserved by PostgreSQL"
        }
        return nil
    }

    /// `name` cut short and with control characters escaped, for messages.
    private static func printable(_ name: String) -> String {
        let short = name.count > 80 ? String(name.prefix(80)) + "…" : name
        return short.unicodeScalars.map {
            $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0)
        }
        .joined()
    }
}
