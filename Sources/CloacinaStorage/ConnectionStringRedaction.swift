/// Hides the secrets of database connection strings, so they can appear in messages and logs.
///
/// One rule for every place that prints a connection string or a message about one (``StoreBackend/redacted(_:)``,
/// the PostgreSQL connection's errors, which libpq often writes with the URL in them):
///
/// - ``redact(_:)``: the password of a URL's user-info part and the value of every `password` parameter (URL query
///   or libpq `key=value` form, quoted or not) become `***`. The user-info part ends at the last `@` before the first
///   `/` after `://` (libpq ends it at the first, so a raw `@` in a password is still hidden whole). A URL that is
///   ambiguous (a `:` before the first `/` and an `@` only after it, as a raw `/` in a password makes it) is
///   redacted conservatively: everything between `//` and the last `@`.
/// - ``scrub(_:connectionString:)``: a message about a connection string with that string redacted wherever it
///   appears and every fragment of its password (as libpq decodes it, as written, and the pieces a raw `@` or `/`
///   splits it into, which libpq then reports as host, port or database names) replaced by `***`.
///
/// It does not otherwise parse or check the string.
public enum ConnectionStringRedaction {
    /// `text` with its passwords replaced by `***`.
    public static func redact(_ text: String) -> String {
        var text = text
        if let region = passwordRegion(in: text) { text.replaceSubrange(region, with: "***") }
        var searchStart = text.startIndex
        while let key = text[searchStart...].firstRange(of: "password") {
            // libpq allows spaces around `=` in its key=value form.
            var valueStart = key.upperBound
            while valueStart < text.endIndex, text[valueStart] == " " { valueStart = text.index(after: valueStart) }
            guard valueStart < text.endIndex, text[valueStart] == "=" else {
                searchStart = key.upperBound
                continue
            }
            valueStart = text.index(after: valueStart)
            while valueStart < text.endIndex, text[valueStart] == " " { valueStart = text.index(after: valueStart) }
            let valueEnd = Self.endOfValue(in: text, from: valueStart)
            text.replaceSubrange(valueStart..<valueEnd, with: "***")
            searchStart = text.index(valueStart, offsetBy: 3)
        }
        return text
    }

    /// `message` (from libpq or about `connectionString`) with `connectionString` redacted wherever it appears and
    /// every fragment of its passwords replaced by `***`; `extraSecrets` (a password libpq parsed, say) too.
    public static func scrub(_ message: String, connectionString: String, extraSecrets: [String] = []) -> String {
        var message = message
        if !connectionString.isEmpty { message = message.replacing(connectionString, with: redact(connectionString)) }
        for secret in (secrets(in: connectionString) + extraSecrets).sorted(by: { $0.count > $1.count })
        where !secret.isEmpty {
            message = message.replacing(secret, with: "***")
        }
        return message
    }

    /// The texts of `connectionString` that are or may be part of a password: its user-info password as written
    /// and percent-decoded, the pieces a raw `@` or `/` splits it into, and the `password` parameters' values.
    public static func secrets(in connectionString: String) -> [String] {
        var secrets: [String] = []
        if let region = passwordRegion(in: connectionString) {
            let raw = String(connectionString[region])
            secrets.append(raw)
            if raw.contains("%"), let decoded = percentDecoded(raw) { secrets.append(decoded) }
            // libpq reads a password with a raw "@" or "/" as parts of user, host, port or database names.
            if raw.contains(where: { $0 == "@" || $0 == "/" }) {
                secrets += raw.split { $0 == "@" || $0 == "/" || $0 == ":" }.map(String.init)
            }
        }
        var searchStart = connectionString.startIndex
        while let key = connectionString[searchStart...].firstRange(of: "password") {
            searchStart = key.upperBound
            var valueStart = key.upperBound
            while valueStart < connectionString.endIndex, connectionString[valueStart] == " " {
                valueStart = connectionString.index(after: valueStart)
            }
            guard valueStart < connectionString.endIndex, connectionString[valueStart] == "=" else { continue }
            valueStart = connectionString.index(after: valueStart)
            while valueStart < connectionString.endIndex, connectionString[valueStart] == " " {
                valueStart = connectionString.index(after: valueStart)
            }
            var value = String(connectionString[valueStart..<endOfValue(in: connectionString, from: valueStart)])
            if value.hasPrefix("'") {
                value = String(value.dropFirst().dropLast(value.count > 1 && value.hasSuffix("'") ? 1 : 0))
                secrets.append(value.replacing("\\'", with: "'").replacing("\\\\", with: "\\"))
            }
            secrets.append(value)
            if value.contains("%"), let decoded = percentDecoded(value) { secrets.append(decoded) }
        }
        return secrets
    }

    /// The characters of a URL's user-info password (see the type's rule), nil when it has none.
    private static func passwordRegion(in text: String) -> Range<String.Index>? {
        guard let scheme = text.firstRange(of: "://") else { return nil }
        let rest = text[scheme.upperBound...]
        let authority = rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)]
        if let at = authority.lastIndex(of: "@") {
            guard let colon = authority[..<at].firstIndex(of: ":") else { return nil }
            return text.index(after: colon)..<at
        }
        // No user info before the first "/", but a ":" there and an "@" later: a raw "/" in a password, perhaps.
        guard authority.contains(":"), let at = rest.lastIndex(of: "@") else { return nil }
        return rest.startIndex..<at
    }

    /// `text` with its `%XX` escapes decoded; nil when an escape is invalid or the result is not UTF-8. (Text
    /// without escapes comes back as it is.)
    public static func percentDecoded(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { return nil }
            bytes.append(value)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Where a parameter value starting at `start` ends: after its closing quote when quoted (libpq's `'…'` with
    /// `\'` escapes), else at the next `&` or space.
    private static func endOfValue(in text: String, from start: String.Index) -> String.Index {
        guard start < text.endIndex, text[start] == "'" else {
            return text[start...].firstIndex { $0 == "&" || $0 == " " } ?? text.endIndex
        }
        var index = text.index(after: start)
        while index < text.endIndex {
            if text[index] == "\\" {
                index = text.index(after: index)
                if index < text.endIndex { index = text.index(after: index) }
                continue
            }
            if text[index] == "'" { return text.index(after: index) }
            index = text.index(after: index)
        }
        return text.endIndex
    }
}
