#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The top-level members of a JSON object, each with the byte range of its value's text in the bytes it was read
/// from: what lets a large object be compared, merged and re-encoded member by member, by copying text instead of
/// walking values.
///
/// Read with ``parse(_:reference:)``, which can take a member's value from a reference object (the context a task
/// was given) when its text is byte for byte the reference's, so an unchanged large value is scanned, never
/// rebuilt. It keeps no bytes itself; ranges refer to the buffer it was read from.
public struct JSONObjectMembers: Sendable {
    public var values: [String: JSONValue]
    /// Where each member's value text lies in the bytes read (or written).
    public var ranges: [String: Range<Int>]

    public init(values: [String: JSONValue], ranges: [String: Range<Int>]) {
        self.values = values
        self.ranges = ranges
    }

    /// A member's value and its text, as a reference for ``parse(_:reference:)``: the text must be that value's
    /// encoding, as read or written (it vouches for any output with the same text).
    public typealias Reference = (String) -> (value: JSONValue, text: UnsafeBufferPointer<UInt8>)?

    /// Parses `bytes`, which must hold one JSON value (whitespace around it allowed); nil when that value is not
    /// an object. Accepts and rejects exactly what ``JSONValue/init(parsing:)`` does, with the same errors; a
    /// duplicate key keeps its last value.
    ///
    /// For a key `reference` knows, the member's text is first delimited without being parsed; when it equals the
    /// reference's text byte for byte, the reference's value is taken (the same storage, no new allocation).
    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        reference: Reference? = nil
    ) throws(JSONParseError) -> JSONObjectMembers? {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        guard parser.index < bytes.count, bytes[parser.index] == UInt8(ascii: "{") else {
            switch JSONValue.parse(bytes) {
            case .success: return nil
            case .failure(let error): throw error
            }
        }
        let members = try parser.parseMembers(depth: 1, reference: reference, recordingRanges: true)
        parser.skipWhitespace()
        guard parser.atEnd else { throw parser.error("unexpected data after the JSON value") }
        return members
    }
}

extension JSONParser {
    /// Parses an object at ``index`` (nested `depth` deep) member by member, taking values from `reference` as
    /// ``JSONObjectMembers/parse(_:reference:)`` says, and noting where each value lies when `recordingRanges`.
    mutating func parseMembers(
        depth: Int,
        reference: JSONObjectMembers.Reference?,
        recordingRanges: Bool
    ) throws(JSONParseError) -> JSONObjectMembers {
        guard depth <= JSONValue.maximumNestingDepth else { throw error("nesting deeper than 512 levels") }
        index += 1
        var members = JSONObjectMembers(values: [:], ranges: [:])
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return members
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("expected a string key")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            let start = index
            if let reference, let known = reference(key), let end = valueEnd(), sameText(start..<end, known.text) {
                index = end
                members.values[key] = known.value
            } else {
                members.values[key] = try parseValue(depth: depth)
            }
            if recordingRanges { members.ranges[key] = start..<index }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in an object") }
            switch bytes[index] {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return members
            default: throw error("expected ',' or '}'")
            }
        }
    }

    /// Where the value starting at ``index`` ends, found from its structure alone (string quotes, bracket
    /// nesting, the delimiter after a scalar) without checking or building it; nil when the input ends first. For
    /// a valid value this is where parsing it ends; text that equals a valid value's is that value.
    func valueEnd() -> Int? {
        var position = index
        var depth = 0
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\""):
                guard let end = stringEnd(from: position + 1) else { return nil }
                position = end
                if depth == 0 { return position }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                position += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { return position }
                depth -= 1
                position += 1
                if depth == 0 { return position }
            default:
                guard depth == 0 else {
                    position += 1
                    continue
                }
                while position < bytes.count {
                    switch bytes[position] {
                    case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"):
                        return position
                    default: position += 1
                    }
                }
                return position
            }
        }
        return nil
    }

    /// The position after the quote that closes a string whose text starts at `start`.
    private func stringEnd(from start: Int) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        var position = start
        while position < bytes.count {
            guard let found = memchr(base + position, Int32(UInt8(ascii: "\"")), bytes.count - position) else {
                return nil
            }
            let quote = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            var backslashes = 0
            while quote - backslashes - 1 >= start, bytes[quote - backslashes - 1] == UInt8(ascii: "\\") {
                backslashes += 1
            }
            if backslashes % 2 == 0 { return quote + 1 }
            position = quote + 1
        }
        return nil
    }

    private func sameText(_ range: Range<Int>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !range.isEmpty, range.count == text.count, let base = bytes.baseAddress, let other = text.baseAddress
        else { return false }
        return memcmp(base + range.lowerBound, other, range.count) == 0
    }
}
