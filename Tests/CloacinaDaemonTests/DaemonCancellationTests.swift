import Cloacina
import CloacinaHTTP
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@testable import CloacinaDaemon

#if canImport(Glibc)
import Glibc
#endif

/// Waits that end when their caller goes away: a `?wait=true` client that closes its connection, a reload caller
/// whose task is cancelled; and reloads asked for while the daemon shuts down.
@Suite("Daemon cancellation")
struct DaemonCancellationTests {
    /// Opened by the tests to let the `hold` workflow's task end.
    static let gate = DispatchSemaphore(value: 0)

    static let package = WorkflowPackage(name: "cancellation-tests", version: "1.0.0") {
        Workflow("hold") {
            WorkflowTask("wait") { _ in DaemonCancellationTests.gate.wait() }
        }
    }

    @Test("a ?wait=true client that closes its connection frees its wait and admission; the execution goes on")
    func waitingClientGoesAway() async throws {
        let directory = try TemporaryDirectory("cancel-wait")
        let daemon = try Self.daemon(in: directory, package: Self.package)
        let app = HTTPAPI.application(daemon: daemon, host: "127.0.0.1", port: 0, logger: APIHarness.quiet)
        try await daemon.start()
        do {
            try await app.test(.live) { client in
                let port = try #require(client.port)
                let body = #"{"workflow_name": "hold"}"#
                let connection = try RawConnection(port: port)
                try connection.send(
                    "POST /tenants/acme/workflows?wait=true HTTP/1.1\r\nHost: localhost\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                )
                // The waiting request holds its admission while its execution runs.
                let running = try await Self.eventually {
                    let answer = try await client.call(.get, "/tenants/acme/executions?status=Running")
                    return answer.json?["total"]?.intValue == 1
                }
                try #require(running)
                #expect(daemon.state.withLock { $0.admitting } == 1)

                connection.close()
                let freed = try await Self.eventually { daemon.state.withLock { $0.admitting } == 0 }
                #expect(freed, "the wait of a client that went away was not cancelled")
                let listing = try await client.call(.get, "/tenants/acme/executions")
                let id = try #require(listing.json?["executions"]?[0]?["execution_id"]?.stringValue)
                #expect(listing.json?["executions"]?[0]?["status"] == "Running")

                Self.gate.signal()
                let ended = try await client.waitUntilEnded(tenant: "acme", id: id)
                #expect(ended["status"] == "Completed")
            }
        } catch {
            Self.gate.signal()
            await daemon.drain()
            throw error
        }
        await daemon.drain()
        #expect(daemon.phase == .stopped)
    }

    /// A started daemon whose first reload is held in the probe (a changed file the probe keeps loading until
    /// released), and a second reload registered as waiting behind it.
    static func reloadQueuedBehindHeldOne() async throws -> (
        BlockingProbe, Daemon, Task<ReloadReport, Never>, Task<ReloadReport, Never>
    ) {
        let probe = try BlockingProbe()
        let daemon = try Self.daemon(in: probe.directory, package: nil, probe: probe.probe)
        try await daemon.start()
        try probe.install()
        let first = Task { await daemon.reload() }
        try await probe.waitUntilLoading()
        let second = Task { await daemon.reload() }
        let registered = try await Self.eventually { daemon.state.withLock { $0.waiters.count } == 1 }
        try #require(registered)
        return (probe, daemon, first, second)
    }

    @Test(
        "a reload caller cancelled while another reload runs returns at once; the reload goes on for the others",
        .timeLimit(.minutes(1))
    )
    func reloadWaitCancelled() async throws {
        let (probe, daemon, first, second) = try await Self.reloadQueuedBehindHeldOne()
        second.cancel()
        let cancelled = await second.value
        #expect(cancelled.error?.contains("stopped waiting") == true, "\(cancelled.error ?? "no error")")
        #expect(daemon.state.withLock { $0.waiters.isEmpty })

        try probe.release()
        let report = await first.value
        #expect(report.error == nil)
        #expect(report.failed.count == 1, "the probe ends without loading the file: \(report.failed)")
        #expect(daemon.state.withLock { !$0.scheduler.isRunning && $0.waiters.isEmpty })
        await daemon.drain()
    }

    @Test(
        "a reload asked for while a reload runs and the daemon drains ends with it, loading nothing",
        .timeLimit(.minutes(1))
    )
    func reloadDuringShutdown() async throws {
        let (probe, daemon, first, queued) = try await Self.reloadQueuedBehindHeldOne()
        // The daemon starts draining while a reload waits behind the running one.
        await daemon.drain()

        try probe.release()
        _ = await first.value
        let report = await queued.value
        #expect(report.error?.contains("shutting down") == true, "\(report.error ?? "no error")")
        #expect(daemon.state.withLock { !$0.scheduler.isRunning && $0.waiters.isEmpty })
        let after = await daemon.reload()
        #expect(after.error?.contains("shutting down") == true)
        #expect(probe.starts == 1, "a reload ran after the daemon drained")
    }

    /// A daemon over SQLite files in `directory` serving `acme`, with `package` compiled in.
    static func daemon(
        in directory: TemporaryDirectory,
        package: WorkflowPackage?,
        probe: PackageProbe? = nil
    ) throws -> Daemon {
        let workflows = directory.file("workflows")
        try FileManager.default.createDirectory(atPath: workflows, withIntermediateDirectories: true)
        var configuration = Daemon.Configuration(
            workflowsDirectory: workflows,
            storage: .sqliteFiles(directory: directory.file("tenants")),
            tenants: .only(["acme"])
        )
        configuration.runner.packageCacheDirectory = directory.file("packages")
        configuration.runner.embeddedPackages = package.map { [$0] } ?? []
        configuration.drainTimeout = .seconds(10)
        configuration.probe = probe
        configuration.logger = APIHarness.quiet
        return Daemon(configuration: configuration)
    }

    /// Whether `condition` holds within a bounded number of tries, yielding between them (never sleeping).
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<200_000 {
            if try await condition() { return true }
            await Task.yield()
        }
        return false
    }
}

