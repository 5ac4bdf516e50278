import CloacinaJSON
import Testing

@Suite("JSONValue parsing and serialization")
struct JSONValueTests {
    @Test("values survive a round trip and keys come out sorted")
    func roundTrip() throws {
        let text = #"{"b":[1,2.5,-3e2,true,false,null],"a":{"z":"x","y":{}},"c":"q\"\\\/\n\t"}"#
        let value = try JSONValue(parsing: text)
        #expect(value["b"]?[0] == .int(1))
        #expect(value["b"]?[1] == .double(2.5))
        #expect(value["b"]?[2] == .double(-300))
        #expect(value["c"]?.stringValue == "q\"\\/\n\t")
        #expect(
            value.serializedString() == #"{"a":{"y":{},"z":"x"},"b":[1,2.5,-300.0,true,false,null],"c":"q\"\\/\n\t"}"#
        )
        #expect(try JSONValue(parsing: value.serialized()) == value)
    }

    @Test("unicode escapes, surrogate pairs and raw UTF-8 decode to the same string")
    func unicode() throws {
        let value = try JSONValue(parsing: #"["\u00e9\ud83d\ude00", "é😀", "\u0001"]"#)
        #expect(value[0] == value[1])
        #expect(value[0]?.stringValue == "é😀")
        #expect(value.serializedString() == "[\"é😀\",\"é😀\",\"\\u0001\"]")
    }

    @Test("integers stay exact; numbers beyond Int become doubles")
    func numbers() throws {
        #expect(try JSONValue(parsing: "9007199254740993") == .int(9_007_199_254_740_993))
        #expect(try JSONValue(parsing: "-0") == .int(0))
        #expect(try JSONValue(parsing: "1e2") == .double(100))
        #expect(try JSONValue(parsing: "18446744073709551616") == .double(18_446_744_073_709_551_616))
        #expect(JSONValue.double(.nan).serializedString() == "null")
    }

    @Test(
        "malformed input is rejected with the offset of the problem",
        arguments: [
            ("", 0), ("{", 1), ("[1,]", 3), ("{\"a\" 1}", 5), ("01", 1), ("1.", 2), ("-", 1), ("\"abc", 4),
            ("\"\\x\"", 2), ("tru", 0), ("{} x", 3), ("\"\\ud800\"", 7), ("1e400", 0), ("[1 2]", 3),
            ("\"a\nb\"", 2), ("{1:2}", 1), ("nul", 0),
        ]
    )
    func malformed(text: String, offset: Int) {
        #expect {
            try JSONValue(parsing: text)
        } throws: { error in
            (error as? JSONParseError)?.offset == offset
        }
    }

    @Test("invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xFF, 0xFE, 0x22]
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: bytes) }
    }

    @Test("nesting deeper than the limit is rejected instead of exhausting the stack")
    func depthLimit() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let allowed = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try JSONValue(parsing: allowed) }
    }

    @Test("pretty printing indents and still parses back")
    func pretty() throws {
        let value: JSONValue = ["list": [1, ["k": "v"]], "empty": [:], "none": []]
        let text = value.serializedString(pretty: true)
        #expect(
            text
                == "{\n  \"empty\": {},\n  \"list\": [\n    1,\n    {\n      \"k\": \"v\"\n    }\n  ],\n  \"none\": []\n}"
        )
        #expect(try JSONValue(parsing: text) == value)
    }

    @Test("accessors return nil for the wrong kind")
    func accessors() {
        let value: JSONValue = ["n": 2.0, "s": "x"]
        #expect(value["n"]?.intValue == 2)
        #expect(value["n"]?.stringValue == nil)
        #expect(value["s"]?.doubleValue == nil)
        #expect(value["missing"] == nil)
        #expect(value[0] == nil)
        #expect(JSONValue.double(2.5).intValue == nil)
    }
}
