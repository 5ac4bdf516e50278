/// A C type a native-signature task may take or return: fixed-width integers, `float`, `double`, `bool`,
/// NUL-terminated strings, read-only byte buffers, and `void` (as a result only).
///
/// `int`, `long`, `size_t` and the other C spellings map to the fixed-width type they are on this host (LP64 Linux:
/// `long` and `size_t` are 64 bits). What the type does not cover: structs, mutable pointers (out-parameters),
/// variadic functions, callbacks.
public enum NativeType: Sendable, Hashable, CaseIterable {
    case void
    case bool
    case int8
    case uint8
    case int16
    case uint16
    case int32
    case uint32
    case int64
    case uint64
    case float
    case double
    /// `const char *` in (from a JSON string, NUL-terminated), or `char *` / `const char *` as a result (a JSON string).
    case string
    /// `const void *` / `const uint8_t *` / `const unsigned char *` in: the bytes of a JSON string (UTF-8), or of
    /// `{"base64": "…"}`; a `len(KEY)` argument receives their count.
    case buffer

    /// The fixed-width name, as `check` prints it.
    public var name: String {
        switch self {
        case .void: return "void"
        case .bool: return "bool"
        case .int8: return "int8_t"
        case .uint8: return "uint8_t"
        case .int16: return "int16_t"
        case .uint16: return "uint16_t"
        case .int32: return "int32_t"
        case .uint32: return "uint32_t"
        case .int64: return "int64_t"
        case .uint64: return "uint64_t"
        case .float: return "float"
        case .double: return "double"
        case .string: return "const char *"
        case .buffer: return "const void *"
        }
    }

    /// Whether the type is an integer (`bool` excluded).
    public var isInteger: Bool { integerRange != nil }

    /// Whether the type is a signed integer or a floating-point number, so it can be negative.
    public var isSigned: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .float, .double: return true
        default: return false
        }
    }

    /// The values an integer type holds; nil for the other types. (`uint64_t` is capped at `Int.max`, the largest
    /// integer a context holds.)
    public var integerRange: ClosedRange<Int>? {
        switch self {
        case .int8: return Int(Int8.min)...Int(Int8.max)
        case .uint8: return 0...Int(UInt8.max)
        case .int16: return Int(Int16.min)...Int(Int16.max)
        case .uint16: return 0...Int(UInt16.max)
        case .int32: return Int(Int32.min)...Int(Int32.max)
        case .uint32: return 0...Int(UInt32.max)
        case .int64: return Int.min...Int.max
        case .uint64: return 0...Int.max
        default: return nil
        }
    }

    /// The C spellings of a type accepted in a signature, words separated by one space and `*` written apart.
    static let spellings: [String: NativeType] = {
        var table: [String: NativeType] = [
            "void": .void, "bool": .bool, "_Bool": .bool,
            "int8_t": .int8, "signed char": .int8,
            "uint8_t": .uint8, "unsigned char": .uint8,
            "int16_t": .int16, "short": .int16, "short int": .int16, "signed short": .int16,
            "signed short int": .int16,
            "uint16_t": .uint16, "unsigned short": .uint16, "unsigned short int": .uint16,
            "int32_t": .int32, "int": .int32, "signed": .int32, "signed int": .int32,
            "uint32_t": .uint32, "unsigned": .uint32, "unsigned int": .uint32,
            "int64_t": .int64, "long": .int64, "long int": .int64, "signed long": .int64, "signed long int": .int64,
            "long long": .int64, "long long int": .int64, "signed long long": .int64, "ssize_t": .int64,
            "intptr_t": .int64, "ptrdiff_t": .int64,
            "uint64_t": .uint64, "unsigned long": .uint64, "unsigned long int": .uint64,
            "unsigned long long": .uint64, "unsigned long long int": .uint64, "size_t": .uint64, "uintptr_t": .uint64,
            "float": .float, "double": .double,
        ]
        for text in ["const char *", "char const *", "char *"] { table[text] = .string }
        for base in ["void", "uint8_t", "unsigned char"] {
            table["const \(base) *"] = .buffer
            table["\(base) const *"] = .buffer
        }
        return table
    }()
}
