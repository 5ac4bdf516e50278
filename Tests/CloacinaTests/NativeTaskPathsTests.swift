import Cloacina
import CloacinaTestSupport
import Foundation
import Testing

/// Every supported C type, called through both ways of declaring a native-signature task: a manifest over the test
/// library (`native_types.so`, a foreign library) and a C package that links the same functions and registers them
/// with `register_native_task`. Both run in process through a runner; the results must be the same, and right.
@Suite("Native-signature tasks: a manifest and register_native_task, every type")
struct NativeTaskPathsTests {
    /// One task: the function, its declaration, its argument keys, the context given and the result expected.
    struct Case {
        var symbol: String
        var signature: String
        var arguments: [String]
        var context: JSONValue
        var expected: JSONValue?
        var free: String? = nil
    }

    static let cases: [Case] = [
        Case(
            symbol: "negate_i8",
            signature: "int8_t negate_i8(int8_t)",
            arguments: ["x"],
            context: -127,
            expected: 127
        ),
        Case(symbol: "next_u8", signature: "uint8_t next_u8(uint8_t)", arguments: ["x"], context: 254, expected: 255),
        Case(
            symbol: "negate_i16",
            signature: "short negate_i16(short)",
            arguments: ["x"],
            context: 300,
            expected: -300
        ),
        Case(
            symbol: "next_u16",
            signature: "unsigned short next_u16(unsigned short)",
            arguments: ["x"],
            context: 65534,
            expected: 65535
        ),
        Case(symbol: "negate_i32", signature: "int negate_i32(int)", arguments: ["x"], context: 7, expected: -7),
        Case(
            symbol: "next_u32",
            signature: "uint32_t next_u32(uint32_t)",
            arguments: ["x"],
            context: 4_294_967_294,
            expected: 4_294_967_295
        ),
        Case(
            symbol: "negate_i64",
            signature: "long long negate_i64(long long)",
            arguments: ["x"],
            context: 9_007_199_254_740_992,
            expected: -9_007_199_254_740_992
        ),
        Case(symbol: "next_u64", signature: "uint64_t next_u64(uint64_t)", arguments: ["x"], context: 41, expected: 42),
        Case(symbol: "twice_size", signature: "size_t twice_size(size_t)", arguments: ["x"], context: 21, expected: 42),
        Case(symbol: "half_f", signature: "float half_f(float)", arguments: ["x"], context: 5, expected: 2.5),
        Case(symbol: "half_d", signature: "double half_d(double)", arguments: ["x"], context: 0.5, expected: 0.25),
        Case(symbol: "invert", signature: "bool invert(bool)", arguments: ["x"], context: true, expected: false),
        Case(
            symbol: "mix",
            signature:
                "double mix(int8_t a, uint16_t b, int32_t c, uint64_t d, float e, double f, bool g, const char *h)",
            arguments: ["x", "x", "x", "x", "x", "x", "t", "s"],
            context: 2,
            expected: 16.0
        ),
        Case(
            symbol: "sum_bytes",
            signature: "uint32_t sum_bytes(const uint8_t *data, uint32_t length)",
            arguments: ["b", "len(b)"],
            context: ["base64": "AAH/"],
            expected: 256
        ),
        Case(symbol: "buffer_strlen", signature: "size_t (const void *)", arguments: ["s"], context: 0, expected: 3),
        Case(
            symbol: "greet",
            signature: "char *greet(const char *)",
            arguments: ["s"],
            context: 0,
            expected: "hello, abc",
            free: "release_text"
        ),
        Case(
            symbol: "library_version",
            signature: "const char *(void)",
            arguments: [],
            context: 0,
            expected: "native-types 1.0"
        ),
        Case(symbol: "touch", signature: "void touch(void)", arguments: [], context: 0, expected: nil),
    ]

    /// The input of case `index`'s workflow: its value under `x` (or `b`), plus a string and a flag.
    static func input(_ index: Int) -> [UInt8] {
        var members: [String: JSONValue] = ["s": "abc", "t": true]
        members[cases[index].arguments.first == "b" ? "b" : "x"] = cases[index].context
        return JSONValue.object(members).serialized()
    }

    /// The result key of a case: `out`, or none for `void`.
    static func result(_ test: Case) -> String? { test.expected == nil ? nil : "out" }

