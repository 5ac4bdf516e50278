import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// Every way a task misbehaves, at once in one `serve`, beside another tenant's work; and the crash-loop rule in
/// in-process mode, where a crash does take the host down.
@Suite("Misbehaving tasks beside other tenants")
struct MisbehavingTenantTests {
    @Test("serve: each misbehaving task of acme fails alone with its cause while globex's executions complete")
    func serveSideBySide() throws {
        let host = try IsolationCommandTests.Host("misbehaving-tenants")
        let daemon = try DaemonProcess(
            drop: host.drop,
            data: host.data,
            arguments: [
                "--tenants", "acme,globex", "--task-timeout", "2", "--kill-grace", "0.2", "--worker-memory", "256",
                "--quarantine-crashes", "0",
            ]
        )
        let expected: [(task: String, status: String, error: String?)] = [
            ("segv", "Failed", "worker killed by SIGSEGV (Segmentation fault)"),
            ("abort", "Failed", "worker killed by SIGABRT (Aborted)"),
            ("exit3", "Failed", "worker exited with status 3"),
            ("sigkill", "Failed", "worker killed by SIGKILL (Killed)"),
            ("hog", "Failed", "worker killed by SIGABRT (Aborted)"),
            ("forge", "Failed", "worker broke the protocol (result frame ends inside a field); it was killed"),
            ("spin", "Failed", "timed out after 2 s"),
            ("sleep", "Failed", "timed out after 2 s"),
            ("garbage", "Completed", nil),
            ("setenv", "Completed", nil),
            ("sighandler", "Completed", nil),
        ]
        let submit = { (tenant: String, task: String) throws -> String in
            let (status, json) = try daemon.request(
                "POST",
                "/tenants/\(tenant)/workflows",
                body: #"{"workflow_name": "w_\#(task)", "context": \#(host.context)}"#
            )
            #expect(status == 202, "\(json)")
            return try #require(json["execution_id"]?.stringValue)
        }
        let acme = try expected.map { try submit("acme", $0.task) }
        let globex = try (0..<5).map { _ in try submit("globex", "ok") }
        for (id, want) in zip(acme, expected) {
            let (_, result) = try daemon.request("GET", "/tenants/acme/executions/\(id)?wait=true")
            #expect(result["status"] == .string(want.status), "\(want.task): \(result)")
            #expect(result["tasks"]?[0]?["error"] == (want.error.map(JSONValue.string) ?? .null), "\(want.task)")
        }
        for id in globex {
            let (_, result) = try daemon.request("GET", "/tenants/globex/executions/\(id)?wait=true")
            #expect(result["status"] == "Completed", "\(result)")
        }
        // Fresh workers serve on; nothing a task did (signal dispositions, environment) reached the host, which
        // still stops on SIGTERM.
        let (_, after) = try daemon.request(
            "POST",
            "/tenants/acme/workflows?wait=true",
            body: #"{"workflow_name": "w_ok", "context": \#(host.context)}"#
        )
        #expect(after["status"] == "Completed")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("in-process: a task that crashes its host on every attempt (2 allowed) is Failed after two restarts")
    func inProcessCrashLoopEnds() throws {
        let host = try IsolationCommandTests.Host("misbehaving-in-process")
        let (first, _) = try host.run("crash_always", ["--isolation", "in-process"])
        #expect(first.signal == SIGSEGV)
        let resume = {
            try runCommand(
                TestEnvironment.cloacinaExecutable,
                ["executions", "resume", "--data-dir", host.data, "--isolation", "in-process", "--output", "json"]
            )
        }
        let second = try resume()
        #expect(second.signal == SIGSEGV, "\(second.standardError)")
        let third = try resume()
        #expect(third.exitStatus == 1, "\(third.standardError)")
        let results = try JSONValue(parsing: third.standardOutput)
        #expect(results[0]?["status"] == "Failed", "\(results)")
        #expect(results[0]?["tasks"]?[0]?["attempts"] == 2)
        #expect(MisbehavingPackage.calls(in: host.directory) == ["crash_always 1", "crash_always 2"])
        let fourth = try resume()
        #expect(fourth.exitStatus == 0 && fourth.standardOutput.contains("[]"), "\(fourth.standardOutput)")
    }
}
