import Cloacina
import CloacinaDaemon
import CloacinaHTTP
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// A real daemon over SQLite files in a temporary directory, serving one embedded package to `acme` and `globex`,
/// and the HTTP API over it through Hummingbird's router test client (no port).
struct APIHarness {
    static let package = WorkflowPackage(name: "http-api-tests", version: "1.0.0") {
        Workflow("greet") {
            WorkflowTask("hello") { ctx in
                // Two lines for the task-log routes: one with a password to redact.
                ctx.log("greeting \(ctx["name"]?.stringValue ?? "world")")
                ctx.log("connecting with password=hunter2 host=db", level: .warning)
                ctx["greeting"] = .string("hello \(ctx["name"]?.stringValue ?? "world")")
            }
            WorkflowTask("shout", dependsOn: "hello") { ctx in
                ctx["shouted"] = .string(try ctx.string("greeting").uppercased())
            }
        }
        Workflow("broken") {
            WorkflowTask("fail") { _ in throw TaskFailure.failed("no luck today") }
            WorkflowTask("after", dependsOn: "fail") { _ in }
        }
        Workflow("waits") {
            // Runs until it is cancelled (it says so in its context), then ends as asked.
            WorkflowTask("until_cancelled") { ctx in
                ctx["started"] = true
                while !ctx.isCancelled { usleep(1000) }
            }
        }
    }

    static let quiet = Logger(label: "cloacina.tests.http") { _ in SwiftLogNoOpLogHandler() }

    let directory: TemporaryDirectory
    let daemon: Daemon

    init(_ label: String) throws {
        directory = try TemporaryDirectory("http-\(label)")
        let workflows = directory.file("workflows")
        try FileManager.default.createDirectory(atPath: workflows, withIntermediateDirectories: true)
        var configuration = Daemon.Configuration(
            workflowsDirectory: workflows,
            storage: .sqliteFiles(directory: directory.file("tenants")),
            tenants: .only(["acme", "globex"])
        )
        configuration.runner.packageCacheDirectory = directory.file("packages")
        configuration.runner.embeddedPackages = [Self.package]
        configuration.drainTimeout = .seconds(10)
        configuration.logger = Self.quiet
        daemon = Daemon(configuration: configuration)
    }

    /// Runs `test` against the API. Starts the daemon first when `start` is true; always drains it afterwards.
    func run(
        start: Bool = true,
        maxBodyBytes: Int = HTTPAPI.defaultMaxBodyBytes,
        logger: Logger = quiet,
        _ test: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let app = Application(router: HTTPAPI.router(daemon: daemon, maxBodyBytes: maxBodyBytes), logger: logger)
        do {
            if start { try await daemon.start() }
            try await app.test(.router, test)
        } catch {
            await daemon.drain()
            throw error
        }
        await daemon.drain()
    }
}

/// An answer of the API: status, headers, body text, and the body as JSON when it parses.
struct APIResponse {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var text: String
    var json: JSONValue?

    var contentType: String? { headers[.contentType] }
    var error: String? { json?["error"]?.stringValue }
}

extension TestClientProtocol {
    /// Sends `method uri` with `body` and collects the answer.
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        headers: HTTPFields = [:],
        body: String? = nil
    ) async throws -> APIResponse {
        try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
            response in
            let text = String(buffer: response.body)
            return APIResponse(
                status: response.status,
                headers: response.headers,
                text: text,
                json: try? JSONValue(parsing: text)
            )
        }
    }

    /// Polls `GET /tenants/{tenant}/executions/{id}` (yielding between reads, never sleeping) until the execution
    /// has ended, and returns its last answer.
    func waitUntilEnded(tenant: String, id: String) async throws -> JSONValue {
        let ended: Set<String> = ["Completed", "Failed", "Cancelled"]
        for _ in 0..<200_000 {
            let answer = try await call(.get, "/tenants/\(tenant)/executions/\(id)")
            try #require(answer.status == .ok)
            let json = try #require(answer.json)
            if let status = json["status"]?.stringValue, ended.contains(status) { return json }
            await Task.yield()
        }
        Issue.record("execution \(id) did not end")
        return .null
    }
}

/// Keeps every log record, to check what the API logs (and that it never logs bodies).
final class LogCapture: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let storage = Mutex<[Record]>([])

    var records: [Record] { storage.withLock { $0 } }

    var logger: Logger {
        var logger = Logger(label: "cloacina.tests.capture") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ record: Record) {
        storage.withLock { $0.append(record) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            capture.append(
                Record(
                    level: event.level,
                    message: event.message.description,
                    metadata: merged.mapValues { "\($0)" }
                )
            )
        }
    }
}