    static func manifest() -> String {
        let workflows = cases.enumerated().map { index, test in
            let arguments = test.arguments.map { "\"\($0)\"" }.joined(separator: ", ")
            let result = result(test).map { #", "result": "\#($0)""# } ?? ""
            let free = test.free.map { #", "free": "\#($0)""# } ?? ""
            return #"{"name": "m\#(index)", "tasks": [{"id": "t", "symbol": "\#(test.symbol)", "#
                + #""signature": "\#(test.signature)", "arguments": [\#(arguments)]\#(result)\#(free)}]}"#
        }
        return #"{"cloacina_manifest": 1, "name": "typed_manifest", "version": "1.0.0", "#
            + #""library": "native_types.so", "workflows": [\#(workflows.joined(separator: ",\n"))]}"#
    }

    static func package() -> String {
        var registrations = ""
        for (index, test) in cases.enumerated() {
            let keys = test.arguments.map { "\"\($0)\"" }.joined(separator: ", ")
            registrations += """
                {
                    cloacina_workflow_def workflow = {sizeof workflow, "p\(index)", 0};
                    if (host->register_workflow(registrar, &workflow) != CLOACINA_REGISTER_OK) return 1;
                    static const char *const keys[] = {\(keys.isEmpty ? "0" : keys)};
                    cloacina_native_task_def def;
                    memset(&def, 0, sizeof def);
                    def.struct_size = sizeof def;
                    def.workflow = "p\(index)";
                    def.id = "t";
                    def.function = (cloacina_native_fn)\(test.symbol);
                    def.signature = "\(test.signature)";
                    def.argument_keys = keys;
                    def.argument_count = \(test.arguments.count);
                    def.result_key = \(result(test).map { "\"\($0)\"" } ?? "0");
                    def.free_result = \(test.free ?? "0");
                    if (host->register_native_task(registrar, &def) != CLOACINA_REGISTER_OK) return 1;
                }

                """
        }
        let declarations = cases.map(\.symbol).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            .map { "extern void \($0)(void);" }.joined(separator: "\n")
        return """
            #include <string.h>
            #include "cloacina.h"
            #define EXPORT __attribute__((visibility("default")))
            \(declarations)
            extern void release_text(void *);
            static const cloacina_package_descriptor info = {
                sizeof(cloacina_package_descriptor), CLOACINA_ABI_MAJOR, CLOACINA_ABI_MINOR, 0, "typed_package", "1.0.0", 0};
            EXPORT const cloacina_package_descriptor *cloacina_package_info(void) { return &info; }
            EXPORT int32_t cloacina_package_init(const cloacina_host_api *host, cloacina_registrar *registrar) {
            \(registrations)    return CLOACINA_INIT_OK;
            }
            """
    }

    @Test("each type gives the same, right result through a manifest and through register_native_task")
    func bothPaths() async throws {
        let directory = try TemporaryDirectory("native-paths")
        let drop = directory.file("drop")
        try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
        try NativeTypesLibrary.build(in: drop)
        try Self.manifest().write(toFile: "\(drop)/typed.workflow.json", atomically: true, encoding: .utf8)
        let source = directory.file("typed_package.c")
        try Self.package().write(toFile: source, atomically: true, encoding: .utf8)
        try compileC([source, NativeTypesLibrary.source], output: "\(drop)/libtyped.so", flags: ["-shared", "-fPIC"])

        let loader = PackageLoader(cacheDirectory: directory.file("cache"))
        let reports = try PackagePipeline(loader: loader).load(directory: drop)
        #expect(reports.count == 2, "the library is part of its manifest: \(reports.map(\.file))")
        let packages = reports.compactMap(\.package)
        #expect(packages.count == 2, "\(reports.map { "\($0.file): \($0.error.map { "\($0)" } ?? "ok")" })")

        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file("state.db"))")
        configuration.packageCacheDirectory = directory.file("runner-cache")
        configuration.packages = packages
        configuration.invoker = InProcessTaskInvoker()
        let runner = try await DefaultRunner.Builder(configuration: configuration).build()
        for (index, test) in Self.cases.enumerated() {
            for workflow in ["m\(index)", "p\(index)"] {
                let result = try await runner.execute(workflow, contextJSON: Self.input(index))
                #expect(result.status == .completed, "\(workflow) \(test.symbol): \(result.tasks.first?.error ?? "")")
                #expect(result.finalContext?["out"] == test.expected, "\(workflow) \(test.signature)")
            }
        }
        let described = packages.flatMap(\.workflows).first { $0.name == "p12" }?.tasks.first?.native
        #expect(described?.arguments == ["x", "x", "x", "x", "x", "x", "t", "s"])
        #expect(described?.symbol == nil)
        #expect(packages.flatMap(\.workflows).first { $0.name == "m12" }?.tasks.first?.native?.symbol == "mix")
        await runner.shutdown()
    }
}
