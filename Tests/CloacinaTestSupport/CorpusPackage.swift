import Foundation

/// A workflow package in C that a test generates and compiles with the system C compiler against `cloacina.h`,
/// good or broken in one chosen way.
///
/// Every task runs the same function: it fails with "cancelled" if the host cancelled the call, logs one line,
/// and otherwise returns `{"impl": <behaviour>, "task": <id>, "attempt": <n>}` with ``taskStatus``.
public struct CorpusPackage: Sendable {
    public struct Task: Sendable {
        public var id: String
        public var dependencies: [String]
        /// The trigger rule JSON, as C source text of a string literal's contents (already escaped).
        public var triggerRule: String?
        /// `{max_attempts, backoff, condition}` codes of a retry policy.
        public var retry: (attempts: Int, backoff: Int, condition: Int)?

        public init(
            _ id: String,
            after dependencies: [String] = [],
            triggerRule: String? = nil,
            retry: (attempts: Int, backoff: Int, condition: Int)? = nil
        ) {
            self.id = id
            self.dependencies = dependencies
            self.triggerRule = triggerRule
            self.retry = retry
        }
    }

    public var name = "corpus"
    public var version = "1.0.0"
    public var abiMajor = 1
    public var abiMinor = 0
    /// Marker every task writes into its output, to tell builds apart.
    public var behaviour = "v1"
    public var exportInfo = true
    public var exportInit = true
    public var infoReturnsNull = false
    public var initStatus = 0
    public var initError: String?
    /// C statements run first thing in init (to crash or hang it, say).
    public var initPrologue = ""
    /// Status every task returns (0 OK, 1 failed, 2 retryable, 3 bad input).
    public var taskStatus = 0
    /// C statements run first thing in every task (to block it until the test lets it go, say).
    public var taskPrologue = ""
    /// Extra top-level C declarations (custom sections, for example).
    public var extraDeclarations = ""
    /// C statements run in init after the workflows and tasks are registered (`host` and `registrar` in scope).
    public var initEpilogue = ""
    /// C statements run by a constructor when the library is opened (before the host can check anything), with
    /// `<unistd.h>`, `<fcntl.h>`, `<signal.h>`, `<sys/socket.h>` and `<sys/wait.h>` included.
    public var constructorBody: String?
    public var workflows: [(name: String, tasks: [Task])] = [("corpus_flow", [Task("only")])]

    public init() {}

    /// The package's C source.
    public var source: String {
        var c = """
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include "cloacina.h"
            #define EXPORT __attribute__((visibility("default")))

            static const cloacina_host_api *host;
            \(extraDeclarations)
            \(constructorBody.map(Self.constructor) ?? "")

            static const cloacina_package_descriptor info = {
                sizeof(cloacina_package_descriptor), \(abiMajor), \(abiMinor), 0, "\(name)", "\(version)", NULL,
            };

            static int32_t task_main(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
                (void)user_data;
                \(taskPrologue)
                char text[512];
                if (host->is_cancelled(call)) {
                    int n = snprintf(text, sizeof text, "cancelled");
                    output->data = host->alloc((size_t)n);
                    memcpy(output->data, text, (size_t)n);
                    output->len = (size_t)n;
                    return CLOACINA_TASK_FAILED;
                }
                host->log(call, CLOACINA_LOG_INFO, "corpus task ran");
                int n = snprintf(text, sizeof text, "{\\"impl\\":\\"\(behaviour)\\",\\"task\\":\\"%s\\",\\"attempt\\":%u}",
                                 call->task_id, call->attempt);
                output->data = host->alloc((size_t)n);
                memcpy(output->data, text, (size_t)n);
                output->len = (size_t)n;
                return \(taskStatus);
            }

            """
        if exportInfo {
            c += """
                EXPORT const cloacina_package_descriptor *cloacina_package_info(void) {
                    return \(infoReturnsNull ? "NULL" : "&info");
                }

                """
        }
        guard exportInit else { return c }
        c += """
            EXPORT int32_t cloacina_package_init(const cloacina_host_api *api, cloacina_registrar *registrar) {
                \(initPrologue)
                host = api;
                const char *log_path = getenv("CLOACINA_TEST_INIT_LOG");
                if (log_path) {
                    FILE *log = fopen(log_path, "a");
                    if (log) { fputs("\(name) init\\n", log); fclose(log); }
                }

            """
        if let initError {
            c += "    host->report_error(registrar, \"\(initError)\");\n"
        }
        for workflow in workflows {
            c += """
                    {
                        cloacina_workflow_def def = {sizeof def, "\(workflow.name)", "generated"};
                        host->register_workflow(registrar, &def);
                    }

                """
            for task in workflow.tasks {
                let dependencies = task.dependencies.map { "\"\($0)\"" }.joined(separator: ", ")
                c += "    {\n"
                c += "        static const char *const deps[] = {\(dependencies.isEmpty ? "NULL" : dependencies)};\n"
                c += "        cloacina_task_def def = {0};\n"
                c += "        def.struct_size = sizeof def;\n"
                c += "        def.workflow = \"\(workflow.name)\";\n"
                c += "        def.id = \"\(task.id)\";\n"
                c += "        def.dependencies = deps;\n"
                c += "        def.dependency_count = \(task.dependencies.count);\n"
                c += "        def.function = task_main;\n"
                if let rule = task.triggerRule {
                    c += "        def.trigger_rule_json = \"\(rule)\";\n"
                }
                if let retry = task.retry {
                    c += "        cloacina_retry_policy retry = {sizeof retry, \(retry.attempts), \(retry.backoff), "
                    c += "\(retry.condition), 10, 1000, 2.0, 0};\n"
                    c += "        def.retry = &retry;\n"
                }
                c += "        host->register_task(registrar, &def);\n"
                c += "    }\n"
            }
        }
        c += initEpilogue
        c += "    return \(initStatus);\n}\n"
        return c
    }

