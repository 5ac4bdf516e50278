import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// `cloacina serve` quarantines a package version whose tasks keep killing workers: refused with 409 naming the
/// version, shown by `GET /workflows`, `workflows list` and the metrics, kept across a restart, ended by
/// `workflows unquarantine` or by serving a new version.
@Suite("Quarantine, end to end")
struct QuarantineCommandTests {
    @Test("three crashes quarantine the version; unquarantine, a restart and a new version behave as documented")
    func quarantine() throws {
        let host = try IsolationCommandTests.Host("quarantine")
        let arguments = ["--tenants", "acme", "--quarantine-crashes", "3", "--quarantine-window", "3600"]
        var daemon = try DaemonProcess(drop: host.drop, data: host.data, arguments: arguments)
        let submit = { (daemon: DaemonProcess, task: String) throws -> (Int, JSONValue) in
            try daemon.request(
                "POST",
                "/tenants/acme/workflows?wait=true",
                body: #"{"workflow_name": "w_\#(task)", "context": \#(host.context)}"#
            )
        }
        // segv: one attempt, one crash (twice); flaky: one crash, then it completes. The third crash quarantines.
        #expect(try submit(daemon, "segv").1["status"] == "Failed")
        #expect(try submit(daemon, "segv").1["status"] == "Failed")
        #expect(try submit(daemon, "flaky").1["status"] == "Completed")
        let (status, refused) = try submit(daemon, "ok")
        #expect(status == 409, "\(refused)")
        let message = refused["error"]?.stringValue ?? "\(refused)"
        #expect(message.contains("workflow w_ok cannot start: package misbehaving 1.0.0 (sha256 "), "\(message)")
        #expect(message.contains("killed 3 worker processes within 3600 s"))
        #expect(!MisbehavingPackage.calls(in: host.directory).contains("ok 1"))

        let (_, workflows) = try daemon.request("GET", "/workflows")
        #expect(workflows["packages"]?[0]?["quarantine"]?["crashes"] == 3, "\(workflows)")
        #expect(workflows["quarantined"]?[0]?["package"] == "misbehaving")
        let (_, metrics) = try daemon.requestText("GET", "/metrics")
        #expect(metrics.contains("cloacina_packages_quarantined 1"), "\(metrics)")
        #expect(metrics.contains(#"cloacina_quarantines_total{package="misbehaving",version="1.0.0"} 1"#))
        let listed = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["workflows", "list", "--workflows", host.drop, "--data-dir", host.data]
        )
        #expect(listed.standardOutput.contains("quarantined  package misbehaving 1.0.0"), "\(listed.standardOutput)")

        // The operator ends it: the file goes, the host is told, and the reload it runs serves the version again.
        let released = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["workflows", "unquarantine", "misbehaving", "--data-dir", host.data]
        )
        #expect(released.exitStatus == 0, "\(released.standardError)")
        #expect(released.standardOutput.contains("quarantine ended: misbehaving 1.0.0"))
        #expect(try daemon.request("POST", "/admin/reload").0 == 200)
        #expect(try submit(daemon, "ok").1["status"] == "Completed")
        let again = try runCommand(
            TestEnvironment.cloacinaExecutable,
            ["workflows", "unquarantine", "misbehaving", "--data-dir", host.data]
        )
        #expect(again.exitStatus != 0)
        #expect(again.standardError.contains("no quarantined package version matches \"misbehaving\""))

        // Quarantined again, it stays quarantined across a restart, and `run` on the same data refuses it too.
        #expect(try submit(daemon, "segv").1["status"] == "Failed")
        #expect(try submit(daemon, "segv").1["status"] == "Failed")
        #expect(try submit(daemon, "flaky").1["status"] == "Completed")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        daemon = try DaemonProcess(drop: host.drop, data: host.data, arguments: arguments)
        #expect(try submit(daemon, "ok").0 == 409)
        let (run, _) = try host.run("ok", ["--tenant", "acme"])
        #expect(run.exitStatus != 0)
        #expect(run.standardError.contains("is quarantined"), "\(run.standardError)")

        // A new version of the file ends it: its workflows start again, on the new version.
        var fixed = MisbehavingPackage.package
        fixed.version = "1.0.1"
        _ = try fixed.build(in: host.drop, fileName: "libmisbehaving.so")
        #expect(try daemon.request("POST", "/admin/reload").0 == 200)
        let (_, after) = try daemon.request("GET", "/workflows")
        #expect(after["quarantined"] == [], "\(after)")
        let (okStatus, ok) = try submit(daemon, "ok")
        #expect(okStatus == 200 && ok["status"] == "Completed", "\(ok)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: host.data + "/quarantine").isEmpty)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("serve refuses a quarantine window of 0 and a negative crash count, naming the flag")
    func badOptions() throws {
        let host = try IsolationCommandTests.Host("quarantine-options")
        for (flags, text) in [
            (["--quarantine-window", "0"], "--quarantine-window must be above 0 seconds"),
            (["--quarantine-crashes=-1"], "--quarantine-crashes must not be negative, got -1"),
        ] {
            let result = try runCommand(
                TestEnvironment.cloacinaExecutable,
                ["serve", "--workflows", host.drop, "--data-dir", host.data, "--no-http"] + flags
            )
            #expect(result.exitStatus != 0)
            #expect(result.standardError.contains(text), "\(result.standardError)")
        }
    }
}
