extension JSONValue {
    /// The value as UTF-8 JSON text. Object keys are sorted, so equal values give equal bytes.
    ///
    /// Non-finite doubles, which JSON cannot express, are written as `null`.
    public func serialized(pretty: Bool = false) -> [UInt8] {
        var writer = JSONWriter(pretty: pretty)
        writer.write(self, indent: 0)
        return writer.output
    }

    /// The value as JSON text; see ``serialized(pretty:)``.
    public func serializedString(pretty: Bool = false) -> String {
        String(decoding: serialized(pretty: pretty), as: UTF8.self)
    }
}

/// Writes a JSON object member by member and records where each value's text lies, as
/// ``JSONObjectMembers/ranges``: a value is either encoded or copied as text already encoded. Members are written
/// in the order given (sort the keys for the canonical form ``JSONValue/serialized(pretty:)`` writes).
public struct JSONObjectWriter {
    private var writer: JSONWriter
    private var ranges: [String: Range<Int>] = [:]

    /// A writer whose buffer starts with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        writer = JSONWriter(pretty: false, capacity: capacity)
        writer.output.append(UInt8(ascii: "{"))
    }

    /// Appends a member whose value is encoded here.
    public mutating func append(_ key: String, value: JSONValue) {
        let start = beginMember(key)
        writer.write(value, indent: 0)
        ranges[key] = start..<writer.output.count
    }

    /// Appends a member whose value's text is `text`, which must encode one JSON value.
    public mutating func append(_ key: String, text: UnsafeBufferPointer<UInt8>) {
        let start = beginMember(key)
        writer.output.append(contentsOf: text)
        ranges[key] = start..<writer.output.count
    }

    /// The object's bytes and where each member's value lies in them.
    public consuming func finish() -> (bytes: [UInt8], ranges: [String: Range<Int>]) {
        writer.output.append(UInt8(ascii: "}"))
        return (writer.output, ranges)
    }

    private mutating func beginMember(_ key: String) -> Int {
        if !ranges.isEmpty { writer.output.append(UInt8(ascii: ",")) }
        writer.writeString(key)
        writer.output.append(UInt8(ascii: ":"))
        return writer.output.count
    }
}

/// Appends JSON text to a byte buffer.
private struct JSONWriter {
    let pretty: Bool
    var output: [UInt8] = []

    init(pretty: Bool, capacity: Int = 256) {
        self.pretty = pretty
        output.reserveCapacity(capacity)
    }

    mutating func write(_ value: JSONValue, indent: Int) {
        switch value {
        case .null: append("null")
        case .bool(let flag): append(flag ? "true" : "false")
        case .int(let integer): append(String(integer))
        case .double(let double): append(double.isFinite ? Self.format(double) : "null")
        case .string(let string): writeString(string)
        case .array(let elements):
            guard !elements.isEmpty else { return append("[]") }
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                write(element, indent: indent + 1)
            }
            newline(indent)
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { return append("{}") }
            output.append(UInt8(ascii: "{"))
            for (position, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                writeString(member.key)
                output.append(UInt8(ascii: ":"))
                if pretty { output.append(UInt8(ascii: " ")) }
                write(member.value, indent: indent + 1)
            }
            newline(indent)
            output.append(UInt8(ascii: "}"))
        }
    }

    mutating func newline(_ indent: Int) {
        guard pretty else { return }
        output.append(0x0A)
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
    }

    mutating func append(_ text: String) {
        output.append(contentsOf: text.utf8)
    }

    mutating func writeString(_ string: String) {
        output.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them whole.
        if !string.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            output.append(contentsOf: string.utf8)
            output.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            case 0..<0x20:
                append("\\u00")
                output.append(Self.hexDigit(byte >> 4))
                output.append(Self.hexDigit(byte & 0x0F))
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// Shortest text that reads back as the same double; integral values keep a ".0" so they stay doubles.
    static func format(_ double: Double) -> String {
        double.description
    }
}
