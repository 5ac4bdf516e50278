internal import CloacinaJSON

/// Why a context value cannot be a C argument; the caller adds the key and the parameter.
struct NativeInputError: Error {
    var reason: String
}

/// A context value converted for one C parameter.
enum NativeArgumentValue {
    /// An integer or `bool`, as the two's-complement bits of the parameter's width.
    case bits(UInt64)
    case float(Float)
    case double(Double)
    /// A string's UTF-8 or a buffer's bytes (passed NUL-terminated).
    case bytes([UInt8])
}

extension NativeType {
    /// The largest integer a JSON number holds exactly in every reader: 2^53.
    static let exactJSONInteger = 1 << 53

    /// `value` as an argument of this type, or why it does not fit: integers must be exact (no fraction, at most
    /// 2^53 in magnitude) and in the type's range; a `float` must be finite in `float`'s range; `bool` takes only
    /// `true`/`false`; a string must hold no NUL byte; a buffer takes a string's UTF-8 or `{"base64": "…"}`.
    func argument(from value: JSONValue) throws(NativeInputError) -> NativeArgumentValue {
        switch self {
        case .bool:
            guard let flag = value.boolValue else { throw mismatch(value, expected: "true or false") }
            return .bits(flag ? 1 : 0)
        case .float, .double:
            let number: Double
            switch value {
            case .int(let integer):
                guard integer.magnitude <= UInt(Self.exactJSONInteger) else { throw Self.inexact(integer) }
                number = Double(integer)
            case .double(let double): number = double
            default: throw mismatch(value, expected: "a number")
            }
            guard self == .float else { return .double(number) }
            guard number.isFinite, abs(number) <= Double(Float.greatestFiniteMagnitude) else {
                throw NativeInputError(reason: "\(number) does not fit float")
            }
            return .float(Float(number))
        case .string:
            guard let text = value.stringValue else { throw mismatch(value, expected: "a string") }
            let bytes = Array(text.utf8)
            guard !bytes.contains(0) else {
                throw NativeInputError(reason: "the string holds a NUL byte, which a C string cannot")
            }
            return .bytes(bytes)
        case .buffer:
            if let text = value.stringValue { return .bytes(Array(text.utf8)) }
            guard let members = value.objectValue, members.count == 1, let encoded = members["base64"]?.stringValue
            else {
                throw mismatch(value, expected: "a string, or {\"base64\": \"…\"} for binary bytes")
            }
            guard let bytes = Base64.decode(encoded) else {
                throw NativeInputError(reason: "the \"base64\" text is not valid base64")
            }
            return .bytes(bytes)
        case .void:
            throw NativeInputError(reason: "void takes no value")
        default:
            let integer: Int
            switch value {
            case .int(let exact):
                guard exact.magnitude <= UInt(Self.exactJSONInteger) else { throw Self.inexact(exact) }
                integer = exact
            case .double(let double):
                guard double.rounded() == double, double.isFinite else {
                    throw NativeInputError(reason: "\(double) is not an integer, as \(name) needs")
                }
                guard abs(double) <= Double(Self.exactJSONInteger) else {
                    throw NativeInputError(
                        reason: "\(double) is beyond 2^53, which a JSON number does not hold exactly"
                    )
                }
                integer = Int(double)
            default: throw mismatch(value, expected: "an integer")
            }
            guard let range = integerRange, range.contains(integer) else {
                let range = integerRange.map { " (\($0.lowerBound)…\($0.upperBound))" } ?? ""
                throw NativeInputError(reason: "\(integer) does not fit \(name)\(range)")
            }
            return .bits(UInt64(bitPattern: Int64(integer)))
        }
    }

    private func mismatch(_ value: JSONValue, expected: String) -> NativeInputError {
        let kind = value.kindName
        let shown = kind == "null" ? kind : (kind.first.map { "aeiou".contains($0) } == true ? "an " : "a ") + kind
        return NativeInputError(reason: "expected \(expected) for \(name), got \(shown)")
    }

    private static func inexact(_ integer: Int) -> NativeInputError {
        NativeInputError(reason: "\(integer) is beyond 2^53, which a JSON number does not hold exactly")
    }
}
