import Cloacina
import CloacinaJSON
import CloacinaTestSupport
import Foundation
import InMemoryLogging
import Logging
import Testing

@Suite("Invoking tasks in process")
struct TaskInvocationTests {
    static func load(_ path: String, in directory: TemporaryDirectory) throws -> LoadedPackage {
        let report = PackageLoader(cacheDirectory: directory.file("cache")).load(file: path)
        return try #require(report.package, "\(report.error.map(String.init(describing:)) ?? "")")
    }

    static func request(_ workflow: String, _ task: String, _ context: String, attempt: Int = 1) -> TaskRequest {
        TaskRequest(
            workflow: workflow,
            task: task,
            tenant: "acme",
            executionID: "exec-1",
            attempt: attempt,
            context: Array(context.utf8)
        )
    }

    static func output(_ result: TaskResult) throws -> JSONValue {
        guard case .succeeded(let bytes?) = result else {
            Issue.record("expected output, got \(result)")
            return .null
        }
        return try JSONValue(parsing: bytes)
    }

    @Test("the C example adds its keys to the context it receives and refuses a context that is not an object")
    func cExample() throws {
        let directory = try TemporaryDirectory("invoke-c")
        try compileC(
            ["\(TestEnvironment.repositoryRoot)/workflows/c-fingerprint/c_fingerprint.c"],
            output: directory.file("libCFingerprint.so"),
            flags: ["-shared", "-fPIC"]
        )
        let package = try Self.load(directory.file("libCFingerprint.so"), in: directory)
        let invoker = InProcessTaskInvoker()
        let measured = try Self.output(
            invoker.invoke(
                Self.request("fingerprint", "measure", #"{"a": 1}"#),
                in: package,
                cancellation: TaskCancellation()
            )
        )
        #expect(measured == ["a": 1, "input_bytes": 8])
        let empty = try Self.output(
            invoker.invoke(Self.request("fingerprint", "measure", "{ }"), in: package, cancellation: TaskCancellation())
        )
        #expect(empty == ["input_bytes": 3])
        let hashed = try Self.output(
            invoker.invoke(Self.request("fingerprint", "checksum", "{}"), in: package, cancellation: TaskCancellation())
        )
        #expect(hashed == ["fnv1a": "08f44b07b5901a25"])
        let refused = invoker.invoke(
            Self.request("fingerprint", "measure", "[1]"),
            in: package,
            cancellation: TaskCancellation()
        )
        #expect(refused == .badInput("the context is not a JSON object"))
        #expect(package.workflow(named: "fingerprint")?.task("checksum")?.retry.maxAttempts == 3)
        #expect(package.workflow(named: "fingerprint")?.task("checksum")?.timeout == .seconds(5))
    }

    @Test("the Swift example runs through the SDK: reads and writes the context, reports bad input")
    func swiftExample() throws {
        let directory = try TemporaryDirectory("invoke-swift")
        let package = try Self.load(TestEnvironment.exampleLibrary("TextAnalytics"), in: directory)
        #expect(package.info.isSwift)
        #expect(package.info.toolchain == PackageLoader.hostToolchain)
        let invoker = InProcessTaskInvoker()
        let split = try Self.output(
            invoker.invoke(
                Self.request("word_stats", "split_words", #"{"text": "Hello hello, World"}"#),
                in: package,
                cancellation: TaskCancellation()
            )
        )
        #expect(split["words"] == ["hello", "hello", "world"])
        #expect(split["text"] == "Hello hello, World")

        let context =
            #"{"word_count": 3, "distinct_words": 2, "longest_word": "hello", "top_letters": [{"letter": "l"}, {"letter": "o"}]}"#
        let report = try Self.output(
            invoker.invoke(Self.request("word_stats", "report", context), in: package, cancellation: TaskCancellation())
        )
        #expect(report["summary"] == "3 words (2 distinct); longest \"hello\"; most common letters lo")

        let noWords = invoker.invoke(
            Self.request("word_stats", "split_words", #"{"text": "1234"}"#),
            in: package,
            cancellation: TaskCancellation()
        )
        #expect(noWords == .badInput("\"text\" contains no words"))
        let wrongType = invoker.invoke(
            Self.request("word_stats", "count_words", #"{"words": 5}"#),
            in: package,
            cancellation: TaskCancellation()
        )
        #expect(wrongType == .badInput("\"words\" must be an array, got number"))
        let notJSON = invoker.invoke(
            Self.request("word_stats", "count_words", "{"),
            in: package,
            cancellation: TaskCancellation()
        )
        guard case .badInput(let message) = notJSON else {
            Issue.record("expected bad input, got \(notJSON)")
            return
        }
        #expect(message.hasPrefix("the context is not valid JSON"))
    }

    @Test("statuses map to results; unknown statuses fail; cancellation reaches the task")
    func statuses() throws {
        let directory = try TemporaryDirectory("invoke-status")
        var results: [Int: TaskResult] = [:]
        for status in [1, 2, 3, 99] {
            var package = CorpusPackage()
            package.name = "status\(status)"
            package.taskStatus = status
            let loaded = try Self.load(try package.build(in: directory.path, fileName: "s\(status).so"), in: directory)
            results[status] = InProcessTaskInvoker().invoke(
                Self.request("corpus_flow", "only", "{}", attempt: 2),
                in: loaded,
                cancellation: TaskCancellation()
            )
        }
        let body = #"{"impl":"v1","task":"only","attempt":2}"#
        #expect(results[1] == .failed(body))
        #expect(results[2] == .retryable(body))
        #expect(results[3] == .badInput(body))
        #expect(results[99] == .failed("unknown task status 99: " + body))

        let loaded = try Self.load(try CorpusPackage().build(in: directory.path, fileName: "cancel.so"), in: directory)
        let cancellation = TaskCancellation()
        cancellation.cancel()
        #expect(
            InProcessTaskInvoker().invoke(
                Self.request("corpus_flow", "only", "{}"),
                in: loaded,
                cancellation: cancellation
            ) == .failed("cancelled")
        )
        #expect(
            InProcessTaskInvoker().invoke(
                Self.request("corpus_flow", "nope", "{}"),
                in: loaded,
                cancellation: TaskCancellation()
            ) == .failed("package corpus has no task \"nope\" in workflow \"corpus_flow\"")
        )
    }

    @Test("a task's log lines carry tenant, workflow, task, execution and attempt")
    func logging() throws {
        let directory = try TemporaryDirectory("invoke-log")
        var package = CorpusPackage()
        package.name = "logging"
        let loaded = try Self.load(try package.build(in: directory.path, fileName: "log.so"), in: directory)
        let handler = InMemoryLogHandler()
        let invoker = InProcessTaskInvoker(logger: Logger(label: "test") { _ in handler })
        _ = invoker.invoke(
            Self.request("corpus_flow", "only", "{}", attempt: 3),
            in: loaded,
            cancellation: TaskCancellation()
        )
        let entry = try #require(handler.entries.first { $0.message.description == "corpus task ran" })
        #expect(entry.level == .info)
        #expect(entry.metadata["tenant"] == "acme")
        #expect(entry.metadata["workflow"] == "corpus_flow")
        #expect(entry.metadata["task"] == "only")
        #expect(entry.metadata["execution"] == "exec-1")
        #expect(entry.metadata["attempt"] == "3")
    }

    @Test(
        "a user's package built outside this one by build-workflows: a retryable failure, then success",
        .enabled(if: TestEnvironment.variable("CLOACINA_TEST_DROP_DIR") != nil, "set by scripts/test.sh")
    )
    func userPackage() throws {
        let directory = try TemporaryDirectory("invoke-user")
        let drop = try #require(TestEnvironment.variable("CLOACINA_TEST_DROP_DIR"))
        let package = try Self.load("\(drop)/libReports.so", in: directory)
        #expect(package.workflow(named: "nightly_report")?.task("upload")?.retry.condition == .retryableOnly)
        let invoker = InProcessTaskInvoker()
        let first = invoker.invoke(
            Self.request("nightly_report", "upload", #"{"rows": [1]}"#),
            in: package,
            cancellation: TaskCancellation()
        )
        #expect(first == .retryable("storage is busy"))
        let second = try Self.output(
            invoker.invoke(
                Self.request("nightly_report", "upload", #"{"rows": [1]}"#, attempt: 2),
                in: package,
                cancellation: TaskCancellation()
            )
        )
        #expect(second == ["rows": [1], "uploaded": true])
    }
}
