import Cloacina
import CloacinaDaemon
import CloacinaJSON
import CloacinaTestSupport
import Foundation
import Testing

/// Slow package loads do not hold up the start: the host serves what loaded and reports the rest pending.
@Suite("Daemon: slow package loads")
struct DaemonPendingLoadTests {
    @Test(
        "the start serves what loaded while a slow file is pending; the slow file serves once it loads",
        .timeLimit(.minutes(2))
    )
    func slowFileIsPending() async throws {
        let directory = try TemporaryDirectory("daemon-pending")
        let workflows = directory.file("workflows")
        try FileManager.default.createDirectory(atPath: workflows, withIntermediateDirectories: true)
        let gate = directory.file("gate")
        #expect(mkfifo(gate, 0o600) == 0)
        // Held open for reading and writing (which never blocks), so the inits' opens never block either: they
        // wait in read for the bytes the test writes.
        let writer = open(gate, O_RDWR)
        #expect(writer >= 0)
        defer { close(writer) }
        var fast = CorpusPackage()
        fast.name = "fast"
        fast.workflows = [("fast_flow", [.init("only")])]
        try fast.build(in: workflows, fileName: "fast.so")
        var slow = CorpusPackage()
        slow.name = "slow"
        slow.workflows = [("slow_flow", [.init("only")])]
        // Every init (the probe's, then this process's) waits for one byte from the test.
        slow.extraDeclarations = "#include <fcntl.h>\n#include <unistd.h>"
        slow.initPrologue = """
            { int gate = open("\(gate)", O_RDONLY); char byte; if (gate >= 0) { read(gate, &byte, 1); close(gate); } }
            """
        try slow.build(in: workflows, fileName: "slow.so")

        var configuration = Daemon.Configuration(
            workflowsDirectory: workflows,
            storage: .sqliteFiles(directory: directory.file("tenants")),
            tenants: .only(["acme"])
        )
        configuration.runner.packageCacheDirectory = directory.file("packages")
        configuration.probe = PackageProbe(
            cloacina: TestEnvironment.cloacinaExecutable,
            cacheDirectory: directory.file("probe-cache"),
            slowAfter: .milliseconds(300)
        )
        configuration.logger = APIHarness.quiet
        let daemon = Daemon(configuration: configuration)

        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await daemon.runPendingLoads() }
            try await daemon.start()
            let first = try #require(daemon.lastReload)
            #expect(first.loaded == ["\(workflows)/fast.so"])
            try #require(first.pending == ["\(workflows)/slow.so"], "\(first.json)")
            #expect(first.json["pending"] == .array([.string("\(workflows)/slow.so")]))
            #expect(daemon.registry.currentPackages.map(\.info.name) == ["fast"])
            let slowState = daemon.workflowsJSON()["packages"]?.arrayValue?.first {
                $0["file"]?.stringValue == "\(workflows)/slow.so"
            }
            #expect(slowState?["status"] == "pending")
            #expect(daemon.loadingFiles == ["\(workflows)/slow.so"])

            // Let the slow init go, in the probe and then in this process: one byte each.
            #expect(write(writer, "ab", 2) == 2)
            // The reload that serves it comes from runPendingLoads once the loads finish.
            while daemon.lastReload?.loaded.contains("\(workflows)/slow.so") != true { await Task.yield() }
            #expect(daemon.registry.currentPackages.map(\.info.name).sorted() == ["fast", "slow"])
            let last = try #require(daemon.lastReload)
            #expect(last.loaded == ["\(workflows)/slow.so"])
            #expect(last.pending.isEmpty)
            #expect(daemon.loadingFiles.isEmpty)
            await daemon.drain()
        }
    }
}