/// A package probe that holds every load until the test releases it: the child says it started through one FIFO
/// and waits on another.
struct BlockingProbe {
    let directory: TemporaryDirectory
    let probe: PackageProbe
    private var started: String { directory.file("started") }
    private var released: String { directory.file("released") }
    private var log: String { directory.file("starts.log") }

    init() throws {
        directory = try TemporaryDirectory("blocking-probe")
        for fifo in [directory.file("started"), directory.file("released")] {
            guard mkfifo(fifo, 0o600) == 0 else { throw POSIXError(.EIO) }
        }
        let script = """
            echo started >> '\(directory.file("starts.log"))'
            echo started > '\(directory.file("started"))'
            cat '\(directory.file("released"))' > /dev/null
            """
        probe = PackageProbe(
            command: ["/bin/sh", "-c", script, "probe"],
            cacheDirectory: directory.file("probe-cache"),
            timeout: .seconds(60)
        )
    }

    /// Puts a real package file into the drop directory.
    func install() throws {
        try FileManager.default.copyItem(
            atPath: TestEnvironment.exampleLibrary("CFingerprint"),
            toPath: directory.file("workflows/libCFingerprint.so")
        )
    }

    /// Returns once the probe's child has started (a blocking open, on a thread of its own).
    func waitUntilLoading() async throws {
        let path = started
        let read = try await BlockingCall.run { () -> Int in
            let descriptor = open(path, O_RDONLY)
            defer { _ = Glibc.close(descriptor) }
            var buffer = [UInt8](repeating: 0, count: 64)
            return descriptor < 0 ? -1 : Glibc.read(descriptor, &buffer, buffer.count)
        }
        #expect(read > 0)
    }

    /// Lets the probe's child end.
    func release() throws {
        let descriptor = open(released, O_WRONLY)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        defer { _ = Glibc.close(descriptor) }
        _ = Glibc.write(descriptor, "go\n", 3)
    }

    /// How many times the probe's child started.
    var starts: Int {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count
    }
}

/// A plain TCP connection to the API, to close it mid-request.
final class RawConnection: @unchecked Sendable {
    private var descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard descriptor >= 0, connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw POSIXError(.EIO) }
    }

    func close() {
        guard descriptor >= 0 else { return }
        _ = Glibc.close(descriptor)
        descriptor = -1
    }

    deinit { close() }
}
