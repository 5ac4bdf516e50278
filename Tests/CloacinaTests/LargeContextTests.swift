import CloacinaSQLite
import CloacinaStorage
import CloacinaTestSupport
import Testing

@testable import Cloacina

/// Large contexts cost about their size: an output equal to its input is not read again, unchanged members are
/// shared with the input instead of rebuilt, only what changed is stored per task, and recovery rebuilds the
/// same contexts.
@Suite("Large contexts")
struct LargeContextTests {
    static let payload = JSONValue.string(String(repeating: "0123456789", count: 100_000))

    /// Whether two contexts are equal; a Bool, so a failure does not print megabytes.
    static func same(_ a: [String: JSONValue]?, _ b: [String: JSONValue]?) -> Bool { a == b }

    /// The base address of a string's storage, to tell shared storage from a copy.
    static func storage(_ value: JSONValue?) -> UnsafeRawPointer? {
        guard case .string(var string)? = value else { return nil }
        return string.withUTF8 { UnsafeRawPointer($0.baseAddress) }
    }

    /// `bytes` with `"key":1` added in front, the way a C task adds a key to the text it was given.
    static func adding(_ key: String, to bytes: [UInt8]) -> [UInt8] {
        Array("{\"\(key)\":1,".utf8) + bytes.dropFirst()
    }

    /// The bench package (workflows/bench), compiled into `directory`.
    static func benchPackage(_ directory: TemporaryDirectory) throws -> LoadedPackage {
        try compileC(
            ["\(TestEnvironment.repositoryRoot)/workflows/bench/bench.c"],
            output: directory.file("libBenchWorkflows.so"),
            flags: ["-shared", "-fPIC"]
        )
        return try TaskInvocationTests.load(directory.file("libBenchWorkflows.so"), in: directory)
    }

    @Test("an output that is its input byte for byte is that input snapshot, and its delta is empty")
    func unchangedOutput() throws {
        let input = ContextSnapshot(["payload": Self.payload, "n": 1])
        let copy = Array(input.bytes)
        let output = try ContextSnapshot.output(copy, of: input)
        #expect(output === input)
        #expect(ContextDelta(from: input, to: output).isEmpty)
    }

