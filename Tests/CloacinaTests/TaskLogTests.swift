import Cloacina
import CloacinaTestSupport
import Foundation
import InMemoryLogging
import Logging
import Testing

/// The log lines tasks of a real package log, as runners store them: in process and in worker processes, on every
/// store.
@Suite("Task logs")
struct TaskLogTests {
    /// A C package whose task logs a debug line, a warning with a connection string's password in it, a line of
    /// 12,000 bytes and a line naming its attempt, then (through the corpus body) "corpus task ran"; the first
    /// attempt then fails (retryable), the second completes.
    static func loggingPackage(extraLines: Int = 0) -> CorpusPackage {
        var package = CorpusPackage()
        package.name = "logging"
        package.workflows = [("logging_flow", [.init("talk", retry: (3, 1, 1))])]
        package.taskPrologue = """
            host->log(call, CLOACINA_LOG_DEBUG, "step one");
            host->log(call, CLOACINA_LOG_WARNING, "connecting to postgresql://app:hunter2@db.example/prod");
            {
                char big[12001];
                memset(big, 'x', sizeof big - 1);
                big[sizeof big - 1] = 0;
                host->log(call, CLOACINA_LOG_ERROR, big);
            }
            {
                char line[64];
                snprintf(line, sizeof line, "attempt %u", call->attempt);
                host->log(call, CLOACINA_LOG_INFO, line);
                for (int i = 0; i < \(extraLines); i++) {
                    snprintf(line, sizeof line, "extra %d", i);
                    host->log(call, CLOACINA_LOG_TRACE, line);
                }
            }
            if (call->attempt == 1) return CLOACINA_TASK_RETRYABLE;
            """
        return package
    }

    static let quiet = Logger(label: "cloacina.tests.logs") { _ in SwiftLogNoOpLogHandler() }

    /// The stores a runner test runs on: SQLite, and PostgreSQL when the test run has a server.
    static let stores = ["SQLite"] + (StoreBackend.postgresURL == nil ? [] : ["PostgreSQL"])

