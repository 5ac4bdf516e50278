import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Synchronization
import Testing

/// Pausing, resuming, retrying from the failure and re-running, counted by task-body invocations.
@Suite("Execution control on SQLite")
struct ExecutionControlTests {
    /// How many times each task body ran.
    final class Calls: Sendable {
        private let counts = Mutex<[String: Int]>([:])
        func record(_ task: String) { counts.withLock { $0[task, default: 0] += 1 } }
        subscript(_ task: String) -> Int { counts.withLock { $0[task, default: 0] } }
    }

    @Test("paused: no task starts, the running attempt finishes, a restart keeps the pause, resume completes it")
    func pauseAndResume() async throws {
        let calls = Calls()
        let started = Gate()
        let release = Gate()
        let package = WorkflowPackage(name: "chain", version: "1") {
            Workflow("chain") {
                WorkflowTask("a") { ctx in
                    calls.record("a")
                    started.open()
                    _ = release.wait()
                    ctx["a"] = 1
                }
                WorkflowTask("b", dependsOn: "a") { ctx in
                    calls.record("b")
                    ctx["b"] = .int(try ctx.int("a") + 1)
                }
                WorkflowTask("c", dependsOn: "b") { ctx in
                    calls.record("c")
                    ctx["c"] = .int(try ctx.int("b") + 1)
                }
            }
        }
        let directory = try TemporaryDirectory("control-pause")
        let first = try await DefaultRunnerTests.runner(directory, package)
        let id = try await first.executeAsync("chain", context: [:])
        #expect(await started.waitAsync())
        let paused = try await first.pause(id)
        #expect(paused.paused)
        #expect(try await first.pause(id).paused)  // pausing again changes nothing
        release.open()
        let settled = try await first.waitForExecution(id, untilPaused: true)
        #expect(settled.status == .running)
        #expect(settled.paused)
        #expect(settled.tasks.map(\.status) == [.completed, .pending, .pending])
        #expect(calls["a"] == 1 && calls["b"] == 0 && calls["c"] == 0)
        await first.shutdown()

        // A new runner takes the execution over and keeps it paused.
        let second = try await DefaultRunnerTests.runner(directory, package)
        _ = try await second.resumeUnfinished()
        let held = try await second.waitForExecution(id, untilPaused: true)
        #expect(held.paused && held.status == .running)
        #expect(calls["b"] == 0)
        let resumed = try await second.resume(id)
        #expect(!resumed.paused)
        let done = try await second.waitForExecution(id)
        #expect(done.status == .completed)
        #expect(done.finalContext == ["a": 1, "b": 2, "c": 3])
        #expect(calls["a"] == 1 && calls["b"] == 1 && calls["c"] == 1)
        let kinds = try await second.events(of: id).map(\.kind)
        #expect(kinds.filter { $0 == .executionPaused }.count == 1)
        #expect(kinds.filter { $0 == .executionUnpaused }.count == 1)

        await #expect { try await second.pause(id) } throws: { ($0 as? CloacinaError)?.code == .conflict }
        await #expect { try await second.resume(id) } throws: { ($0 as? CloacinaError)?.code == .conflict }
        await #expect { try await second.pause("no-such-execution") } throws: {
            ($0 as? CloacinaError)?.code == .notFound
        }
        await second.shutdown()
    }

    @Test("resuming a paused execution no live runner owns runs it in the runner that resumes it")
    func resumeTakesOver() async throws {
        let calls = Calls()
        let package = WorkflowPackage(name: "pair", version: "1") {
            Workflow("pair") {
                WorkflowTask("a") { _ in calls.record("a") }
                WorkflowTask("b", dependsOn: "a") { _ in calls.record("b") }
            }
        }
        let directory = try TemporaryDirectory("control-takeover")
        let first = try await DefaultRunnerTests.runner(directory, package)
        // Recorded, not started: nobody runs it; pause it there.
        let id = try await first.submit("pair", contextJSON: Array("{}".utf8))
        #expect(try await first.pause(id).paused)
        await first.shutdown()

        let second = try await DefaultRunnerTests.runner(directory, package) { $0.resumeUnfinished = false }
        #expect(calls["a"] == 0)
        _ = try await second.resume(id)
        let done = try await second.waitForExecution(id)
        #expect(done.status == .completed && !done.paused)
        #expect(calls["a"] == 1 && calls["b"] == 1)
        await second.shutdown()
    }

    @Test("retry reuses the outputs of completed tasks and runs the failed, skipped and never-run ones once more")
    func retryFromFailure() async throws {
        let calls = Calls()
        let broken = Atomic<Bool>(true)
        let package = WorkflowPackage(name: "orders", version: "1") {
            Workflow("orders") {
                WorkflowTask("load") { ctx in
                    calls.record("load")
                    ctx["rows"] = 3
                }
                WorkflowTask("audit") { ctx in
                    calls.record("audit")
                    ctx["audited"] = true
                }
                WorkflowTask("charge", dependsOn: "load") { ctx in
                    calls.record("charge")
                    if broken.load(ordering: .relaxed) { throw TaskFailure.failed("gateway down") }
                    ctx["charged"] = .int(try ctx.int("rows") * 10)
                }
                WorkflowTask("ship", dependsOn: "charge") { ctx in
                    calls.record("ship")
                    ctx["shipped"] = .int(try ctx.int("charged"))
                }
            }
        }
        let directory = try TemporaryDirectory("control-retry")
        let runner = try await DefaultRunnerTests.runner(directory, package)
        let failed = try await runner.execute("orders", context: ["order": "o-1"])
        #expect(failed.status == .failed)
        #expect(calls["load"] == 1 && calls["audit"] == 1 && calls["charge"] == 1 && calls["ship"] == 0)

        await #expect { try await runner.rerun("no-such-execution") } throws: {
            ($0 as? CloacinaError)?.code == .notFound
        }
        await #expect { try await runner.retry("no-such-execution") } throws: {
            ($0 as? CloacinaError)?.code == .notFound
        }

        broken.store(false, ordering: .relaxed)
        let retryID = try await runner.retry(failed.executionID)
        let retried = try await runner.waitForExecution(retryID)
        #expect(retried.status == .completed)
        #expect(retried.retryOf == failed.executionID)
        #expect(retried.rerunOf == nil)
        #expect(retried.inputContext == ["order": "o-1"])
        #expect(retried.finalContext == ["order": "o-1", "rows": 3, "audited": true, "charged": 30, "shipped": 30])
        // Completed tasks were not run again; the failed one and the one it skipped ran once more.
        #expect(calls["load"] == 1 && calls["audit"] == 1 && calls["charge"] == 2 && calls["ship"] == 1)
        let reused = try await runner.events(of: retryID).filter { $0.kind == .taskReused }.compactMap(\.taskID)
        #expect(Set(reused) == ["load", "audit"])
        #expect(try await runner.executionStatus(retryID).json["retry_of"] == .string(failed.executionID))

        // A completed execution has no failure to retry from; it can be run again from the start.
        await #expect { try await runner.retry(retryID) } throws: { ($0 as? CloacinaError)?.code == .conflict }
        let rerunID = try await runner.rerun(failed.executionID)
        let rerun = try await runner.waitForExecution(rerunID)
        #expect(rerun.status == .completed)
        #expect(rerun.rerunOf == failed.executionID && rerun.retryOf == nil)
        #expect(calls["load"] == 2 && calls["audit"] == 2 && calls["charge"] == 3 && calls["ship"] == 2)

        // The serving version works the same (embedded here, so the same one).
        let latest = try await runner.rerun(failed.executionID, latest: true)
        #expect(try await runner.waitForExecution(latest).status == .completed)
        await runner.shutdown()
    }

    @Test("a running execution cannot be retried")
    func retryRunning() async throws {
        let started = Gate()
        let release = Gate()
        let package = WorkflowPackage(name: "slow", version: "1") {
            Workflow("slow") {
                WorkflowTask("wait") { _ in
                    started.open()
                    _ = release.wait()
                }
            }
        }
        let directory = try TemporaryDirectory("control-retry-running")
        let runner = try await DefaultRunnerTests.runner(directory, package)
        let id = try await runner.executeAsync("slow", context: [:])
        #expect(await started.waitAsync())
        await #expect { try await runner.retry(id) } throws: { ($0 as? CloacinaError)?.code == .conflict }
        release.open()
        #expect(try await runner.waitForExecution(id).status == .completed)
        await runner.shutdown()
    }
}