    @Test("an output with one key added shares the input's large value and its delta is that key")
    func sharedMembers() throws {
        let input = try ContextSnapshot(parsing: ContextSnapshot(["payload": Self.payload, "n": 1]).bytes)
        let output = try ContextSnapshot.output(Self.adding("added", to: input.bytes), of: input)
        #expect(Self.same(output.object, ["payload": Self.payload, "n": 1, "added": 1]))
        #expect(Self.storage(output.object["payload"]) == Self.storage(input.object["payload"]))
        #expect(ContextDelta(from: input, to: output) == ContextDelta(updates: ["added": 1]))
        // A changed large value is read in full, not taken from the input.
        let changed = try ContextSnapshot.output(Array(#"{"payload":"other","n":1}"#.utf8), of: input)
        #expect(ContextDelta(from: input, to: changed) == ContextDelta(updates: ["payload": "other"]))
        #expect(throws: ContextError.self) { try ContextSnapshot.output(Array(#"{"n":1"#.utf8), of: input) }
    }

    @Test("a merged snapshot's bytes encode its object, text copied from encoded sources, written for the rest")
    func mergedEncoding() throws {
        let base = ContextSnapshot(["k": 1, "big": Self.payload, "gone": true])
        let other = ContextSnapshot(["k": 2, "other": "x\"y"])
        _ = (base.bytes, other.bytes)
        let merged = ContextSnapshot(
            ["k": 2, "big": Self.payload, "other": "x\"y", "new": [1, 2]],
            base: base,
            sources: ["k": other, "other": other],
            fresh: ["new"]
        )
        #expect(Self.same(try JSONValue(parsing: merged.bytes).objectValue, merged.object))
        // A source not encoded yet lends nothing: its keys are written, not taken from the base.
        let unencoded = ContextSnapshot(["k": 3])
        let written = ContextSnapshot(["k": 3, "big": Self.payload], base: base, sources: ["k": unencoded])
        #expect(Self.same(try JSONValue(parsing: written.bytes).objectValue, ["k": 3, "big": Self.payload]))
        #expect(merged.bytes == JSONValue.object(merged.object).serialized())
    }

    @Test("the in-process invoker reports an output equal to its input as unchanged, without copying it")
    func invokerUnchanged() throws {
        let directory = try TemporaryDirectory("large-invoke")
        let package = try Self.benchPackage(directory)
        let invoker = InProcessTaskInvoker()
        let context = #"{"payload":"\#(String(repeating: "x", count: 1 << 20))"}"#
        // t1 of bench_context returns a copy of its input; t0 adds its id.
        let echoed = invoker.invoke(
            TaskInvocationTests.request("bench_context", "t1", context),
            in: package,
            cancellation: TaskCancellation()
        )
        #expect(echoed == .succeeded(output: nil))
        let marked = try TaskInvocationTests.output(
            invoker.invoke(
                TaskInvocationTests.request("bench_context", "t0", context),
                in: package,
                cancellation: TaskCancellation()
            )
        )
        #expect(marked["t0"] == 1)
        #expect(marked["payload"]?.stringValue?.utf8.count == 1 << 20)
    }

    @Test("two branches each setting a large value: the join gets both, each task stores only its own change")
    func largeBranches() throws {
        var h = try Harness(
            [task("root"), task("left", "root"), task("right", "root"), task("join", "left", "right")],
            input: ["base": Self.payload]
        )
        let other = JSONValue.string(String(repeating: "z", count: 500_000))
        h.start()
        h.succeed("root")
        h.succeed("left", set: ["left": other])
        h.succeed("right", set: ["right": Self.payload, "base": "replaced"])
        let join = try #require(h.running["join"]?.input)
        #expect(Self.same(join.object, ["base": "replaced", "left": other, "right": Self.payload]))
        #expect(Self.same(try JSONValue(parsing: join.bytes).objectValue, join.object))
        h.succeed("join", set: ["joined": true])
        #expect(Self.same(h.finalContext, ["base": "replaced", "left": other, "right": Self.payload, "joined": true]))
        let stored = h.writes.compactMap { write -> (String, Int)? in
            guard case .updateTask(let record) = write, let output = record.output else { return nil }
            return (record.taskID, output.count)
        }
        // Each task's stored output is its delta: left's 0.5 MB, right's 1 MB and a key, never a whole context (and
        // join's, written with the end of the execution, is none: the final context holds it).
        let largest = Dictionary(stored, uniquingKeysWith: max)
        #expect(largest["root"] == nil)
        #expect(try #require(largest["left"]) < 500_100)
        #expect(try #require(largest["right"]) < 1_000_100)
        #expect((largest["join"] ?? 0) < 100)
    }

    @Test("at the end of a chain the final context is the last task's context, and finished tasks keep no input")
    func chainEnd() throws {
        var h = try Harness([task("a"), task("b", "a"), task("c", "b")], input: ["payload": Self.payload])
        h.start()
        h.succeed("a", set: ["a": 1])
        h.succeed("b")
        let running = h.running.removeValue(forKey: "c")
        let (attempt, input) = try #require(running)
        let output = try ContextSnapshot.output(Self.adding("c", to: input.bytes), of: input)
        h.apply(h.machine.taskSucceeded(h.index("c"), attempt: attempt, output: output, startedAt: h.now, now: h.now))
        #expect(h.finished == .completed)
        #expect(h.machine.finalContext === output)
        #expect(Self.same(h.finalContext, ["payload": Self.payload, "a": 1, "c": 1]))
        #expect(h.machine.tasks.allSatisfy { $0.input == nil })
    }

    @Test("an execution interrupted mid-chain resumes with the large context its finished tasks left")
    func recovery() throws {
        let plan = try ExecutionPlan(
            WorkflowDefinition(
                name: "flow",
                tasks: [task("a"), task("b", "a", retry: RetryPolicy(maxAttempts: 2)), task("c", "b")]
            )
        )
        let input = try ContextSnapshot(parsing: ContextSnapshot(["payload": Self.payload, "drop": true]).bytes)
        var first = Harness(machine: ExecutionStateMachine(id: "exec", plan: plan, input: input))
        first.start()
        first.succeed("a", set: ["big": Self.payload, "a": 1])
        // The host dies while b runs: only what was persisted survives.
        var records: [String: TaskRecord] = [:]
        for case .updateTask(let record) in first.writes { records[record.taskID] = record }
        #expect(try #require(records["a"]?.output).count < Self.payload.stringValue!.utf8.count + 100)
        let (machine, actions) = try ExecutionStateMachine.restore(
            id: "exec",
            plan: plan,
            input: try ContextSnapshot(parsing: input.bytes),
            startedAt: first.machine.startedAt,
            records: Array(records.values),
            now: first.now
        )
        var h = Harness(machine: machine)
        h.apply(actions)
        let b = try #require(h.running["b"])
        #expect(b.attempt == 2)
        #expect(Self.same(b.input.object, ["payload": Self.payload, "drop": true, "big": Self.payload, "a": 1]))
        #expect(Self.same(try JSONValue(parsing: b.input.bytes).objectValue, b.input.object))
        h.succeed("b", set: ["drop": .null])
        h.succeed("c", set: ["c": 1])
        #expect(
            Self.same(h.finalContext, ["payload": Self.payload, "drop": .null, "big": Self.payload, "a": 1, "c": 1])
        )
    }

    @Test("a final context is stored as its changes to the input; a whole one, as older versions stored, still reads")
    func storedFinalContext() {
        let input: [String: JSONValue] = ["b": 2, "c": 3]
        let stored = ContextDelta.storedFinal(ContextDelta(updates: ["a": 1], removed: ["b"]))
        #expect(ContextDelta.finalContext(stored: stored, input: input) == ["a": 1, "c": 3])
        #expect(ContextDelta.finalContext(stored: Array(#"{"set":{"x":1}}"#.utf8), input: input) == ["set": ["x": 1]])
        #expect(ContextDelta.finalContext(stored: Array("[1]".utf8), input: input) == nil)
    }

    @Test("a large context runs through a chain on SQLite: the result and the stored record agree")
    func throughRunner() async throws {
        let directory = try TemporaryDirectory("large-runner")
        var configuration = DefaultRunner.Configuration(databaseURL: "sqlite://\(directory.file("state.db"))")
        configuration.packageCacheDirectory = directory.file("cache")
        configuration.packages = [try Self.benchPackage(directory)]
        let runner = try await DefaultRunner.Builder(configuration: configuration).build()
        let input = ContextSnapshot(["payload": Self.payload, "n": 1])
        let result = try await runner.execute("bench_context", contextJSON: input.bytes)
        #expect(result.status == .completed)
        let expected: [String: JSONValue] = ["payload": Self.payload, "n": 1, "t0": 1, "t2": 1, "t4": 1]
        #expect(Self.same(result.finalContext, expected))
        #expect(Self.same(result.inputContext, input.object))
        let stored = try await runner.executionStatus(result.executionID)
        #expect(Self.same(stored.finalContext, expected))
        #expect(Self.same(stored.inputContext, input.object))
        await runner.shutdown()
        // The row keeps the input once; the final context as its changes only.
        let store = try SQLiteExecutionStore(path: directory.file("state.db"))
        let record = try #require(try store.execution(result.executionID))
        #expect(record.input == input.bytes)
        #expect(try #require(record.finalContext).count < 100)
        #expect(try store.tasks(of: result.executionID).allSatisfy { $0.output == nil })
    }
}