    /// A runner on `store` with the logging package loaded; `cleanup` drops what it made.
    static func runner(
        _ store: String,
        _ directory: TemporaryDirectory,
        package: CorpusPackage = loggingPackage(),
        configure: (inout DefaultRunner.Configuration) -> Void = { _ in }
    ) async throws -> (DefaultRunner, cleanup: @Sendable () -> Void) {
        let path = try package.build(in: directory.path, fileName: "logging.so")
        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file("state.db"))")
        var cleanup: @Sendable () -> Void = {}
        if store == "PostgreSQL", let url = StoreBackend.postgresURL {
            let schema = StoreBackend.uniqueSchemaName("logs")
            configuration = DefaultRunner.Configuration(databaseURL: url)
            configuration.schema = schema
            cleanup = { StoreBackend.dropSchema(schema, url: url) }
        }
        configuration.packageCacheDirectory = directory.file("cache")
        configuration.packages = [try TaskInvocationTests.load(path, in: directory)]
        configuration.logger = Self.quiet
        configuration.invoker = InProcessTaskInvoker(logger: Self.quiet)
        configure(&configuration)
        return (try await DefaultRunner.Builder(configuration: configuration).build(), cleanup)
    }

    /// Every line of `id`, read page by page.
    static func lines(_ runner: DefaultRunner, _ id: String) async throws -> [TaskLogLine] {
        var query = TaskLogQuery(executionID: id, limit: 3)
        var lines: [TaskLogLine] = []
        while true {
            let page = try await runner.taskLogs(query).lines
            guard let last = page.last else { return lines }
            lines += page
            query.after = last.sequence
        }
    }

    @Test(
        "every line a task logs is stored with its level, time and attempt, in order, and still logged",
        arguments: stores
    )
    func inProcess(_ store: String) async throws {
        let directory = try TemporaryDirectory("logs-in-process")
        let handler = InMemoryLogHandler()
        let (runner, cleanup) = try await Self.runner(store, directory) {
            $0.invoker = InProcessTaskInvoker(logger: Logger(label: "task") { _ in handler })
        }
        defer { cleanup() }
        let before = Timestamp.now()
        let result = try await runner.execute("logging_flow", contextJSON: Array("{}".utf8))
        #expect(result.status == .completed)
        #expect(result.tasks.first?.attempts == 2)
        let lines = try await Self.lines(runner, result.executionID)
        Self.expectAttempts(lines)
        #expect(lines.allSatisfy { $0.taskID == "talk" && $0.at >= before && $0.at <= (result.completedAt ?? .now()) })
        #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.sequence < $1.sequence && $0.at <= $1.at })
        // The host's logger still gets the lines its level shows, with the call's metadata.
        #expect(handler.entries.filter { $0.message.description == "corpus task ran" }.count == 1)
        #expect(handler.entries.contains { $0.message.description == "attempt 2" && $0.metadata["attempt"] == "2" })
        await runner.shutdown()
    }

    @Test(
        "a worker process's lines are stored as the in-process ones are, also those below the logger's level",
        arguments: stores
    )
    func workerProcesses(_ store: String) async throws {
        let directory = try TemporaryDirectory("logs-isolated")
        let handler = InMemoryLogHandler()
        let invoker = ProcessTaskInvokerTests.invoker(logs: handler)
        defer { invoker.shutdown() }
        let (runner, cleanup) = try await Self.runner(store, directory) { $0.invoker = invoker }
        defer { cleanup() }
        let result = try await runner.execute("logging_flow", contextJSON: Array("{}".utf8))
        #expect(result.status == .completed)
        Self.expectAttempts(try await Self.lines(runner, result.executionID))
        // The host's logger still gets the lines its level shows.
        #expect(handler.entries.contains { $0.message.description == "attempt 2" && $0.metadata["attempt"] == "2" })
        #expect(!handler.entries.contains { $0.message.description == "step one" })
        await runner.shutdown()
    }

    /// The lines of a run of ``loggingPackage(extraLines:)``: attempts 1 and 2, each of debug, warning (redacted),
    /// error (cut), info "attempt N" lines, the second also "corpus task ran".
    static func expectAttempts(_ lines: [TaskLogLine]) {
        let first = lines.filter { $0.attempt == 1 }
        let second = lines.filter { $0.attempt == 2 }
        #expect(lines.map(\.attempt) == first.map { _ in 1 } + second.map { _ in 2 }, "attempts in order")
        #expect(first.map(\.level) == [.debug, .warning, .error, .info])
        #expect(second.map(\.level) == [.debug, .warning, .error, .info, .info])
        #expect(first.map(\.message).first == "step one")
        #expect(first.count > 3 && first[3].message == "attempt 1")
        #expect(second.map(\.message).last == "corpus task ran")
        // The password is redacted as in every other message; the 12,000-byte line is cut to 8 KiB and says so.
        #expect(first.count > 1 && first[1].message == "connecting to postgresql://app:***@db.example/prod")
        #expect(!lines.contains { $0.message.contains("hunter2") })
        let cut = first.count > 2 ? first[2].message : ""
        let kept = cut.prefix { $0 == "x" }.count
        #expect(kept == 8192 && cut.dropFirst(kept) == "… [line cut: 12000 bytes, the limit is 8192]")
    }

    @Test("lines over the bound are counted, not stored, and the count is read back", arguments: stores)
    func bound(_ store: String) async throws {
        let directory = try TemporaryDirectory("logs-bound")
        let (runner, cleanup) = try await Self.runner(store, directory, package: Self.loggingPackage(extraLines: 20)) {
            $0.maximumLogLines = 6
            $0.maximumLogLineBytes = 100
        }
        defer { cleanup() }
        let result = try await runner.execute("logging_flow", contextJSON: Array("{}".utf8))
        #expect(result.status == .completed)
        let page = try await runner.taskLogs(TaskLogQuery(executionID: result.executionID))
        // Each attempt keeps its first six lines: four of the prologue and two extra ones; attempt 1 drops the
        // other 18 extra, attempt 2 those and "corpus task ran".
        #expect(page.lines.count == 12)
        #expect(
            page.lines.map(\.message).filter { $0.hasPrefix("extra") } == ["extra 0", "extra 1", "extra 0", "extra 1"]
        )
        #expect(page.dropped == ["talk": 18 + 19])
        let cut = page.lines.count > 2 ? page.lines[2].message : ""
        #expect(cut == String(repeating: "x", count: 100) + "… [line cut: 12000 bytes, the limit is 100]")
        let second = try await runner.taskLogs(
            TaskLogQuery(executionID: result.executionID, taskID: "talk", attempt: 2)
        )
        #expect(second.lines.count == 6 && second.lines.allSatisfy { $0.attempt == 2 })
        await runner.shutdown()
    }

    @Test("with a bound of no lines every line is only counted; unknown executions and tasks are not found")
    func noLinesKept() async throws {
        let directory = try TemporaryDirectory("logs-none")
        let (runner, cleanup) = try await Self.runner("SQLite", directory, package: CorpusPackage()) {
            $0.maximumLogLines = 0
        }
        defer { cleanup() }
        let result = try await runner.execute("corpus_flow", contextJSON: Array("{}".utf8))
        #expect(result.status == .completed)
        // With no line kept, the one line the corpus task logs is only counted.
        let page = try await runner.taskLogs(TaskLogQuery(executionID: result.executionID))
        #expect(page.lines.isEmpty && page.dropped == ["only": 1])
        await #expect(throws: CloacinaError.self) { try await runner.taskLogs(TaskLogQuery(executionID: "nope")) }
        await #expect(throws: CloacinaError.self) {
            try await runner.taskLogs(TaskLogQuery(executionID: result.executionID, taskID: "nope"))
        }
        await runner.shutdown()
    }

    @Test("the lines an attempt logged before it timed out are stored with the timeout")
    func timedOut() async throws {
        let directory = try TemporaryDirectory("logs-timeout")
        var package = CorpusPackage()
        package.extraDeclarations = "#include <unistd.h>"
        package.taskPrologue = """
            host->log(call, CLOACINA_LOG_INFO, "waiting");
            while (!host->is_cancelled(call)) usleep(1000);
            host->log(call, CLOACINA_LOG_INFO, "too late");
            """
        let (runner, cleanup) = try await Self.runner("SQLite", directory, package: package) {
            $0.taskTimeout = .seconds(1)
        }
        defer { cleanup() }
        let result = try await runner.execute("corpus_flow", contextJSON: Array("{}".utf8))
        #expect(result.status == .failed)
        #expect(result.tasks.first?.error == "timed out after 1 s")
        let page = try await runner.taskLogs(TaskLogQuery(executionID: result.executionID))
        #expect(page.lines.map(\.message) == ["waiting"])
        await runner.shutdown()
    }

    @Test("following an execution's logs delivers every line once, then ends with the execution")
    func follow() async throws {
        let directory = try TemporaryDirectory("logs-follow")
        let (runner, cleanup) = try await Self.runner("SQLite", directory)
        defer { cleanup() }
        let id = try await runner.executeAsync("logging_flow", context: [:])
        var followed: [TaskLogLine] = []
        for try await page in try await runner.followTaskLogs(TaskLogQuery(executionID: id, limit: 4)) {
            followed += page.lines
        }
        #expect(try await runner.executionStatus(id).status == .completed)
        Self.expectAttempts(followed)
        await runner.shutdown()
    }
}
