import Cloacina
import CloacinaDaemon
import CloacinaTestSupport
import Foundation
import Testing

/// What a reload logs about a file that fails to load: whether anything of it keeps serving.
@Suite("Daemon reload log")
struct DaemonReloadLogTests {
    @Test("a new file that fails to load is logged as serving nothing, not as keeping a previous version")
    func newBrokenFile() async throws {
        let harness = try APIHarness("reload-log")
        let capture = LogCapture()
        var configuration = harness.daemon.configuration
        configuration.logger = capture.logger
        let daemon = Daemon(configuration: configuration)
        try Data("not an ELF file".utf8).write(
            to: URL(fileURLWithPath: "\(configuration.workflowsDirectory)/libbroken.so")
        )
        try await daemon.start()
        await daemon.drain()
        let failures = capture.records.filter { $0.message.hasPrefix("package failed to load") }
        #expect(failures.map(\.message) == ["package failed to load; nothing of this file is served"])
        #expect(failures.first?.metadata["file"]?.hasSuffix("libbroken.so") == true)
        #expect(failures.first?.metadata["serving"] == nil)
    }
}
