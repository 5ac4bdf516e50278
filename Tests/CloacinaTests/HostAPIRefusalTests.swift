import Cloacina
import CloacinaJSON
import CloacinaTestSupport
import Foundation
import InMemoryLogging
import Logging
import Synchronization
import Testing

/// In-process mode: host API calls with a call pointer that is no running call are refused, never dereferenced.
@Suite("Host API call pointers")
struct HostAPIRefusalTests {
    /// A package whose task `abuse` calls the host API with garbage, `NULL`, a modified copy of its call and (on its
    /// second run) the pointer of its first call, recording what `is_cancelled` answered; `keep` stores its call
    /// pointer for that second run.
    static let source = #"""
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include "cloacina.h"
        #define EXPORT __attribute__((visibility("default")))

        static const cloacina_host_api *host;
        static const cloacina_task_call *kept;
        static const cloacina_package_descriptor info = {
            sizeof(cloacina_package_descriptor), 1, 0, 0, "abuser", "1.0.0", NULL,
        };

        static int32_t answer(const cloacina_task_call *call, cloacina_output *output, const char *text) {
            host->log(call, CLOACINA_LOG_INFO, "still alive");
            size_t n = strlen(text);
            output->data = host->alloc(n);
            memcpy(output->data, text, n);
            output->len = n;
            return CLOACINA_TASK_OK;
        }

        static int32_t keep(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
            (void)user_data;
            kept = call;
            return answer(call, output, "{}");
        }

        static int32_t abuse(void *user_data, const cloacina_task_call *call, cloacina_output *output) {
            (void)user_data;
            const cloacina_task_call *garbage = (const cloacina_task_call *)(uintptr_t)0xdeadbeef;
            host->log(garbage, CLOACINA_LOG_INFO, "from garbage");
            int g = host->is_cancelled(garbage);
            int n = host->is_cancelled(NULL);
            cloacina_task_call copy = *call;
            copy.host_reserved = (void *)(uintptr_t)0x42;
            host->log(&copy, CLOACINA_LOG_INFO, "from a copy");
            int c = host->is_cancelled(&copy);
            cloacina_task_call forged = *call;
            host->log(&forged, CLOACINA_LOG_INFO, "from an exact copy");
            int f = host->is_cancelled(&forged);
            int s = -1;
            if (kept) {
                host->log(kept, CLOACINA_LOG_INFO, "from a stale call");
                s = host->is_cancelled(kept);
            }
            int live = host->is_cancelled(call);
            char text[256];
            snprintf(text, sizeof text,
                     "{\"garbage\":%d,\"null\":%d,\"copy\":%d,\"forged\":%d,\"stale\":%d,\"live\":%d}",
                     g, n, c, f, s, live);
            return answer(call, output, text);
        }

        EXPORT const cloacina_package_descriptor *cloacina_package_info(void) { return &info; }

        EXPORT int32_t cloacina_package_init(const cloacina_host_api *api, cloacina_registrar *registrar) {
            host = api;
            cloacina_workflow_def def = {sizeof def, "abuse_flow", NULL};
            host->register_workflow(registrar, &def);
            cloacina_task_def task = {0};
            task.struct_size = sizeof task;
            task.workflow = "abuse_flow";
            task.id = "keep";
            task.function = keep;
            host->register_task(registrar, &task);
            task.id = "abuse";
            task.function = abuse;
            host->register_task(registrar, &task);
            /* A registrar the host never handed out is refused too. */
            cloacina_workflow_def other = {sizeof other, "other_flow", NULL};
            return host->register_workflow((cloacina_registrar *)(uintptr_t)0xbadcafe, &other) == 0 ? 1 : 0;
        }
        """#

    static func request(_ task: String) -> TaskRequest {
        TaskRequest(workflow: "abuse_flow", task: task, tenant: "acme", executionID: "exec-1", attempt: 1, context: [])
    }

    @Test("garbage, NULL, copied and stale call pointers are refused and logged; the host lives")
    func refused() throws {
        let directory = try TemporaryDirectory("host-api")
        let source = directory.file("abuser.c")
        try Self.source.write(toFile: source, atomically: true, encoding: .utf8)
        try compileC([source], output: directory.file("abuser.so"), flags: ["-shared", "-fPIC"])
        let report = PackageLoader(cacheDirectory: directory.file("cache")).load(file: directory.file("abuser.so"))
        let package = try #require(report.package, "\(String(describing: report.error))")
        #expect(package.workflows.map(\.name) == ["abuse_flow"])

        let handler = InMemoryLogHandler()
        let invoker = InProcessTaskInvoker(logger: Logger(label: "test") { _ in handler })
        let first = invoker.invoke(Self.request("abuse"), in: package, cancellation: TaskCancellation())
        #expect(try Self.answers(first) == ["garbage": 1, "null": 1, "copy": 1, "forged": 1, "stale": -1, "live": 0])

        // Keep a call's pointer, then use it from a call on another thread (another stack: no call lives there).
        _ = invoker.invoke(Self.request("keep"), in: package, cancellation: TaskCancellation())
        let second = Mutex<TaskResult?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            second.withLock {
                $0 = invoker.invoke(Self.request("abuse"), in: package, cancellation: TaskCancellation())
            }
            done.signal()
        }
        thread.start()
        done.wait()
        let stale = try #require(second.withLock { $0 })
        #expect(try Self.answers(stale)["stale"] == 1)

        let messages = handler.entries.map(\.message.description)
        #expect(messages.filter { $0 == "still alive" }.count == 3)
        // A task's own lines carry its call's metadata.
        let alive = handler.entries.filter { $0.message.description == "still alive" }
        #expect(
            alive.allSatisfy {
                $0.metadata["tenant"] == "acme" && $0.metadata["workflow"] == "abuse_flow"
                    && ["abuse", "keep"].contains($0.metadata["task"]?.description)
                    && $0.metadata["execution"] == "exec-1"
                    && $0.metadata["attempt"] == "1"
            }
        )
        #expect(
            !messages.contains { $0.hasPrefix("from ") },
            "a refused call's message reached the task's log as its own"
        )
        let refusals = handler.entries.filter { $0.message.description.hasPrefix("refused host->") }
        #expect(!refusals.isEmpty)
        #expect(refusals.allSatisfy { $0.metadata["task"] == "abuse" && $0.level == .error })
    }

    static func answers(_ result: TaskResult) throws -> [String: Int] {
        guard case .succeeded(let bytes?) = result, case .object(let object) = try JSONValue(parsing: bytes) else {
            Issue.record("unexpected result \(result)")
            return [:]
        }
        return object.compactMapValues { $0.intValue }
    }
}
