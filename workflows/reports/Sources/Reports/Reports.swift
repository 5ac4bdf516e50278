// An example of a user's workflow package, built outside the Cloacina package (see ../Package.swift).
//
// `nightly_report`: fetch ──┬─> totals ──┬─> publish
//                           └─> upload ──┘
// `upload` fails with a retryable error on its first attempt and succeeds on the next, under a retry policy that
// retries only retryable failures. `report_status`: one async task that awaits (`Task.sleep` standing in for an HTTP
// client), cancelled by the host at its time limit.
import CloacinaSDK

let reports = WorkflowPackage(name: "reports", version: "1.0.0") {
    Workflow("nightly_report", description: "Fetch, then total and upload in parallel, then publish") {
        WorkflowTask("fetch") { ctx in
            ctx["rows"] = [1, 2, 3]
        }
        WorkflowTask("totals", dependsOn: "fetch") { ctx in
            ctx["total"] = .int(try ctx.array("rows").compactMap(\.intValue).reduce(0, +))
        }
        WorkflowTask("upload", dependsOn: "fetch", retry: RetryPolicy(maxAttempts: 3, condition: .retryableOnly)) {
            ctx in
            guard ctx.attempt > 1 else { throw TaskFailure.retryable("storage is busy") }
            ctx["uploaded"] = true
        }
        WorkflowTask("publish", dependsOn: "totals", "upload") { ctx in
            ctx["published"] = true
        }
    }
    Workflow("report_status", description: "An async task: awaits, and stops at its time limit") {
        WorkflowTask("poll", timeout: .seconds(5)) { ctx in
            // An HTTP client or a database driver would be awaited here the same way.
            try await Task.sleep(for: .milliseconds(try ctx.int("wait_ms")))
            ctx["ready"] = true
        }
    }
}

// The one line that exports the package through the C ABI.
@c(cloacina_swift_package) func cloacinaSwiftPackage() -> UnsafeRawPointer { reports.exported }
