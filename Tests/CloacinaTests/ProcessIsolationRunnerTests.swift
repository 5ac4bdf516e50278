import Cloacina
import CloacinaTestSupport
import Foundation
import Testing

@Suite("A runner with worker processes")
struct ProcessIsolationRunnerTests {
    static func runner(
        _ directory: TemporaryDirectory,
        _ invoker: ProcessTaskInvoker,
        timeout: Duration = .seconds(300)
    ) async throws -> DefaultRunner {
        let package = try ProcessTaskInvokerTests.misbehaving(directory)
        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file("state.db"))")
        configuration.packageCacheDirectory = directory.file("cache")
        configuration.packages = [package]
        configuration.invoker = invoker
        configuration.taskTimeout = timeout
        return try await DefaultRunner.Builder(configuration: configuration).build()
    }

    static func execute(
        _ runner: DefaultRunner,
        _ task: String,
        _ directory: TemporaryDirectory
    ) async throws
        -> ExecutionResult
    {
        try await runner.execute("w_\(task)", contextJSON: Array(MisbehavingPackage.context(directory).utf8))
    }

    @Test("a crash fails its attempt with the cause and the retry policy applies; other executions go on")
    func crashAndRetry() async throws {
        let directory = try TemporaryDirectory("isolated-runner")
        let invoker = ProcessTaskInvokerTests.invoker()
        defer { invoker.shutdown() }
        let runner = try await Self.runner(directory, invoker)
        async let crashed = Self.execute(runner, "segv", directory)
        async let fine = Self.execute(runner, "ok", directory)
        let (failed, completed) = try await (crashed, fine)
        #expect(failed.status == .failed)
        #expect(failed.tasks.first?.error?.hasPrefix("worker killed by SIGSEGV (Segmentation fault)") == true)
        #expect(failed.tasks.first?.attempts == 1)
        #expect(completed.status == .completed)

        // Crashes on attempt 1, succeeds on attempt 2 (a fresh worker): two invocations, two attempts.
        let flaky = try await Self.execute(runner, "flaky", directory)
        #expect(flaky.status == .completed)
        #expect(flaky.tasks.first?.attempts == 2)
        #expect(MisbehavingPackage.calls(in: directory).filter { $0.hasPrefix("flaky") } == ["flaky 1", "flaky 2"])
        #expect(invoker.crashes.total == 2)
        await runner.shutdown()
    }

    @Test("a worker killed from outside mid-task fails just that attempt; the retry completes")
    func killedFromOutside() async throws {
        let directory = try TemporaryDirectory("isolated-outside")
        try MisbehavingPackage.makeFIFO(in: directory)
        let invoker = ProcessTaskInvokerTests.invoker()
        defer { invoker.shutdown() }
        let runner = try await Self.runner(directory, invoker)
        async let execution = Self.execute(runner, "wait_kill", directory)
        let pid = try #require(await MisbehavingPackage.announcedPID(in: directory))
        kill(pid, SIGKILL)
        let result = try await execution
        #expect(result.status == .completed)
        #expect(result.tasks.first?.attempts == 2)
        #expect(MisbehavingPackage.calls(in: directory) == ["wait_kill 1", "wait_kill 2"])
        await runner.shutdown()
    }

    @Test("a task that ignores its timeout fails at the timeout; its worker is killed after the grace period")
    func hardTimeout() async throws {
        let directory = try TemporaryDirectory("isolated-timeout")
        try MisbehavingPackage.makeFIFO(in: directory)
        let invoker = ProcessTaskInvokerTests.invoker(grace: .milliseconds(300))
        defer { invoker.shutdown() }
        let runner = try await Self.runner(directory, invoker, timeout: .seconds(1))
        async let execution = Self.execute(runner, "spin", directory)
        let pid = try #require(await MisbehavingPackage.announcedPID(in: directory))
        let result = try await execution
        #expect(result.status == .failed)
        #expect(result.tasks.first?.error == "timed out after 1 s")
        // The caller was answered at the timeout; the worker ends when the grace period after it passed.
        #expect(MisbehavingPackage.ended(pid))
        #expect(invoker.crashes.total == 0)
        await runner.shutdown()
    }
}
