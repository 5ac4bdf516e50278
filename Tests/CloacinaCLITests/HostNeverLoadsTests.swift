import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// With worker processes the host never maps a package image: not in `run`, not in `serve`, not when it resumes an
/// execution from the package cache after the file left the drop directory. A task reads its host's memory map
/// (`/proc/<parent>/maps`) into the scratch directory; the map must name the host's executable and never the
/// package, whose copies are named by their SHA-256.
@Suite("The host never loads package code with worker processes")
struct HostNeverLoadsTests {
    /// The host's memory map as the task saw it, checked to be the host's and free of the package.
    static func expectHostClean(_ host: IsolationCommandTests.Host, sha256: String?) throws {
        let maps = try String(contentsOfFile: host.directory.file("hostmaps"), encoding: .utf8)
        #expect(maps.contains("/cloacina"), "not the host's map:\n\(maps)")
        let sha256 = try #require(sha256)
        #expect(!maps.contains(sha256) && !maps.contains("misbehaving"), "the host mapped the package:\n\(maps)")
        try FileManager.default.removeItem(atPath: host.directory.file("hostmaps"))
    }

    @Test("run and serve: the task runs, and the host's map has no package in it")
    func runAndServe() throws {
        let host = try IsolationCommandTests.Host("never-loads")
        let (run, json) = try host.run("hostmaps")
        #expect(run.exitStatus == 0, "\(run.standardError)")
        try Self.expectHostClean(host, sha256: json["package"]?["sha256"]?.stringValue)

        let daemon = try DaemonProcess(drop: host.drop, data: host.data, arguments: ["--tenants", "acme"])
        let (status, served) = try daemon.request(
            "POST",
            "/tenants/acme/workflows?wait=true",
            body: #"{"workflow_name": "w_hostmaps", "context": \#(host.context)}"#
        )
        #expect(status == 200 && served["status"] == "Completed", "\(served)")
        try Self.expectHostClean(host, sha256: served["package"]?["sha256"]?.stringValue)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test("resumed from the package cache (the file gone from the drop directory): registered, not opened")
    func resumeFromCache() throws {
        let host = try IsolationCommandTests.Host("never-loads-cache")
        let (submitted, json) = try host.run("hostmaps", ["--tenant", "acme", "--create-tenant", "--no-wait"])
        #expect(submitted.exitStatus == 0, "\(submitted.standardError)")
        let id = try #require(json["execution_id"]?.stringValue)
        try FileManager.default.removeItem(atPath: "\(host.drop)/libmisbehaving.so")

        let daemon = try DaemonProcess(drop: host.drop, data: host.data, arguments: ["--tenants", "acme"])
        let (_, result) = try daemon.request("GET", "/tenants/acme/executions/\(id)?wait=true")
        #expect(result["status"] == "Completed", "\(result)")
        try Self.expectHostClean(host, sha256: result["package"]?["sha256"]?.stringValue)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
