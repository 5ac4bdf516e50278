import CloacinaStorage
import Testing

@testable import Cloacina

/// How task results merge: each task's result is its delta, so values only passed through never overwrite.
@Suite("Context merging by deltas")
struct ContextMergeTests {
    /// `load` → (`transform_sum`, `transform_count`, `enrich`) → `report`: two branches write `shared`, the third
    /// passes on the value it inherited.
    static func siblings() throws -> Harness {
        try Harness(
            [
                task("load"), task("transform_sum", "load"), task("transform_count", "load"), task("enrich", "load"),
                task("report", "transform_sum", "transform_count", "enrich"),
            ],
            input: ["shared": "input", "keep": true]
        )
    }

    @Test("a sibling that passes an inherited value through does not overwrite another branch's write")
    func passThroughSibling() throws {
        var h = try Self.siblings()
        h.start()
        h.succeed("load", set: ["shared": "load", "rows": 3])
        h.succeed("enrich", set: ["enriched": true])
        h.succeed("transform_count", set: ["count": 3])
        h.succeed("transform_sum", set: ["shared": "sum", "sum": 6])
        // report merges transform_sum, transform_count, enrich in that order; enrich's "shared" is load's value,
        // which transform_sum changed since: the change stands.
        #expect(
            h.running["report"]?.input.object
                == ["shared": "sum", "keep": true, "rows": 3, "sum": 6, "count": 3, "enriched": true]
        )
        h.succeed("report", set: ["reported": true])
        #expect(
            h.finalContext
                == ["shared": "sum", "keep": true, "rows": 3, "sum": 6, "count": 3, "enriched": true, "reported": true]
        )
    }

    @Test("two branches writing one key: the later declared dependency wins the input, topological order the end")
    func conflictingBranches() throws {
        var h = try Self.siblings()
        h.start()
        h.succeed("load")
        h.succeed("transform_count", set: ["shared": "count"])
        h.succeed("transform_sum", set: ["shared": "sum"])
        h.succeed("enrich")
        #expect(h.running["report"]?.input.object["shared"] == "count")
        h.succeed("report")
        #expect(h.finalContext?["shared"] == "count")
    }

    @Test("a removed key is gone for dependents and from the final context, unless a later branch sets it")
    func removal() throws {
        var h = try Harness(
            [task("a"), task("drop", "a"), task("b", "a"), task("join", "drop", "b")],
            input: ["secret": "x", "other": 1]
        )
        h.start()
        h.succeed("a")
        h.remove("drop", "secret")
        h.succeed("b", set: ["b": true])
        #expect(h.running["join"]?.input.object == ["other": 1, "b": true])
        h.succeed("join")
        #expect(h.finalContext == ["other": 1, "b": true])
    }

    @Test("a chain passes every ancestor's writes on; a diamond joins both branches and what came before")
    func lineage() throws {
        var h = try Harness([task("a"), task("b", "a"), task("c", "b"), task("d", "a"), task("join", "c", "d")])
        h.start()
        h.succeed("a", set: ["a": 1, "k": "a"])
        h.succeed("b", set: ["b": 1])
        h.succeed("d", set: ["k": "d"])
        h.succeed("c", set: ["c": 1])
        // c only passed on a's "k"; d changed it, so d's value stands.
        #expect(h.running["join"]?.input.object == ["a": 1, "b": 1, "c": 1, "k": "d"])
    }

    @Test("a stored delta reads back; an older whole-context output reads as every key set")
    func storedForm() throws {
        let delta = ContextDelta(updates: ["x": 1, "y": ["z": true]], removed: ["gone", "also"])
        #expect(try ContextDelta(parsing: delta.bytes) == delta)
        #expect(delta.removed == ["also", "gone"])
        #expect(
            try ContextDelta(parsing: Array(#"{"x":1,"set":2}"#.utf8)) == ContextDelta(updates: ["x": 1, "set": 2])
        )
        #expect(throws: ContextError.self) { try ContextDelta(parsing: Array(#"{"set":{},"removed":[1]}"#.utf8)) }
        #expect(throws: ContextError.self) { try ContextDelta(parsing: Array("[1]".utf8)) }
    }
}

extension Harness {
    /// Completes the running attempt of `task` with its input minus `key`.
    mutating func remove(_ task: String, _ key: String) {
        let (attempt, input) = running.removeValue(forKey: task)!
        var output = input.object
        output[key] = nil
        now.milliseconds += 10
        apply(
            machine.taskSucceeded(
                index(task),
                attempt: attempt,
                output: ContextSnapshot(output),
                startedAt: now,
                now: now
            )
        )
    }
}
