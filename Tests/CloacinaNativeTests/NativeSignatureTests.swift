import CloacinaNative
import Testing

@Suite("Native signatures and bindings")
struct NativeSignatureTests {
    @Test("A declaration with names reads its types and prints back as declared")
    func parsesDeclaration() throws {
        let signature = try NativeSignature(parsing: "double  score( int64_t n, double weight,const char*label )")
        #expect(signature.result == .double)
        #expect(signature.name == "score")
        #expect(signature.parameters.map(\.type) == [.int64, .double, .string])
        #expect(signature.parameters.map(\.name) == ["n", "weight", "label"])
        #expect(signature.description == "double score(int64_t n, double weight, const char *label)")
    }

    @Test("Unnamed declarations, (void), C spellings and pointer results read as their fixed-width types")
    func parsesSpellings() throws {
        #expect(try NativeSignature(parsing: "void (void)").parameters.isEmpty)
        #expect(try NativeSignature(parsing: "int f()").parameters.isEmpty)
        let spelled = try NativeSignature(
            parsing: "unsigned long f(unsigned int, long long, size_t, short, unsigned char, signed char, _Bool)"
        )
        #expect(spelled.result == .uint64)
        #expect(spelled.parameters.map(\.type) == [.uint32, .int64, .uint64, .int16, .uint8, .int8, .bool])
        let pointers = try NativeSignature(parsing: "char *f(const void *a, const uint8_t *b, char const *c)")
        #expect(pointers.result == .string)
        #expect(pointers.parameters.map(\.type) == [.buffer, .buffer, .string])
        #expect(pointers.description == "char *f(const void *a, const uint8_t *b, char const *c)")
        #expect(try NativeSignature(parsing: "const char *(void)").description == "const char *(void)")
    }

    @Test("Every refused declaration is refused with a reason naming the part")
    func refusesDeclarations() {
        let cases: [(String, NativeError.Code, String)] = [
            ("double", .signature, "is not a C function declaration"),
            ("double f(int", .signature, "is not a C function declaration"),
            ("int f(int, ...)", .unsupportedType, "variadic"),
            ("uLong crc32(uLong crc)", .unsupportedType, "unknown type \"uLong\""),
            ("int f(struct point p)", .unsupportedType, "structs"),
            ("int f(char *out)", .unsupportedType, "mutable char *"),
            ("int f(int **p)", .unsupportedType, "\"int * *\" is not supported"),
            ("const void *f(void)", .unsupportedType, "its length is unknown"),
            ("int f(void, int)", .signature, "void"),
            ("int f(int, )", .signature, "parameter 2"),
            ("int f(int (*callback)(int))", .signature, "function pointers"),
            ("int f(int x) ;", .signature, "unexpected character"),
            ("int f(" + Array(repeating: "int", count: 33).joined(separator: ", ") + ")", .signature, "33 parameters"),
        ]
        for (text, code, fragment) in cases {
            #expect {
                _ = try NativeSignature(parsing: text)
            } throws: { error in
                guard let error = error as? NativeError else { return false }
                return error.code == code && error.message.contains(fragment)
            }
        }
    }

    @Test("A binding is checked against its signature: keys, lengths, results and result checks")
    func refusesBindings() throws {
        let crc = try NativeSignature(parsing: "uint32_t crc(uint32_t seed, const uint8_t *data, uint32_t length)")
        let good = try NativeBinding(
            signature: crc,
            arguments: ["seed", "data", "len(data)"].map(NativeBinding.Argument.init(parsing:)),
            result: "crc",
            failIf: .zero
        )
        #expect(good.arguments == [.key("seed"), .key("data"), .length(of: "data")])
        func binding(
            _ signature: NativeSignature,
            _ arguments: [String],
            result: String? = "out",
            failIf: NativeBinding.FailureCondition? = nil,
            errno: Bool = false
        ) throws {
            _ = try NativeBinding(
                signature: signature,
                arguments: arguments.map(NativeBinding.Argument.init(parsing:)),
                result: result,
                failIf: failIf,
                readsErrno: errno
            )
        }
        let text = try NativeSignature(parsing: "char *f(const char *)")
        let void = try NativeSignature(parsing: "void f(int32_t)")
        let cases: [(() throws -> Void, String)] = [
            ({ try binding(crc, ["seed", "data"]) }, "takes 3 parameters but 2 arguments were given"),
            ({ try binding(crc, ["seed", "data", "len(seed)"]) }, "no buffer or string parameter takes the key"),
            ({ try binding(crc, ["seed", "len(data)", "data"]) }, "is a length, but its parameter is const uint8_t *"),
            ({ try binding(crc, ["seed", "1data", "len(1data)"]) }, "invalid context key \"1data\""),
            ({ try binding(crc, ["seed", "da ta", "len(data)"]) }, "invalid context key \"da ta\""),
            ({ try binding(crc, ["seed", "data", "len(data)"], result: "") }, "invalid result key"),
            ({ try binding(void, ["x"], result: "out") }, "returns void"),
            ({ try binding(crc, ["seed", "data", "len(data)"], failIf: .negative) }, "does not apply"),
            ({ try binding(crc, ["seed", "data", "len(data)"], failIf: .null) }, "does not apply"),
            ({ try binding(text, ["name"], failIf: .zero) }, "does not apply"),
            ({ try binding(crc, ["seed", "data", "len(data)"], errno: true) }, "no fail_if"),
        ]
        for (attempt, fragment) in cases {
            #expect {
                try attempt()
            } throws: { error in
                (error as? NativeError).map { $0.code == .binding && $0.message.contains(fragment) } ?? false
            }
        }
        #expect(throws: NativeError.self) { try NativeBinding.FailureCondition(parsing: "positive") }
        #expect(try NativeBinding.FailureCondition(parsing: "non-zero") == .nonzero)
    }
}
