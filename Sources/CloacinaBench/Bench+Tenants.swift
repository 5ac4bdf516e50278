import Cloacina
import CloacinaPostgres
import CloacinaSQLite

#if canImport(Glibc)
import Glibc
#endif

extension Bench {
    /// Provisions `n` tenants (files or schemas, each with its runner open, as a host serving them has), then
    /// measures the host's size and the queries it makes while idle.
    func tenants(n: Int) async throws -> JSONValue {
        let suffix = UInt32.random(in: 0...UInt32.max)
        let names = (0..<n).map { "bench_t\($0)_\(suffix)" }
        let storage: TenantManager.Storage
        switch backend {
        case .sqlite: storage = .sqliteFiles(directory: "\(directory)/tenants")
        case .postgres:
            storage = .postgresSchemas(url: databaseURL ?? "")
            registerSchemas(names)
        }
        var template = configuration("tenants_template")
        template.resumeUnfinished = true
        let manager = TenantManager(storage: storage, template: template)
        if case .sqliteFiles(let path) = storage { mkdir(path, 0o700) }
        let clock = ContinuousClock()
        let started = clock.now
        // Two at a time: the machine has two cores, and schema creation is mostly server work.
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<2 where next < names.count {
                let name = names[next]
                next += 1
                group.addTask { _ = try await manager.runner(for: name) }
            }
            while try await group.next() != nil, next < names.count {
                let name = names[next]
                next += 1
                group.addTask { _ = try await manager.runner(for: name) }
            }
        }
        let provision = (clock.now - started).seconds
        let rss = Self.residentMegabytes()
        let sqliteMemory = Double(SQLiteConnection.memoryInUse) / 1_048_576

        // Idle: nothing runs; count the queries the host makes anyway.
        let window = smoke ? 1.0 : 10.0
        let before = try queryCount()
        try await Task.sleep(for: .seconds(window))
        let after = try queryCount()
        await manager.shutdown()
        var result = line(.tenants, n: n)
        result["provision_s"] = .double((provision * 1000).rounded() / 1000)
        result["rss_mb"] = rss.map { .double(($0 * 10).rounded() / 10) } ?? .null
        if backend == .sqlite { result["sqlite_heap_mb"] = .double((sqliteMemory * 10).rounded() / 10) }
        result["idle_queries_per_s"] = .double(Double(after - before) / window)
        result["idle_queries_per_s_per_tenant"] = .double(Double(after - before) / window / Double(n))
        return result
    }

    /// Statements run so far: this process's SQLite statements, or the database's transactions on PostgreSQL
    /// (minus the one this query makes).
    func queryCount() throws -> Int {
        switch backend {
        case .sqlite:
            return SQLiteConnection.statementsRun
        case .postgres:
            let connection = try PostgresConnection(databaseURL ?? "")
            // The statistics collector reports with a delay; ask it for a fresh snapshot.
            _ = try connection.execute("SELECT pg_stat_clear_snapshot()")
            let result = try connection.query(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
            )
            return Int(result.rows.first?.int64(0) ?? 0)
        }
    }
}
