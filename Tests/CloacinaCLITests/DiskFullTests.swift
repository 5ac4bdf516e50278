import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// A host whose SQLite directory fills up: executions in flight are neither lost nor left `Running` for ever, and
/// new submissions are refused with 503 until the store can be written again.
@Suite("A full disk under a live host")
struct DiskFullTests {
    @Test(
        "executions in flight finish once space returns; submissions meanwhile get 503",
        .enabled(if: getuid() == 0, "mounting a small file system needs root")
    )
    func diskFull() throws {
        let fixture = try ServeCommandTests.Fixture("disk-full")
        try fixture.build("v1", version: "1.0.0")
        try FileManager.default.createDirectory(atPath: fixture.data, withIntermediateDirectories: true)
        let mounted = try runCommand("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", fixture.data])
        try #require(mounted.exitStatus == 0, "mount failed: \(mounted.standardError)")
        defer { _ = try? runCommand("/usr/bin/env", ["umount", "-l", fixture.data]) }

        let daemon = try DaemonProcess(drop: fixture.drop, data: fixture.data, arguments: ["--tenants", "acme"])
        let ids = try (0..<5).map { _ in try ServeCommandTests.submit(daemon) }
        fixture.awaitStarted(5)

        // Fill the file system to the last block.
        let filler = "\(fixture.data)/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        try #require(fd >= 0)
        let chunk = [UInt8](repeating: 0, count: 64 << 10)
        var size = chunk.count
        while size > 0 {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, size) }
            if written < 0 { size /= 2 }
        }
        close(fd)

        // The held tasks finish; their results cannot be written.
        fixture.release(5)
        #expect(daemon.waitForLog("the store cannot be written"))
        let (refused, body) = try daemon.request(
            "POST",
            "/tenants/acme/workflows",
            body: #"{"workflow_name": "flow"}"#
        )
        #expect(refused == 503, "\(body)")

        // Space returns: the runner takes its executions back and finishes them; new ones are taken again.
        try FileManager.default.removeItem(atPath: filler)
        #expect(daemon.waitForLog("the store can be written again"))
        for id in ids {
            let result = try ServeCommandTests.result(daemon, id)
            #expect(result["status"] == "Completed", "\(result)")
            // Their results were kept while the store refused them: nothing ran again.
            #expect(result["tasks"]?.arrayValue?.first?["attempts"] == 1)
        }
        fixture.release(1)
        let fresh = try ServeCommandTests.result(daemon, try ServeCommandTests.submit(daemon))
        #expect(fresh["status"] == "Completed")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
