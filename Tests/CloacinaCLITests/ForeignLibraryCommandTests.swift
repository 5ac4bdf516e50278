import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// Foreign libraries (a manifest beside a shared library with no Cloacina entry points, or naming a system library)
/// and native-signature tasks, through the real host binary: `check`, `run` in worker processes and in process,
/// `serve` with a reload of a changed manifest.
@Suite("Foreign libraries and native-signature tasks, end to end")
struct ForeignLibraryCommandTests {
    /// A drop directory holding the test library (`native_types.so`) and manifests, and a data directory.
    struct Drop {
        let directory: TemporaryDirectory
        var path: String { directory.file("workflows") }
        var data: String { directory.file("data") }

        init(_ label: String) throws {
            directory = try TemporaryDirectory(label)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }

        func write(_ name: String, _ text: String) throws {
            let temporary = "\(path)/.\(name).tmp"
            try text.write(toFile: temporary, atomically: false, encoding: .utf8)
            guard rename(temporary, "\(path)/\(name)") == 0 else { throw CompilerError(message: "rename \(name)") }
        }

        func cloacina(_ arguments: [String]) throws -> CommandResult {
            var all = arguments
            if arguments.first == "run" { all += ["--workflows", path, "--data-dir", data] }
            return try runCommand(TestEnvironment.cloacinaExecutable, all)
        }

        func run(_ workflow: String, _ context: String, _ extra: [String] = []) throws -> JSONValue {
            let result = try cloacina(["run", workflow, "--context", context, "--output", "json"] + extra)
            return (try? JSONValue(parsing: result.standardOutput)) ?? ["stderr": .string(result.standardError)]
        }
    }

    /// A manifest over `native_types.so` with the given workflows' JSON text.
    static func manifest(name: String = "native_types", version: String = "1.0.0", workflows: String) -> String {
        """
        {"cloacina_manifest": 1, "name": "\(name)", "version": "\(version)", "library": "native_types.so",
         "workflows": [\(workflows)]}
        """
    }

    static let scoring = """
        {"name": "scoring", "description": "a score, then a greeting freed by the library",
         "tasks": [
           {"id": "score", "symbol": "score", "signature": "double score(int64_t n, double weight, const char *label)",
            "arguments": ["n", "weight", "label"], "result": "score"},
           {"id": "greet", "symbol": "greet", "signature": "char *greet(const char *name)", "arguments": ["label"],
            "result": "greeting", "free": "release_text", "dependencies": ["score"]},
           {"id": "checksum", "symbol": "sum_bytes", "signature": "uint32_t sum_bytes(const uint8_t *, uint32_t)",
            "arguments": ["blob", "len(blob)"], "result": "sum", "dependencies": ["score"]}
         ]}
        """

    static let systemLibraries = """
        {"cloacina_manifest": 1, "name": "zlib_checks", "version": "1.2.0", "system_library": "libz.so.1",
         "workflows": [{"name": "checksums", "tasks": [
           {"id": "crc", "symbol": "crc32",
            "signature": "unsigned long crc32(unsigned long crc, const uint8_t *buf, unsigned int len)",
            "arguments": ["seed", "data", "len(data)"], "result": "crc32"},
           {"id": "adler", "symbol": "adler32",
            "signature": "unsigned long adler32(unsigned long adler, const uint8_t *buf, unsigned int len)",
            "arguments": ["one", "data", "len(data)"], "result": "adler32"}
         ]}]}
        """

    static let libm = """
        {"cloacina_manifest": 1, "name": "libm_power", "version": "1.0.0", "system_library": "libm.so.6",
         "workflows": [{"name": "power", "tasks": [
           {"id": "pow", "symbol": "pow", "signature": "double pow(double x, double y)", "arguments": ["x", "y"],
            "result": "power"}
         ]}]}
        """

    @Test("check reads manifests over a drop library, libz and libm, and prints every native task's signature")
    func check() throws {
        let drop = try Drop("foreign-check")
        try NativeTypesLibrary.build(in: drop.path)
        try drop.write("native_types.workflow.json", Self.manifest(workflows: Self.scoring))
        try drop.write("zlib_checks.workflow.json", Self.systemLibraries)
        try drop.write("libm_power.workflow.json", Self.libm)
        let text = try drop.cloacina(["check", drop.path])
        #expect(text.exitStatus == 0, "\(text.standardOutput)\(text.standardError)")
        #expect(text.standardOutput.contains("native_types 1.0.0 (foreign library native_types.so)"))
        #expect(text.standardOutput.contains("zlib_checks 1.2.0 (foreign library libz.so.1)"))
        #expect(
            text.standardOutput.contains(
                "native double score(int64_t n, double weight, const char *label) ← n, weight, label → score"
            )
        )
        #expect(text.standardOutput.contains("native double pow(double x, double y) ← x, y → power"))
        // The library is part of its manifest's package, never a package of its own.
        #expect(text.standardOutput.contains("3 files: 3 loaded, 0 rejected"), "\(text.standardOutput)")

