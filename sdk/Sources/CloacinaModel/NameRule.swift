/// The rule every package name, workflow name and task id follows: `[A-Za-z_][A-Za-z0-9_.-]{0,127}`.
///
/// Names end up in file names, URLs, database rows, log metadata and metric labels, so they are kept to a
/// small, safe alphabet. The rule does not decide uniqueness; graph validation does.
public enum NameRule {
    /// The longest accepted name, in bytes.
    public static let maximumLength = 128

    /// Whether `name` follows the rule.
    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard let first = utf8.first, utf8.count <= maximumLength else { return false }
        guard isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return utf8.allSatisfy {
            isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    /// Throws a ``DefinitionError`` naming `what` (for example "task id") when `name` breaks the rule.
    public static func validate(_ name: String, as what: String) throws(DefinitionError) {
        guard !isValid(name) else { return }
        let shown = name.count > 80 ? String(name.prefix(80)) + "…" : name
        let reason: String
        if name.isEmpty {
            reason = "it is empty"
        } else if name.utf8.count > maximumLength {
            reason = "it is \(name.utf8.count) bytes long, the limit is \(maximumLength)"
        } else {
            reason = "use letters, digits, '_', '.' and '-', starting with a letter or '_'"
        }
        throw DefinitionError(.invalidName, "invalid \(what) \"\(shown)\": \(reason)")
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
