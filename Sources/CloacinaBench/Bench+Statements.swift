import Cloacina
import CloacinaPostgres
import Synchronization

/// What PostgreSQL did for a workload, per execution: statements the server ran (from `pg_stat_statements`, when the
/// server loads it; it does not count `BEGIN` and `COMMIT` sent through the extended protocol, as pipelines send
/// them), transactions it committed (`pg_stat_database`, as of the runner's shutdown, when its sessions report) and
/// round trips this process made. Not for SQLite.
struct StatementCounts {
    var statements: Int?
    var commits: Int?
    var roundTrips: Int

    /// The counts so far; resets the server's statement statistics first when it can, so that they count from here.
    static func start(_ url: String?) -> StatementCounts {
        let connection = url.flatMap { try? PostgresConnection($0) }
        if let connection, available(connection) {
            _ = try? connection.execute("SELECT pg_stat_statements_reset()")
        }
        return StatementCounts(
            statements: 0,
            commits: connection.flatMap(committed),
            roundTrips: PostgresConnection.roundTrips.load(ordering: .relaxed)
        )
    }

    /// Transactions committed in the current database so far.
    private static func committed(_ connection: PostgresConnection) -> Int? {
        (try? connection.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).rows.first?.int64(0)).flatMap { $0.map { Int($0) } }
    }

    /// The counts since `start`, as `pg_statements_per_execution`, `pg_commits_per_execution` and
    /// `pg_round_trips_per_execution` for `executions` executions (null where the server does not tell).
    func per(_ executions: Int, url: String?) -> [String: JSONValue] {
        let trips = PostgresConnection.roundTrips.load(ordering: .relaxed) - roundTrips
        var statements: Int?
        var commits: Int?
        let connection = url.flatMap { try? PostgresConnection($0) }
        if let connection, Self.available(connection) {
            let row = try? connection.execute(
                """
                SELECT COALESCE(SUM(calls), 0) FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                """
            ).rows.first
            // Less this query, the reset and the reads of the commit count.
            statements = row?.int64(0).map { Int($0) - 3 }
        }
        if let connection, let before = self.commits, let now = Self.committed(connection) {
            commits = now - before
        }
        func ratio(_ count: Int?) -> JSONValue {
            count.map { .double((Double($0) / Double(max(executions, 1)) * 100).rounded() / 100) } ?? .null
        }
        return [
            "pg_statements_per_execution": ratio(statements),
            "pg_commits_per_execution": ratio(commits),
            "pg_round_trips_per_execution": ratio(trips),
        ]
    }

    private static func available(_ connection: PostgresConnection) -> Bool {
        (try? connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'").rows.isEmpty)
            == false
    }
}
