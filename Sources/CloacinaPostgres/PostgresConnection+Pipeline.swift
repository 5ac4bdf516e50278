internal import CPostgreSQL

/// One statement of a ``PostgresConnection/pipeline(_:)``: SQL and its text-format parameters.
public struct PostgresStatement: Sendable, Hashable {
    public var sql: String
    public var parameters: [PostgresValue]

    public init(_ sql: String, _ parameters: [PostgresValue] = []) {
        self.sql = sql
        self.parameters = parameters
    }
}

extension PostgresConnection {
    /// Runs `statements` in libpq pipeline mode: sends them all and one sync, then reads every result, so the
    /// whole list costs one round trip instead of one per statement. Returns one result per statement.
    ///
    /// After a statement fails the server skips the rest (up to the sync); the first failure is thrown once every
    /// result is read, leaving the connection idle, or inside a transaction block in a failed transaction for the
    /// caller to roll back. Without a `BEGIN` the statements form one implicit transaction. Keep pipelines to
    /// hundreds of statements: the connection blocks while sending, so results that overflowed the socket buffers
    /// before the last statement was sent would stall it.
    public func pipeline(_ statements: [PostgresStatement]) throws(PostgresError) -> [PostgresResult] {
        guard !statements.isEmpty else { return [] }
        let context = "running a pipeline of \(statements.count) statements"
        for statement in statements {
            // Refuses values libpq cannot send before anything is sent.
            try Self.validate(statement.parameters, for: statement.sql)
        }
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError(isOpen ? .server : .connection, message: lastError, context: context)
        }
        var failure: PostgresError?
        var sent = 0
        for statement in statements {
            let queued = withValidatedParameters(statement.parameters) { count, values in
                PQsendQueryParams(handle, statement.sql, count, nil, values, nil, nil, 0) == 1
            }
            guard queued else {
                failure = PostgresError(.connection, message: lastError, context: context)
                break
            }
            sent += 1
        }
        if PQpipelineSync(handle) != 1 {
            failure = failure ?? PostgresError(.connection, message: lastError, context: context)
        }
        var results: [PostgresResult] = []
        results.reserveCapacity(sent)
        reading: for statement in statements.prefix(sent) {
            var received = false
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                received = true
                // Skipped because an earlier statement failed.
                guard PQresultStatus(result) != PGRES_PIPELINE_ABORTED else { continue }
                do throws(PostgresError) {
                    results.append(try read(result, context: "running \(Self.abbreviated(statement.sql))"))
                } catch {
                    failure = failure ?? error
                }
            }
            guard received else {
                failure = failure ?? PostgresError(.connection, message: lastError, context: context)
                break reading
            }
        }
        if isOpen {
            if let sync = PQgetResult(handle) {
                if PQresultStatus(sync) != PGRES_PIPELINE_SYNC {
                    failure = failure ?? error(from: sync, context: context)
                }
                PQclear(sync)
            }
        }
        if PQexitPipelineMode(handle) != 1 {
            failure =
                failure
                ?? PostgresError(.connection, message: "cannot leave pipeline mode: \(lastError)", context: context)
        }
        if let failure { throw failure }
        return results
    }
}