        let json = try JSONValue(parsing: try drop.cloacina(["check", drop.path, "--output", "json"]).standardOutput)
        let reports = try #require(json.arrayValue)
        let crc = reports.first { $0["package"]?["name"] == "zlib_checks" }?["workflows"]?[0]?["tasks"]?[0]
        #expect(crc?["native"]?["symbol"] == "crc32")
        #expect(crc?["native"]?["arguments"] == ["seed", "data", "len(data)"])
        #expect(reports.first { $0["package"]?["name"] == "zlib_checks" }?["package"]?["language"] == "foreign")
    }

    @Test("tasks run through libffi in worker processes and in process: values, buffers, freed strings, libz, libm")
    func runs() throws {
        let drop = try Drop("foreign-run")
        try NativeTypesLibrary.build(in: drop.path)
        try drop.write("native_types.workflow.json", Self.manifest(workflows: Self.scoring))
        try drop.write("zlib_checks.workflow.json", Self.systemLibraries)
        try drop.write("libm_power.workflow.json", Self.libm)
        for isolation in ["process", "in-process"] {
            let scored = try drop.run(
                "scoring",
                #"{"n": 4, "weight": 2.5, "label": "abc", "blob": {"base64": "AAH/"}}"#,
                ["--isolation", isolation]
            )
            #expect(scored["status"] == "Completed", "\(scored)")
            #expect(scored["final_context"]?["score"] == 13.0)
            #expect(scored["final_context"]?["greeting"] == "hello, abc")
            #expect(scored["final_context"]?["sum"] == 256)
            #expect(scored["final_context"]?["label"] == "abc")

            // zlib's own check values for "123456789".
            let sums = try drop.run(
                "checksums",
                #"{"seed": 0, "one": 1, "data": "123456789"}"#,
                ["--isolation", isolation]
            )
            #expect(sums["final_context"]?["crc32"] == 0xCBF4_3926, "\(sums)")
            #expect(sums["final_context"]?["adler32"] == 0x091E_01DE)

            let power = try drop.run("power", #"{"x": 2, "y": 10}"#, ["--isolation", isolation])
            #expect(power["final_context"]?["power"] == 1024.0)
        }
    }

    @Test("a value that does not fit its C type fails as bad input naming the key, never retried")
    func badInputAtRunTime() throws {
        let drop = try Drop("foreign-bad-input")
        try NativeTypesLibrary.build(in: drop.path)
        let counting = """
            {"name": "typed", "tasks": [
              {"id": "count", "symbol": "record_call", "signature": "int32_t record_call(const char *path)",
               "arguments": ["path"], "result": "recorded", "fail_if": "negative", "errno": true},
              {"id": "narrow", "symbol": "negate_i8", "signature": "int8_t negate_i8(int8_t)", "arguments": ["x"],
               "result": "y", "dependencies": ["count"],
               "retry": {"max_attempts": 3, "backoff": "fixed", "condition": "all_errors", "initial_delay_ms": 1,
                         "max_delay_ms": 1, "jitter_percent": 0}}
            ]}
            """
        try drop.write("native_types.workflow.json", Self.manifest(workflows: counting))
        let calls = drop.directory.file("calls")
        let cases: [(String, String)] = [
            ("300", "key \"x\" (int8_t argument 1): 300 does not fit int8_t (-128…127)"),
            ("1.5", "1.5 is not an integer"),
            ("\"7\"", "expected an integer for int8_t, got a string"),
            ("9007199254740993", "beyond 2^53"),
        ]
        for (value, message) in cases {
            let result = try drop.run("typed", #"{"path": "\#(calls)", "x": \#(value)}"#)
            #expect(result["status"] == "Failed", "\(result)")
            let narrow = result["tasks"]?.arrayValue?.first { $0["id"] == "narrow" }
            #expect(narrow?["attempts"] == 1, "bad input is never retried")
            #expect(narrow?["error"]?.stringValue?.contains(message) == true, "\(narrow ?? .null)")
        }
        // The first task ran once per execution, really: one line per call.
        #expect(try String(contentsOfFile: calls, encoding: .utf8).split(separator: "\n").count == cases.count)

        let missing = try drop.run("typed", #"{"path": "\#(calls)"}"#)
        #expect(
            missing["tasks"]?[1]?["error"]?.stringValue?.contains("the context has no key \"x\"") == true,
            "\(missing)"
        )
        // errno in the message of a C failure: a directory that does not exist.
        let failed = try drop.run("typed", #"{"path": "/nonexistent/dir/file", "x": 1}"#)
        #expect(failed["tasks"]?[0]?["error"]?.stringValue?.contains("errno 2, No such file or directory") == true)
    }

    @Test("a foreign function that crashes ends its worker only: the attempt fails with the signal, the host goes on")
    func crash() throws {
        let drop = try Drop("foreign-crash")
        try NativeTypesLibrary.build(in: drop.path)
        let crashing = """
            {"name": "crashing", "tasks": [
              {"id": "crash", "symbol": "crash_if", "signature": "int64_t crash_if(int64_t)", "arguments": ["crash"],
               "result": "survived"}
            ]}
            """
        try drop.write("native_types.workflow.json", Self.manifest(workflows: crashing))
        let crashed = try drop.run("crashing", #"{"crash": 1}"#)
        #expect(crashed["status"] == "Failed")
        #expect(
            crashed["tasks"]?[0]?["error"]?.stringValue?.hasPrefix("worker killed by SIGSEGV") == true,
            "\(crashed)"
        )
        let fine = try drop.run("crashing", #"{"crash": 0}"#)
        #expect(fine["status"] == "Completed")
        #expect(fine["final_context"]?["survived"] == 0)
    }

    @Test("every rejection names its stage and reason, and nothing of a rejected package runs")
    func rejections() throws {
        let drop = try Drop("foreign-reject")
        try NativeTypesLibrary.build(in: drop.path)
        func task(_ fields: String) -> String {
            Self.manifest(workflows: #"{"name": "w", "tasks": [{"id": "t", \#(fields)}]}"#)
        }
        let cases: [(String, String, String)] = [
            (
                task(#""symbol": "no_such_function", "signature": "int f(void)""#), "symbols",
                "does not export no_such_function"
            ),
            (
                task(#""symbol": "add", "signature": "int64_t add(int64_t, int64_t""#), "manifest",
                "is not a C function declaration"
            ),
            (
                task(#""symbol": "add", "signature": "int64_t add(int64_t, int64_t)", "arguments": ["a", "b c"]"#),
                "manifest", "invalid context key \"b c\""
            ),
            (
                task(#""symbol": "add", "signature": "uLong add(uLong, uLong)", "arguments": ["a", "b"]"#), "manifest",
                "unknown type \"uLong\""
            ),
            (
                task(#""symbol": "add", "signature": "int64_t add(int64_t)", "arguments": ["a", "b"]"#), "manifest",
                "takes 1 parameter but 2 arguments were given"
            ),
            (
                task(#""symbol": "add", "signature": "int64_t add(int64_t a, int64_t b)", "argumentz": []"#),
                "manifest",
                "unknown key \"argumentz\""
            ),
            (
                task(#""symbol": "add", "signature": "int add(struct pair p)", "arguments": ["p"]"#), "manifest",
                "structs"
            ),
            (#"{"cloacina_manifest": 2}"#, "manifest", "format 2 is not supported"),
            (
                task(
                    #""symbol": "greet", "signature": "char *greet(const char *)", "arguments": ["s"], "#
                        + #""result": "g", "free": "no_such_free""#
                ), "symbols", "does not export no_such_free"
            ),
            (
                Self.manifest(
                    workflows: #"{"name": "w", "tasks": [{"id": "t", "symbol": "touch", "signature": "void f(void)"}, "#
                        + #"{"id": "t", "symbol": "touch", "signature": "void f(void)"}]}"#
                ), "init", "duplicate task id \"t\""
            ),
            (
                #"{"cloacina_manifest": 1, "name": "x", "version": "1", "workflows": []}"#, "manifest",
                "names no library"
            ),
        ]
        for (index, (manifest, stage, reason)) in cases.enumerated() {
            let file = "case\(index).workflow.json"
            try drop.write(file, manifest)
            let result = try drop.cloacina(["check", "\(drop.path)/\(file)", "--output", "json"])
            #expect(result.exitStatus == 1)
            let json = try JSONValue(parsing: result.standardOutput)
            let report = try #require(json.arrayValue?.first)
            #expect(report["stage"] == .string(stage), "\(manifest): \(report)")
            #expect(report["error"]?.stringValue?.contains(reason) == true, "\(manifest): \(report)")
            try FileManager.default.removeItem(atPath: "\(drop.path)/\(file)")
        }

        // A library that is not a shared object, and a system library that does not exist.
        try drop.write("broken.so", "not an ELF file")
        try drop.write(
            "broken.workflow.json",
            #"{"cloacina_manifest": 1, "name": "broken", "version": "1", "library": "broken.so", "workflows": "#
                + #"[{"name": "w", "tasks": [{"id": "t", "symbol": "f", "signature": "void f(void)"}]}]}"#
        )
        try drop.write(
            "ghost.workflow.json",
            #"{"cloacina_manifest": 1, "name": "ghost", "version": "1", "system_library": "libnothere.so.9", "#
                + #""workflows": [{"name": "g", "tasks": [{"id": "t", "symbol": "f", "signature": "void f(void)"}]}]}"#
        )
        try drop.write(
            "nosym.workflow.json",
            #"{"cloacina_manifest": 1, "name": "nosym", "version": "1", "system_library": "libm.so.6", "#
                + #""workflows": [{"name": "n", "tasks": [{"id": "t", "symbol": "no_such_fn", "#
                + #""signature": "void f(void)"}]}]}"#
        )
        let text = try drop.cloacina(
            ["check"] + ["broken", "ghost", "nosym"].map { "\(drop.path)/\($0).workflow.json" }
        )
        #expect(text.standardOutput.contains("symbols: libm.so.6 has no symbol no_such_fn"), "\(text.standardOutput)")
        #expect(text.standardOutput.contains("elf: the library broken.so:"), "\(text.standardOutput)")
        #expect(text.standardOutput.contains("dlopen: libnothere.so.9"), "\(text.standardOutput)")
    }

    @Test("serve reloads a changed manifest and a changed library as new versions; executions pin theirs")
    func reload() throws {
        let drop = try Drop("foreign-reload")
        try NativeTypesLibrary.build(in: drop.path)
        let one =
            #"{"name": "adding", "tasks": [{"id": "add", "symbol": "add", "#
            + #""signature": "int64_t add(int64_t, int64_t)", "arguments": ["a", "b"], "result": "sum"}]}"#
        try drop.write("native_types.workflow.json", Self.manifest(workflows: one))
        let daemon = try DaemonProcess(drop: drop.path, data: drop.data)
        func submit(_ workflow: String, _ context: String) throws -> JSONValue {
            let (status, created) = try daemon.request(
                "POST",
                "/tenants/default/workflows",
                body: #"{"workflow_name": "\#(workflow)", "context": \#(context)}"#
            )
            #expect(status == 202, "\(created)")
            let id = try #require(created["execution_id"]?.stringValue)
            return try daemon.request("GET", "/tenants/default/executions/\(id)?wait=true").json
        }
        let first = try submit("adding", #"{"a": 2, "b": 3}"#)
        #expect(first["status"] == "Completed", "\(first)")
        #expect(first["final_context"]?["sum"] == 5)
        let v1 = try #require(first["package"]?["sha256"]?.stringValue)

        // A second workflow and a new version in the manifest, then SIGHUP.
        let two =
            one + #", {"name": "negating", "tasks": [{"id": "neg", "symbol": "negate_i64", "#
            + #""signature": "int64_t negate_i64(int64_t)", "arguments": ["a"], "result": "negated"}]}"#
        try drop.write("native_types.workflow.json", Self.manifest(version: "1.1.0", workflows: two))
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("reloaded", times: 2), "\(daemon.logText)")
        let negated = try submit("negating", #"{"a": 7}"#)
        #expect(negated["final_context"]?["negated"] == -7, "\(negated)")
        #expect(negated["package"]?["version"] == "1.1.0")
        let v2 = try #require(negated["package"]?["sha256"]?.stringValue)
        #expect(v2 != v1)

        // The library alone rebuilt (another function added): a new version too.
        let source = drop.directory.file("extra.c")
        try String(contentsOfFile: NativeTypesLibrary.source, encoding: .utf8)
            .appending("\nint64_t extra_function(void) { return 1; }\n")
            .write(toFile: source, atomically: true, encoding: .utf8)
        try compileC([source], output: "\(drop.path)/.native_types.so.tmp", flags: ["-shared", "-fPIC"])
        #expect(rename("\(drop.path)/.native_types.so.tmp", "\(drop.path)/native_types.so") == 0)
        daemon.signal(SIGHUP)
        #expect(daemon.waitForLog("reloaded", times: 3), "\(daemon.logText)")
        let third = try submit("adding", #"{"a": 1, "b": 1}"#)
        #expect(third["final_context"]?["sum"] == 2)
        let v3 = try #require(third["package"]?["sha256"]?.stringValue)
        #expect(v3 != v2 && v3 != v1)
        let (_, listed) = try daemon.request("GET", "/workflows")
        #expect(listed["packages"]?.arrayValue?.count == 1, "the library is not listed as a package of its own")
    }

    @Test("serve --watch loads a manifest dropped in while it runs, without a signal")
    func watch() throws {
        let drop = try Drop("foreign-watch")
        let daemon = try DaemonProcess(drop: drop.path, data: drop.data, arguments: ["--watch"])
        try drop.write("libm_power.workflow.json", Self.libm)
        #expect(daemon.waitForLog("reloaded", times: 2), "\(daemon.logText)")
        let (status, created) = try daemon.request(
            "POST",
            "/tenants/default/workflows",
            body: #"{"workflow_name": "power", "context": {"x": 3, "y": 2}}"#
        )
        #expect(status == 202, "\(created)")
        let id = try #require(created["execution_id"]?.stringValue)
        let result = try daemon.request("GET", "/tenants/default/executions/\(id)?wait=true").json
        #expect(result["final_context"]?["power"] == 9.0, "\(result)")
    }

    @Test("register_native_task: a C package's plain functions run through libffi; a bad signature rejects it")
    func registeredNativeTasks() throws {
        let drop = try Drop("native-abi")
        func package(_ signature: String, name: String) -> String {
            """
            #include <string.h>
            #include "cloacina.h"
            #define EXPORT __attribute__((visibility("default")))
            static const cloacina_package_descriptor info = {
                sizeof(cloacina_package_descriptor), CLOACINA_ABI_MAJOR, CLOACINA_ABI_MINOR, 0, "\(name)", "1.0.0", 0};
            EXPORT const cloacina_package_descriptor *cloacina_package_info(void) { return &info; }
            static double scale(int64_t n, double weight, const char *label) { return n * weight + strlen(label); }
            EXPORT int32_t cloacina_package_init(const cloacina_host_api *host, cloacina_registrar *registrar) {
                cloacina_workflow_def workflow = {sizeof workflow, "\(name)_flow", 0};
                if (host->register_workflow(registrar, &workflow) != CLOACINA_REGISTER_OK) return 1;
                static const char *const keys[] = {"n", "weight", "label"};
                cloacina_native_task_def def;
                memset(&def, 0, sizeof def);
                def.struct_size = sizeof def;
                def.workflow = "\(name)_flow";
                def.id = "scale";
                def.function = (cloacina_native_fn)scale;
                def.signature = "\(signature)";
                def.argument_keys = keys;
                def.argument_count = 3;
                def.result_key = "scaled";
                return host->register_native_task(registrar, &def) == CLOACINA_REGISTER_OK ? 0 : 1;
            }
            """
        }
        for (name, signature) in [
            ("good", "double scale(int64_t n, double weight, const char *label)"),
            ("bad", "double scale(int64_t n, double weight, const char *label, ...)"),
        ] {
            let source = drop.directory.file("\(name).c")
            try package(signature, name: name).write(toFile: source, atomically: true, encoding: .utf8)
            try compileC([source], output: "\(drop.path)/lib\(name).so", flags: ["-shared", "-fPIC"])
        }
        let checked = try drop.cloacina(["check", drop.path])
        #expect(checked.standardOutput.contains("native double scale(int64_t n, double weight, const char *label)"))
        #expect(checked.standardOutput.contains("init: "), "\(checked.standardOutput)")
        #expect(checked.standardOutput.contains("variadic functions are not supported"), "\(checked.standardOutput)")
        let result = try drop.run("good_flow", #"{"n": 3, "weight": 0.5, "label": "ab"}"#)
        #expect(result["status"] == "Completed", "\(result)")
        #expect(result["final_context"]?["scaled"] == 3.5)
    }
}
