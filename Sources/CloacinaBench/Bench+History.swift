import Cloacina
import CloacinaPostgres
import CloacinaSQLite

extension Bench {
    /// Listing at a history of `size` ended executions (written straight to the store, 500 per batch): the first
    /// page of 50 with its total counted up to 1,000 (what `GET …/executions` does by default) as the latency, a
    /// page deep in the history found by cursor, and a full count, each through the runner.
    func history(size: Int) async throws -> JSONValue {
        let name = storageName("history")
        let store: any ExecutionStore =
            switch backend {
            case .sqlite: try SQLiteExecutionStore(path: SQLiteBackend.file(ofTenant: name, in: directory))
            case .postgres: try PostgresExecutionStore(url: databaseURL ?? "", schema: name)
            }
        let definition = package.workflow(named: "bench_fan10").map { Array($0.json.serialized()) } ?? []
        for start in stride(from: 0, to: size, by: 500) {
            let writes = (start..<min(start + 500, size)).map { index in
                StoreWrite.insertExecution(
                    ExecutionRecord(
                        id: "history-\(index)",
                        workflow: index.isMultiple(of: 10) ? "bench_single" : "bench_fan10",
                        package: nil,
                        definition: definition,
                        status: index.isMultiple(of: 50) ? .failed : .completed,
                        input: Array("{}".utf8),
                        finalContext: Array(#"[{"set":{}}]"#.utf8),
                        createdAt: Timestamp(milliseconds: 1_700_000_000_000 + Int64(index)),
                        startedAt: Timestamp(milliseconds: 1_700_000_000_000 + Int64(index)),
                        completedAt: Timestamp(milliseconds: 1_700_000_000_001 + Int64(index))
                    ),
                    tasks: []
                )
            }
            _ = try store.write(writes, owner: "bench")
        }
        store.close()
        let runner = try await DefaultRunner.Builder(configuration: configuration("history", name: name)).build()
        let clock = ContinuousClock()
        var first: [Double] = []
        var deep: [Double] = []
        var middle = ExecutionQuery(limit: 50)
        middle.after = ExecutionCursor(
            createdAt: Timestamp(milliseconds: 1_700_000_000_000 + Int64(size / 2)),
            id: "history-\(size / 2)"
        )
        let rounds = smoke ? 5 : 200
        for round in 0..<(rounds + 10) {
            var start = clock.now
            _ = try await runner.listExecutions(ExecutionQuery(limit: 50))
            _ = try await runner.countExecutions(ExecutionQuery(), upTo: 1001)
            let page = (clock.now - start).milliseconds
            start = clock.now
            _ = try await runner.listExecutions(middle)
            // The first rounds warm caches and plans.
            if round >= 10 {
                first.append(page)
                deep.append((clock.now - start).milliseconds)
            }
        }
        var counts: [Double] = []
        for _ in 0..<(smoke ? 1 : 5) {
            let start = clock.now
            _ = try await runner.countExecutions(ExecutionQuery())
            counts.append((clock.now - start).milliseconds)
        }
        await runner.shutdown()
        var result = line(.history, n: size, samples: first)
        result["cursor_page_ms"] = .double(Self.percentile(deep.sorted(), 0.5))
        result["count_all_ms"] = .double(Self.percentile(counts.sorted(), 0.5))
        return result
    }
}
