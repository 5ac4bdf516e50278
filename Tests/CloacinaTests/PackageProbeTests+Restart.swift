import Cloacina
import CloacinaTestSupport
import Foundation
import Testing

extension PackageProbeTests {
    @Test("a loading process that starts without its channel loaded nothing: its file is tried again, not blamed")
    func restartsWithoutChannel() throws {
        let directory = try TemporaryDirectory("probe-restart")
        // The first process exits as a worker without its channel does, before loading; the next is the real one.
        let first = directory.file("first-ran")
        let wrapper = directory.file("cloacina-wrapper")
        try Self.writeScript(
            wrapper,
            """
            #!/bin/sh
            if [ ! -e '\(first)' ]; then : > '\(first)'; exit 2; fi
            exec '\(TestEnvironment.cloacinaExecutable)' "$@"
            """
        )
        var package = CorpusPackage()
        package.name = "restarted"
        let file = try package.build(in: directory.path, fileName: "restarted.so")
        let probe = PackageProbe(cloacina: wrapper, cacheDirectory: directory.file("cache"), timeout: .seconds(60))
        let report = probe.load(file: file)
        #expect(FileManager.default.fileExists(atPath: first))
        #expect(report.isLoaded, "\(String(describing: report.error))")
        #expect(report.workflows.map(\.name) == ["corpus_flow"])
    }

    @Test("a loading process that keeps exiting without its channel is reported, not tried for ever")
    func givesUpWithoutChannel() throws {
        let directory = try TemporaryDirectory("probe-no-channel")
        let wrapper = directory.file("cloacina-wrapper")
        try Self.writeScript(wrapper, "#!/bin/sh\nexit 2\n")
        var package = CorpusPackage()
        package.name = "never"
        let file = try package.build(in: directory.path, fileName: "never.so")
        let probe = PackageProbe(cloacina: wrapper, cacheDirectory: directory.file("cache"), timeout: .seconds(60))
        let report = probe.load(file: file)
        #expect(!report.isLoaded)
        #expect(report.error?.reason.contains("exited with status 2") == true, "\(String(describing: report.error))")
    }

    /// Writes an executable script through a close-on-exec descriptor, so that no child another test starts
    /// meanwhile holds it open for writing (which would make running it fail with ETXTBSY).
    static func writeScript(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw CocoaError(.fileWriteUnknown) }
    }
}
