import CloacinaSDK
import CloacinaStorage
import CloacinaTestSupport
import Synchronization
import Testing

@testable import Cloacina

/// The runtime around one execution: waiting callers that give up, observers that call back, and shutdown while
/// tasks run.
@Suite("Execution driver and shutdown")
struct ExecutionDriverTests {
    /// `first` → `second`; `first` holds until `release` opens.
    static func package(_ release: Gate, started: Gate) -> WorkflowPackage {
        WorkflowPackage(name: "held", version: "1") {
            Workflow("held") {
                WorkflowTask("first", retry: RetryPolicy(maxAttempts: 2)) { ctx in
                    started.open()
                    _ = release.wait(seconds: 60)
                    ctx["first"] = true
                }
                WorkflowTask("second", dependsOn: "first") { ctx in ctx["second"] = true }
            }
        }
    }

    static func runner(
        _ directory: TemporaryDirectory,
        _ package: WorkflowPackage,
        observer: (@Sendable (ExecutionEvent) -> Void)? = nil
    ) async throws -> DefaultRunner {
        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file("t.db"))")
        configuration.packageCacheDirectory = directory.file("packages")
        configuration.embeddedPackages = [package]
        configuration.observer = observer
        return try await DefaultRunner(configuration: configuration)
    }

    @Test("a caller waiting for an execution can be cancelled; the execution goes on and can be waited for again")
    func cancelledWait() async throws {
        let (release, started) = (Gate(), Gate())
        let directory = try TemporaryDirectory("driver-cancel")
        let runner = try await Self.runner(directory, Self.package(release, started: started))
        let id = try await runner.executeAsync("held")
        #expect(await started.waitAsync())
        let waiter = Task { try await runner.waitForExecution(id) }
        waiter.cancel()
        await #expect { try await waiter.value } throws: { ($0 as? CloacinaError)?.code == .cancelled }
        release.open()
        let result = try await runner.waitForExecution(id)
        #expect(result.status == .completed)
        await runner.shutdown()
    }

    @Test("observers hear every event outside the driver's lock, so they may ask the driver for its state")
    func observerCallsBack() async throws {
        let (release, started) = (Gate(), Gate())
        release.open()
        let box = Mutex<DefaultRunner?>(nil)
        let seen = Mutex<[String]>([])
        let directory = try TemporaryDirectory("driver-observer")
        let runner = try await Self.runner(directory, Self.package(release, started: started)) { event in
            // Takes the driver's lock: under it, this would deadlock.
            let status = box.withLock { $0 }?.activeDriver(event.executionID)?.snapshot().0.status
            seen.withLock { $0.append("\(event.kind.rawValue) \(status.map { "\($0)" } ?? "-")") }
        }
        box.withLock { $0 = runner }
        let result = try await runner.execute("held")
        #expect(result.status == .completed)
        let kinds = seen.withLock { $0 }.map { $0.split(separator: " ")[0] }
        #expect(kinds.contains("execution_started") && kinds.contains("execution_completed"))
        await runner.shutdown()
    }

    @Test("shutdown lets a running execution finish within its time: the next task starts, the execution completes")
    func drainFinishesExecutions() async throws {
        let (release, started) = (Gate(), Gate())
        let directory = try TemporaryDirectory("driver-drain")
        let runner = try await Self.runner(directory, Self.package(release, started: started))
        let id = try await runner.executeAsync("held")
        #expect(await started.waitAsync())
        let stopping = Task { await runner.shutdown(timeout: .seconds(60)) }
        // New executions are refused as soon as shutdown began; the running one goes on.
        while !runner.isClosed { await Task.yield() }
        await #expect { try await runner.executeAsync("held") } throws: {
            ($0 as? CloacinaError)?.code == .shuttingDown
        }
        release.open()
        await stopping.value
        let reopened = try await Self.runner(directory, Self.package(release, started: started))
        let result = try await reopened.executionStatus(id)
        #expect(result.status == .completed)
        #expect(result.finalContext == ["first": true, "second": true])
        await reopened.shutdown()
    }

    @Test("past the shutdown time no new attempt starts: the next task is left for the next runner")
    func deadlineStopsDispatch() async throws {
        let (release, started) = (Gate(), Gate())
        let directory = try TemporaryDirectory("driver-deadline")
        let package = Self.package(release, started: started)
        let runner = try await Self.runner(directory, package)
        let id = try await runner.executeAsync("held")
        #expect(await started.waitAsync())
        await runner.shutdown(timeout: .zero)
        // The abandoned attempt returns into a stopped runner (nothing more starts); the next runner's attempt
        // goes straight through.
        release.open()
        release.open()
        let reopened = try await Self.runner(directory, package)
        let result = try await reopened.waitForExecution(id)
        #expect(result.status == .completed)
        let events = try await reopened.events(of: id)
        let starts = events.filter { $0.kind == .taskStarted }.map { "\($0.taskID ?? "") \($0.attempt ?? 0)" }
        // first ran twice (interrupted, then again), second once, and only under the second runner.
        #expect(starts == ["first 1", "first 2", "second 1"], "\(starts)")
        await reopened.shutdown()
    }
}
