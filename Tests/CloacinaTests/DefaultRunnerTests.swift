import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Synchronization
import Testing

/// A one-shot signal between a task (on a runner thread) and a test: set once, waited for with a deadline that
/// only matters when the code under test is broken.
final class Gate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func open() { semaphore.signal() }

    /// Waits until opened; false when `seconds` passed first.
    func wait(seconds: Double = 120) -> Bool { semaphore.wait(timeout: .now() + seconds) == .success }

    /// Waits from async code without blocking the caller's thread.
    func waitAsync(seconds: Double = 120) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.wait(seconds: seconds)) }
        }
    }
}

@Suite("DefaultRunner on SQLite")
struct DefaultRunnerTests {
    static func runner(
        _ directory: TemporaryDirectory,
        _ packages: WorkflowPackage...,
        database: String = "state.db",
        configure: (inout DefaultRunner.Configuration) -> Void = { _ in }
    ) async throws -> DefaultRunner {
        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file(database))")
        configuration.packageCacheDirectory = directory.file("packages")
        configuration.embeddedPackages = packages
        configure(&configuration)
        return try await DefaultRunner.Builder(configuration: configuration).build()
    }

    @Test("a fan-out/fan-in workflow compiled into the program completes with a deterministic final context")
    func fanOut() async throws {
        let package = WorkflowPackage(name: "fan", version: "1") {
            Workflow("fan") {
                WorkflowTask("root") { ctx in ctx["n"] = 1 }
                for branch in ["b1", "b2", "b3"] {
                    WorkflowTask(branch, dependsOn: "root") { ctx in
                        ctx[branch] = .int(try ctx.int("n") + 1)
                        ctx["last"] = .string(branch)
                    }
                }
                WorkflowTask("join", dependsOn: "b3", "b1", "b2") { ctx in
                    ctx["seen_last"] = ctx["last"]
                }
            }
        }
        let directory = try TemporaryDirectory("runner-fan")
        let runner = try await Self.runner(directory, package)
        let result = try await runner.execute("fan", context: ["input": true])
        #expect(result.status == .completed)
        #expect(result.tasks.map(\.id) == ["root", "b1", "b2", "b3", "join"])
        #expect(result.tasks.allSatisfy { $0.status == .completed && $0.attempts == 1 })
        // join merges b3, b1, b2 in that order: b2 wrote "last" last.
        #expect(result.finalContext?["seen_last"] == "b2")
        // The final context applies every task's delta in topological order, ties by declaration: b1, b2, b3,
        // join. join only read "last", so b3's write stands.
        #expect(result.finalContext?["last"] == "b3")
        #expect(result.finalContext?["input"] == true)
        #expect(result.package == PackageReference(name: "fan", version: "1", sha256: nil))
        #expect(result.json["package"]?["sha256"] == .null)

        let stored = try await runner.executionStatus(result.executionID)
        #expect(stored.status == .completed)
        #expect(stored.finalContext == result.finalContext)
        let events = try await runner.events(of: result.executionID).map(\.kind)
        #expect(events.first == .executionCreated)
        #expect(events.last == .executionCompleted)
        await runner.shutdown()
    }

    @Test("independent branches run at the same time")
    func parallelBranches() async throws {
        let left = Gate()
        let right = Gate()
        let package = WorkflowPackage(name: "parallel", version: "1") {
            Workflow("parallel") {
                WorkflowTask("left") { _ in
                    left.open()
                    guard right.wait() else { throw TaskFailure.failed("right never started while left ran") }
                }
                WorkflowTask("right") { _ in
                    right.open()
                    guard left.wait() else { throw TaskFailure.failed("left never started while right ran") }
                }
            }
        }
        let directory = try TemporaryDirectory("runner-parallel")
        let runner = try await Self.runner(directory, package)
        let result = try await runner.execute("parallel")
        #expect(result.status == .completed, "\(result.tasks.compactMap(\.error))")
        await runner.shutdown()
    }

    @Test("a failure skips dependents, a cleanup runs by trigger rule, a conditional task runs on a context value")
    func failureAndRules() async throws {
        let package = WorkflowPackage(name: "rules", version: "1") {
            Workflow("rules") {
                WorkflowTask("charge") { _ in throw TaskFailure.failed("card declined") }
                WorkflowTask("ship", dependsOn: "charge") { ctx in ctx["shipped"] = true }
                WorkflowTask("cleanup", dependsOn: "charge", trigger: .any([.taskFailed("charge")])) { ctx in
                    ctx["cleaned"] = true
                }
                WorkflowTask("vip", trigger: .all([.contextValue(key: "tier", operator: .equals, value: "gold")])) {
                    ctx in ctx["vip"] = true
                }
            }
        }
        let directory = try TemporaryDirectory("runner-rules")
        let runner = try await Self.runner(directory, package)
        let result = try await runner.execute("rules", context: ["tier": "gold"])
        #expect(result.status == .failed)
        #expect(result.error == "task charge failed: card declined")
        let status = Dictionary(uniqueKeysWithValues: result.tasks.map { ($0.id, $0.status) })
        #expect(status == ["charge": .failed, "ship": .skipped, "cleanup": .completed, "vip": .completed])
        #expect(result.finalContext == ["tier": "gold", "cleaned": true, "vip": true])

        let plain = try await runner.execute("rules", context: ["tier": "silver"])
        #expect(plain.tasks.first { $0.id == "vip" }?.status == .skipped)
        await runner.shutdown()
    }

    @Test("a retryable failure is retried under the policy and the attempts are recorded")
    func retries() async throws {
        let package = WorkflowPackage(name: "retry", version: "1") {
            Workflow("retry") {
                WorkflowTask(
                    "flaky",
                    retry: RetryPolicy(
                        maxAttempts: 3,
                        backoff: .fixed,
                        initialDelay: .milliseconds(20),
                        maxDelay: .seconds(1)
                    )
                ) { ctx in
                    guard ctx.attempt >= 3 else { throw TaskFailure.retryable("not yet (attempt \(ctx.attempt))") }
                    ctx["done_on"] = .int(ctx.attempt)
                }
                WorkflowTask("never", retry: RetryPolicy(maxAttempts: 5)) { _ in throw TaskFailure.badInput("bad row") }
            }
        }
        let directory = try TemporaryDirectory("runner-retry")
        let runner = try await Self.runner(directory, package)
        let result = try await runner.execute("retry")
        let flaky = try #require(result.tasks.first { $0.id == "flaky" })
        #expect(flaky.status == .completed)
        #expect(flaky.attempts == 3)
        #expect(result.finalContext?["done_on"] == 3)
        let never = try #require(result.tasks.first { $0.id == "never" })
        #expect(never.status == .failed)
        #expect(never.attempts == 1)
        #expect(never.error == "bad row")
        let kinds = try await runner.events(of: result.executionID).filter { $0.taskID == "flaky" }.map(\.kind)
        #expect(kinds.filter { $0 == .taskRetryScheduled }.count == 2)
        await runner.shutdown()
    }

    @Test("a task past its time limit is told to stop and fails; its late result is discarded")
    func timeout() async throws {
        let sawCancellation = Gate()
        let package = WorkflowPackage(name: "timeout", version: "1") {
            Workflow("timeout") {
                WorkflowTask("slow", timeout: .milliseconds(200)) { ctx in
                    while !ctx.isCancelled { usleep(1000) }
                    sawCancellation.open()
                    ctx["late"] = true
                }
            }
        }
        let directory = try TemporaryDirectory("runner-timeout")
        let runner = try await Self.runner(directory, package)
        let result = try await runner.execute("timeout")
        #expect(result.status == .failed)
        #expect(result.tasks[0].error == "timed out after 200 ms")
        #expect(await sawCancellation.waitAsync())
        await runner.shutdown()
        #expect(result.finalContext?["late"] == nil)
    }

    @Test("cancelling a running execution stops its task, starts nothing new, and ends it Cancelled")
    func cancel() async throws {
        let started = Gate()
        let stopped = Gate()
        let package = WorkflowPackage(name: "cancel", version: "1") {
            Workflow("cancel") {
                WorkflowTask("long") { ctx in
                    started.open()
                    while !ctx.isCancelled { usleep(1000) }
                    stopped.open()
                    throw TaskFailure.failed("stopped")
                }
                WorkflowTask("after", dependsOn: "long") { _ in }
            }
        }
        let directory = try TemporaryDirectory("runner-cancel")
        let runner = try await Self.runner(directory, package)
        let id = try await runner.executeAsync("cancel")
        #expect(await started.waitAsync())
        let result = try await runner.cancel(id, reason: "operator said stop")
        #expect(result.status == .cancelled)
        #expect(result.tasks.map(\.status) == [.cancelled, .cancelled])
        #expect(result.error == "operator said stop")
        #expect(await stopped.waitAsync())
        let again = try await runner.cancel(id)
        #expect(again.status == .cancelled)
        await runner.shutdown()
    }

    @Test("executeAsync returns at once; status, listing with filters and paging read the store")
    func asyncAndListing() async throws {
        let package = WorkflowPackage(name: "list", version: "1") {
            Workflow("ok") { WorkflowTask("a") { _ in } }
            Workflow("bad") { WorkflowTask("a") { _ in throw TaskFailure.failed("no") } }
        }
        let directory = try TemporaryDirectory("runner-list")
        let runner = try await Self.runner(directory, package)
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try await runner.executeAsync("ok")) }
        ids.append(try await runner.executeAsync("bad"))
        for id in ids { _ = try await runner.waitForExecution(id) }
        #expect(try await runner.listExecutions().count == 4)
        #expect(try await runner.listExecutions(ExecutionQuery(statuses: [.failed])).map(\.executionID) == [ids[3]])
        #expect(try await runner.listExecutions(ExecutionQuery(workflow: "ok")).count == 3)
        let page = try await runner.listExecutions(ExecutionQuery(limit: 2, offset: 1))
        #expect(page.count == 2)
        #expect(try await runner.countExecutions(ExecutionQuery(statuses: [.completed])) == 3)
        await #expect(throws: CloacinaError.self) { try await runner.executionStatus("nope") }
        await runner.shutdown()
    }

    @Test("bad requests are refused with the right code and write nothing")
    func badRequests() async throws {
        let package = WorkflowPackage(name: "bad", version: "1") { Workflow("w") { WorkflowTask("a") { _ in } } }
        let directory = try TemporaryDirectory("runner-bad")
        let runner = try await Self.runner(directory, package)
        await #expect { try await runner.execute("missing") } throws: {
            ($0 as? CloacinaError)?.code == .unknownWorkflow
        }
        await #expect { try await runner.execute("w", contextJSON: Array("[1]".utf8)) } throws: {
            ($0 as? CloacinaError)?.code == .invalidInput
        }
        await #expect { try await runner.execute("w", contextJSON: Array("{".utf8)) } throws: {
            ($0 as? CloacinaError)?.code == .invalidInput
        }
        #expect(try await runner.countExecutions() == 0)
        await runner.shutdown()
        await #expect { try await runner.execute("w") } throws: { ($0 as? CloacinaError)?.code == .shuttingDown }
        await #expect { try await DefaultRunner(databaseURL: "mysql://x") } throws: {
            ($0 as? CloacinaError)?.code == .configuration
        }
    }

    @Test("a runner resumes what a stopped runner left: the interrupted attempt runs again as the next attempt")
    func resume() async throws {
        let firstAttempt = Gate()
        let release = Gate()
        let package = WorkflowPackage(name: "resume", version: "1") {
            Workflow("resume") {
                WorkflowTask("prepare") { ctx in ctx["prepared"] = true }
                WorkflowTask("work", dependsOn: "prepare", retry: RetryPolicy(maxAttempts: 2)) { ctx in
                    if ctx.attempt == 1 {
                        firstAttempt.open()
                        // Hold the first attempt until the test is done with the first runner.
                        _ = release.wait()
                        throw TaskFailure.failed("the first attempt was abandoned")
                    }
                    ctx["worked_on_attempt"] = .int(ctx.attempt)
                }
            }
        }
        let directory = try TemporaryDirectory("runner-resume")
        let first = try await Self.runner(directory, package)
        let id = try await first.executeAsync("resume")
        #expect(await firstAttempt.waitAsync())
        await first.shutdown(timeout: .milliseconds(50))
        let left = try await Self.runner(directory, package) { $0.resumeUnfinished = false }
        #expect(try await left.executionStatus(id).status == .running)
        await left.shutdown()

        let second = try await Self.runner(directory, package)
        let result = try await second.waitForExecution(id)
        release.open()
        #expect(result.status == .completed)
        #expect(result.finalContext == ["prepared": true, "worked_on_attempt": 2])
        #expect(result.tasks.map(\.attempts) == [1, 2])
        let kinds = try await second.events(of: id).map(\.kind)
        #expect(kinds.contains(.executionResumed))
        #expect(kinds.contains(.taskRecovered))
        await second.shutdown()
    }
}
