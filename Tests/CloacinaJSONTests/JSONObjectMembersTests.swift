import CloacinaJSON
import Testing

@Suite("JSON objects read and written member by member")
struct JSONObjectMembersTests {
    static func members(_ text: String, reference: JSONObjectMembers.Reference? = nil) throws -> JSONObjectMembers? {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try JSONObjectMembers.parse($0, reference: reference) }
    }

    @Test(
        "an object reads as JSONValue reads it, each member's range holding its value's text",
        arguments: [
            #"{}"#, #" { "a" : 1 , "b":[1, {"c": "]}\"x"}], "d": "\\", "e": -2.5e3, "f": null, "g": true } "#,
            #"{"a":1,"a":2}"#, #"{"s":"é😀\u0041","n":{"m":[[],{}]}}"#,
        ]
    )
    func sameAsParsing(text: String) throws {
        let members = try #require(try Self.members(text))
        #expect(JSONValue.object(members.values) == (try JSONValue(parsing: text)))
        let bytes = Array(text.utf8)
        for (key, range) in members.ranges {
            #expect(try JSONValue(parsing: bytes[range]) == members.values[key])
        }
    }

    @Test(
        "malformed objects fail with the errors JSONValue gives, with or without a reference",
        arguments: [
            "{", #"{"a" 1}"#, #"{"a":01}"#, #"{"a":[1,]}"#, #"{"a":"x}"#, #"{"a":1} x"#, #"{"a":tru}"#,
            #"{"a":"\x"}"#, #"{"a":1,}"#, #"{"a":}"#, #"{"a":[}"#, #"{"a":"x"y}"#, "{\"a\":\"\u{1}\"}",
        ]
    )
    func malformed(text: String) throws {
        var expected: JSONParseError?
        do { _ = try JSONValue(parsing: text) } catch { expected = error }
        let reference: JSONObjectMembers.Reference = { _ in (.string("x"), UnsafeBufferPointer(start: nil, count: 0)) }
        for reference in [nil, reference] {
            #expect(throws: try #require(expected)) { try Self.members(text, reference: reference) }
        }
    }

    @Test("a value that is not an object reads as nil; invalid JSON still throws")
    func notAnObject() throws {
        #expect(try Self.members("[1]") == nil)
        #expect(try Self.members(" 3 ") == nil)
        #expect(throws: JSONParseError.self) { try Self.members("[1") }
    }

    @Test("a member whose text is the reference's takes the reference's value; a changed one is parsed")
    func reuse() throws {
        let reference = Array(#"{"big":["x","y"],"small":1}"#.utf8)
        let known = try #require(try reference.withUnsafeBufferPointer { try JSONObjectMembers.parse($0) })
        // A value the parser cannot produce from this text: taking it proves the text was not parsed.
        let marker: JSONValue = .string("from the reference")
        try reference.withUnsafeBufferPointer { base in
            let lookup: JSONObjectMembers.Reference = { key in
                guard let range = known.ranges[key] else { return nil }
                return (key == "big" ? marker : known.values[key]!, UnsafeBufferPointer(rebasing: base[range]))
            }
            let output = try #require(try Self.members(#"{"new":true, "small":2, "big":["x","y"]}"#, reference: lookup))
            #expect(output.values == ["new": true, "small": 2, "big": marker])
            let changed = try #require(try Self.members(#"{"big":["x","z"]}"#, reference: lookup))
            #expect(changed.values == ["big": ["x", "z"]])
        }
    }

    @Test("the object writer writes what serialization writes, and records each value's range")
    func writer() throws {
        let value: [String: JSONValue] = ["b": [1, "two"], "a": ["k": "v\n"], "c": .null]
        var writer = JSONObjectWriter()
        for key in value.keys.sorted() { writer.append(key, value: value[key]!) }
        let (bytes, ranges) = writer.finish()
        #expect(bytes == JSONValue.object(value).serialized())
        var copied = JSONObjectWriter()
        bytes.withUnsafeBufferPointer { base in
            for key in ["c", "a"] { copied.append(key, text: UnsafeBufferPointer(rebasing: base[ranges[key]!])) }
        }
        #expect(try JSONValue(parsing: copied.finish().bytes) == ["c": .null, "a": ["k": "v\n"]])
    }
}
