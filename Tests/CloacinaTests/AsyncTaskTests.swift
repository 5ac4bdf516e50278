import Cloacina
import CloacinaSDK
import CloacinaTestSupport
import Foundation
import Synchronization
import Testing

/// `async` task bodies of the Swift SDK: run on the host thread that called the task, resumed there after
/// awaiting a timer or another thread's callback, and cancelled by the host's time limit.
@Suite("Async Swift task bodies")
struct AsyncTaskTests {
    /// Lines appended to a file, one per event of a task body: what really ran, beyond statuses.
    static func append(_ line: String, to path: String) {
        guard let file = fopen(path, "a") else { return }
        fputs(line + "\n", file)
        fclose(file)
    }

    static func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static let package = WorkflowPackage(name: "async_tasks", version: "1.0.0") {
        Workflow("awaiting") {
            WorkflowTask("wait") { ctx in
                let thread = pthread_self()
                try await Task.sleep(for: .milliseconds(try ctx.int("sleep_ms")))
                // A continuation resumed on another thread comes back to this one.
                let answer = await withCheckedContinuation { continuation in
                    DispatchQueue.global().async { continuation.resume(returning: 42) }
                }
                async let child = { pthread_equal(pthread_self(), thread) != 0 }()
                ctx["answer"] = .int(answer)
                ctx["child_same_thread"] = .bool(await child)
                ctx["same_thread"] = .bool(pthread_equal(pthread_self(), thread) != 0)
            }
        }
        Workflow("sleeping") {
            WorkflowTask("sleep", timeout: .milliseconds(300)) { ctx in
                let trace = try ctx.string("trace")
                AsyncTaskTests.append("before", to: trace)
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    AsyncTaskTests.append("cancelled", to: trace)
                    throw error
                }
                AsyncTaskTests.append("after", to: trace)
            }
        }
        Workflow("spinning") {
            WorkflowTask("spin", timeout: .milliseconds(300)) { ctx in
                let trace = try ctx.string("trace")
                do {
                    while true {
                        try Task.checkCancellation()
                        await Task.yield()
                    }
                } catch {
                    AsyncTaskTests.append("stopped", to: trace)
                    throw error
                }
            }
        }
    }

    /// Waits (up to 30 s) until `path` holds `line`: the body's own record that it ended.
    static func awaitLine(_ line: String, in path: String) async -> Bool {
        for _ in 0..<3000 {
            if lines(path).contains(line) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test("an async body awaits a timer, another thread's callback and a child task, all on the calling thread")
    func awaits() async throws {
        let directory = try TemporaryDirectory("async-awaits")
        let runner = try await DefaultRunnerTests.runner(directory, Self.package)
        let result = try await runner.execute("awaiting", context: ["sleep_ms": 20])
        #expect(result.status == .completed, "\(result.tasks.first?.error ?? "")")
        #expect(result.finalContext?["answer"] == 42)
        #expect(result.finalContext?["same_thread"] == true)
        #expect(result.finalContext?["child_same_thread"] == true)
        await runner.shutdown()
    }

    @Test("the time limit cancels an awaiting body: it ran once, up to its await, and never past it")
    func cancelledAtTimeout() async throws {
        let directory = try TemporaryDirectory("async-timeout")
        let runner = try await DefaultRunnerTests.runner(directory, Self.package)
        let trace = directory.file("trace")
        let result = try await runner.execute("sleeping", context: ["trace": .string(trace)])
        #expect(result.status == .failed)
        #expect(result.tasks.first?.error?.contains("timed out") == true, "\(result.tasks.first?.error ?? "")")
        #expect(await Self.awaitLine("cancelled", in: trace), "\(Self.lines(trace))")
        #expect(Self.lines(trace) == ["before", "cancelled"])

        let spun = try await runner.execute("spinning", context: ["trace": .string(trace)])
        #expect(spun.status == .failed)
        #expect(await Self.awaitLine("stopped", in: trace), "Task.checkCancellation() in a yielding loop stops")
        await runner.shutdown()
    }
}
