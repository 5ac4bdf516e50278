/// The two forms of libpq connection string, as the store needs them: `postgresql://` URLs, and libpq's
/// `key=value` form rewritten as such a URL (every parameter in its query, percent-encoded), so that a connection
/// string of either form is a URL the store registry routes to PostgreSQL and the redaction rules understand.
///
/// It parses with libpq itself (`PQconninfoParse`), so the parameters mean exactly what libpq makes of them; it does
/// not connect, and does not check that the parameters name a reachable server.
public enum PostgresConnectionString {
    /// `keyValue` (libpq's `host=db user=acme password=…` form) as a `postgresql://?host=db&user=acme&…` URL with the
    /// same parameters; nil when libpq cannot parse it, or it sets no parameter. libpq's own reason is left out: it
    /// may quote a fragment of the string, which may be a password.
    public static func url(ofKeywordString keyValue: String) -> String? {
        guard let parameters = try? PostgresConnection.parameters(of: keyValue), !parameters.isEmpty else {
            return nil
        }
        let query = parameters.map { "\(percentEncoded($0.keyword))=\(percentEncoded($0.value))" }
        return "postgresql://?" + query.joined(separator: "&")
    }

    /// `text` with every byte but the URL-unreserved ones (`A-Z a-z 0-9 - . _ ~`) written `%XX`.
    public static func percentEncoded(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return encoded
    }
}