    private static func constructor(_ body: String) -> String {
        """
        #include <unistd.h>
        #include <fcntl.h>
        #include <signal.h>
        #include <sys/socket.h>
        #include <sys/wait.h>
        __attribute__((constructor)) static void corpus_constructor(void) {
        \(body)
        }
        """
    }

    /// The lines the loading probe's child once wrote on standard output for a file that loaded, claiming that
    /// `file` loaded as package `name` (workflow `<name>_flow`), as the contents of a C string literal: what a
    /// package that forges its report prints.
    public static func forgedReportLines(claiming file: String, name: String) -> String {
        let report = """
            {"duplicate_of":null,"error":null,"file":"\(file)","package":{"abi":"1.0","language":"c","name":"\(name)",\
            "sha256":"\(String(repeating: "0", count: 64))","toolchain":null,"version":"1.0.0"},"stage":null,\
            "status":"loaded","workflows":[{"description":null,"name":"\(name)_flow","tasks":[{"dependencies":[],\
            "description":null,"id":"only","retry":{"backoff":"fixed","condition":"never","initial_delay_ms":0,\
            "jitter_percent":0,"max_attempts":1,"max_delay_ms":0},"timeout_ms":null,"trigger_rule":null}]}]}
            """
        let text = "file 0\nstage validate\nreport " + report + "\n"
        return text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Compiles the package into `directory/fileName` with the system C compiler and returns the path.
    ///
    /// The library is written under a temporary name and renamed into place, as an installer should.
    @discardableResult
    public func build(in directory: String, fileName: String) throws -> String {
        let stem = fileName.replacingOccurrences(of: ".so", with: "")
        let sourcePath = "\(directory)/.\(stem)-\(UUID().uuidString.prefix(8)).c"
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: sourcePath) }
        let temporary = "\(directory)/.\(fileName).tmp"
        try compileC([sourcePath], output: temporary, flags: ["-shared", "-fPIC"])
        let destination = "\(directory)/\(fileName)"
        guard rename(temporary, destination) == 0 else {
            throw CompilerError(message: "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        return destination
    }
}

/// A C compilation that failed.
public struct CompilerError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Compiles C sources with `cc`, against the ABI header, into `output`.
public func compileC(_ sources: [String], output: String, flags: [String]) throws {
    let result = try runCommand(
        "/usr/bin/env",
        ["cc", "-std=gnu11", "-O1", "-Wall", "-I", TestEnvironment.headerDirectory] + flags + sources + ["-o", output]
    )
    guard result.exitStatus == 0 else {
        throw CompilerError(
            message: "cc failed (\(result.exitStatus.map(String.init) ?? "signal")):\n\(result.standardError)"
        )
    }
}
