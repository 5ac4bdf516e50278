import CloacinaJSON
import CloacinaNative
import CloacinaTestSupport
import Foundation
import Testing

/// A failure to set the test library up.
private struct SetupError: Error {
    var message: String
}

/// An opened image, never closed.
private struct Handle: @unchecked Sendable {
    var pointer: UnsafeMutableRawPointer
}

/// The test library, compiled once for the suite and opened for the life of the process.
private let library: Result<Handle, any Error> = Result {
    let directory = NSTemporaryDirectory() + "cloacina-native-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = try NativeTypesLibrary.build(in: directory)
    guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
        throw SetupError(message: String(cString: dlerror()))
    }
    return Handle(pointer: handle)
}

/// A prepared call of `symbol` in the test library.
private func native(
    _ symbol: String,
    _ signature: String,
    _ arguments: [String],
    result: String? = "out",
    failIf: NativeBinding.FailureCondition? = nil,
    errno: Bool = false,
    retryable: Bool = false,
    release: String? = nil
) throws -> NativeFunction {
    let handle = try library.get().pointer
    let binding = try NativeBinding(
        signature: try NativeSignature(parsing: signature),
        arguments: try arguments.map(NativeBinding.Argument.init(parsing:)),
        result: result,
        failIf: failIf,
        readsErrno: errno,
        retryable: retryable,
        freesResult: release != nil
    )
    return try NativeFunction(
        binding: binding,
        function: try #require(dlsym(handle, symbol)),
        release: try release.map { try #require(dlsym(handle, $0)) }
    )
}

@Suite("Native functions called through libffi")
struct NativeFunctionTests {
    @Test("Every integer width, both signs, float, double and bool go in and come back")
    func everyScalarType() throws {
        let cases: [(String, String, JSONValue, JSONValue)] = [
            ("negate_i8", "int8_t(int8_t)", -127, 127),
            ("next_u8", "uint8_t(uint8_t)", 254, 255),
            ("negate_i16", "int16_t(int16_t)", 32767, -32767),
            ("next_u16", "uint16_t(uint16_t)", 65534, 65535),
            ("negate_i32", "int32_t(int32_t)", -2_147_483_647, 2_147_483_647),
            ("next_u32", "uint32_t(uint32_t)", 4_294_967_294, 4_294_967_295),
            ("negate_i64", "int64_t(int64_t)", -9_007_199_254_740_992, 9_007_199_254_740_992),
            ("next_u64", "uint64_t(uint64_t)", 9_007_199_254_740_991, 9_007_199_254_740_992),
            ("twice_size", "size_t(size_t)", 21, 42),
            ("half_f", "float(float)", 3, 1.5),
            ("half_d", "double(double)", 0.5, 0.25),
            ("invert", "bool(bool)", true, false),
            ("invert", "_Bool(_Bool)", false, true),
        ]
        for (symbol, signature, input, expected) in cases {
            let function = try native(symbol, signature, ["x"])
            #expect(function.call(["x": input]) == .succeeded(expected), "\(symbol) \(signature)")
        }
    }

    @Test("Mixed parameters, eight of them past the registers, and a double from an integer")
    func mixedParameters() throws {
        let score = try native("score", "double score(int64_t n, double weight, const char *label)", ["n", "w", "l"])
        #expect(score.call(["n": 4, "w": 2.5, "l": "abc"]) == .succeeded(13.0))
        let mix = try native(
            "mix",
            "double mix(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g, const char *h)",
            ["a", "b", "c", "d", "e", "f", "g", "h"]
        )
        let context: [String: JSONValue] = [
            "a": -1, "b": 2, "c": 3, "d": 4, "e": 0.5, "f": 0.25, "g": true, "h": "xy",
        ]
        #expect(mix.call(context) == .succeeded(11.75))
        let add = try native("add", "int64_t add(int64_t, int64_t)", ["a", "a"])
        #expect(add.call(["a": 21]) == .succeeded(42))
    }

    @Test("A buffer comes from a string's UTF-8 or from base64, with its length in a len() argument")
    func buffers() throws {
        let sum = try native("sum_bytes", "uint32_t sum_bytes(const uint8_t *, uint32_t)", ["data", "len(data)"])
        #expect(sum.call(["data": "AB"]) == .succeeded(131))
        #expect(sum.call(["data": ["base64": "AAH/"]]) == .succeeded(256))
        #expect(sum.call(["data": ["base64": "AAE"]]) == .succeeded(1))
        #expect(sum.call(["data": ""]) == .succeeded(0))
        guard case .badInput(let message) = sum.call(["data": ["base64": "A*=="]]) else {
            Issue.record("bad base64 was accepted")
            return
        }
        #expect(message.contains("key \"data\"") && message.contains("not valid base64"))
        guard case .badInput(let shape) = sum.call(["data": ["base64": "AA", "extra": 1]]) else {
            Issue.record("an object with more than base64 was accepted")
            return
        }
        #expect(shape.contains("{\"base64\": \"…\"}"))
        let length = try native("buffer_strlen", "size_t (const void *)", ["text"])
        #expect(length.call(["text": "four"]) == .succeeded(4))
    }

    @Test("String results are copied, freed with the named function, or read as static text")
    func stringResults() throws {
        let greet = try native("greet", "char *greet(const char *)", ["name"], release: "release_text")
        let count = try native("released_count", "int32_t (void)", [])
        guard case .succeeded(let before?) = count.call([:]) else { throw SetupError(message: "no count") }
        #expect(greet.call(["name": "Ada"]) == .succeeded("hello, Ada"))
        #expect(greet.call(["name": "Bo"]) == .succeeded("hello, Bo"))
        #expect(count.call([:]) == .succeeded(.int(before.intValue! + 2)))
        let version = try native("library_version", "const char *(void)", [])
        #expect(version.call([:]) == .succeeded("native-types 1.0"))
        let maybe = try native("maybe_text", "const char *(bool)", ["give"])
        #expect(maybe.call(["give": false]) == .succeeded(.null))
        let checked = try native("maybe_text", "const char *(bool)", ["give"], failIf: .null)
        #expect(checked.call(["give": true]) == .succeeded("given"))
        #expect(checked.call(["give": false]) == .failed("the function returned NULL (fail_if null)"))
    }

    @Test("void functions and discarded results succeed with no value")
    func voidAndDiscarded() throws {
        let touch = try native("touch", "void touch(void)", [], result: nil)
        let touched = try native("touched_count", "int32_t (void)", [])
        #expect(touch.call([:]) == .succeeded(nil))
        #expect(touch.call([:]) == .succeeded(nil))
        #expect(touched.call([:]) == .succeeded(2))
        let discarded = try native("add", "int64_t add(int64_t, int64_t)", ["a", "b"], result: nil)
        #expect(discarded.call(["a": 1, "b": 2]) == .succeeded(nil))
    }

    @Test("fail_if turns C error conventions into failures, with errno and retryability when asked")
    func resultChecks() throws {
        let plain = try native("fail_with_errno", "int32_t fail_with_errno(int32_t)", ["code"], failIf: .negative)
        #expect(plain.call(["code": 0]) == .succeeded(0))
        #expect(plain.call(["code": 2]) == .failed("fail_with_errno returned -1 (fail_if negative)"))
        let withErrno = try native(
            "fail_with_errno",
            "int32_t fail_with_errno(int32_t)",
            ["code"],
            failIf: .negative,
            errno: true,
            retryable: true
        )
        #expect(
            withErrno.call(["code": 2])
                == .retryable("fail_with_errno returned -1 (fail_if negative): errno 2, No such file or directory")
        )
        let zero = try native("identity_i32", "int32_t identity_i32(int32_t)", ["x"], failIf: .zero)
        #expect(zero.call(["x": 0]) == .failed("identity_i32 returned 0 (fail_if zero)"))
        #expect(zero.call(["x": -3]) == .succeeded(-3))
        let nonzero = try native("identity_i32", "int32_t identity_i32(int32_t)", ["x"], failIf: .nonzero)
        #expect(nonzero.call(["x": 5]) == .failed("identity_i32 returned 5 (fail_if nonzero)"))
        let falsy = try native("invert", "bool invert(bool)", ["x"], failIf: .zero)
        #expect(falsy.call(["x": true]) == .failed("invert returned false (fail_if zero)"))
    }

    @Test("Values that do not fit their C type are bad input naming the key, and the function is not called")
    func badInput() throws {
        let record = try native("record_call", "int32_t record_call(const char *)", ["path"], failIf: .negative)
        let i8 = try native("negate_i8", "int8_t(int8_t)", ["x"])
        let i64 = try native("negate_i64", "int64_t(int64_t)", ["x"])
        let u32 = try native("next_u32", "uint32_t(uint32_t)", ["x"])
        let f = try native("half_f", "float(float)", ["x"])
        let d = try native("half_d", "double(double)", ["x"])
        let b = try native("invert", "bool(bool)", ["x"])
        let cases: [(NativeFunction, [String: JSONValue], String)] = [
            (i8, ["x": 300], "key \"x\" (int8_t argument 1): 300 does not fit int8_t (-128…127)"),
            (i8, ["x": -129], "does not fit int8_t"),
            (i64, ["x": 1.5], "1.5 is not an integer, as int64_t needs"),
            (i64, ["x": 9_007_199_254_740_993], "beyond 2^53"),
            (i64, ["x": 1e300], "beyond 2^53"),
            (i64, ["x": "12"], "expected an integer for int64_t, got a string"),
            (u32, ["x": -1], "-1 does not fit uint32_t (0…4294967295)"),
            (d, ["x": "1.5"], "expected a number for double, got a string"),
            (d, ["x": .null], "expected a number for double, got null"),
            (f, ["x": 1e300], "does not fit float"),
            (b, ["x": 1], "expected true or false for bool, got a number"),
            (i64, [:], "the context has no key \"x\" (int64_t argument 1)"),
            (record, ["path": "a\u{0}b"], "NUL byte"),
            (record, ["path": ["not", "a", "string"]], "expected a string for const char *, got an array"),
        ]
        for (function, context, fragment) in cases {
            guard case .badInput(let message) = function.call(context) else {
                Issue.record("\(context) was accepted")
                continue
            }
            #expect(message.contains(fragment), "\(message)")
        }
        #expect(i64.call(["x": 3.0]) == .succeeded(-3))
    }

    @Test("Results a context cannot hold fail the call with the reason")
    func unrepresentableResults() throws {
        let largest = try native("largest_u64", "uint64_t (void)", [])
        guard case .failed(let message) = largest.call([:]) else {
            Issue.record("UINT64_MAX was written")
            return
        }
        #expect(message.contains("declare the result int64_t"))
        let signed = try native("largest_u64", "int64_t (void)", [])
        #expect(signed.call([:]) == .succeeded(-1))
        let nan = try native("not_a_number", "double (void)", [])
        #expect(nan.call([:]) == .failed("the result is nan, which a JSON number cannot hold"))
    }

    @Test("One prepared function is called from many threads at once")
    func concurrentCalls() async throws {
        let add = try native("add", "int64_t add(int64_t, int64_t)", ["a", "b"])
        let results = await withTaskGroup(of: Bool.self) { group in
            for value in 0..<64 {
                group.addTask { add.call(["a": .int(value), "b": .int(value)]) == .succeeded(.int(2 * value)) }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64 && results.allSatisfy { $0 })
    }
}
