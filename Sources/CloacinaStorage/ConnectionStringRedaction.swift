/// Hides the secrets of database connection strings, so they can appear in messages and logs.
///
/// One rule for every place that prints a connection string (the engine's ``DatabaseLocation``, the PostgreSQL
/// store's errors): the password of a URL's user-info part and the value of every `password` parameter (URL query or
/// libpq `key=value` form, quoted or not) become `***`. It does not parse the string otherwise and does not check it.
public enum ConnectionStringRedaction {
    /// `text` with its passwords replaced by `***`.
    public static func redact(_ text: String) -> String {
        var text = text
        if let scheme = text.firstRange(of: "://") {
            let authorityEnd = text[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" } ?? text.endIndex
            if let at = text[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
                let colon = text[scheme.upperBound..<at].firstIndex(of: ":")
            {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
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
