internal import CPostgreSQL
internal import Synchronization

/// One statement of a ``PostgresConnection/pipeline(_:)``: SQL and its text-format parameters.
///
/// A statement with a `name` is prepared once per connection under that name (parsed and planned by the server the
/// first time, only bound and executed after); its SQL must then be the same every time the name is used on a
/// connection. With `flush`, the server is asked to send the results so far right after it, before it runs the
/// statements that follow.
public struct PostgresStatement: Sendable, Hashable {
    public var sql: String
    public var parameters: [PostgresValue]
    public var name: String?
    public var flush: Bool

    public init(_ sql: String, _ parameters: [PostgresValue] = [], prepared name: String? = nil, flush: Bool = false) {
        self.sql = sql
        self.parameters = parameters
        self.name = name
        self.flush = flush
    }
}

extension PostgresConnection {
    /// Whether a statement prepared on this session and used `uses` times is planned again before its next use: a
    /// generic plan made while a tenant's tables were nearly empty (a sequential scan) would stay with the session
    /// as the tables grow, so statements are prepared anew after 16, 64, 256, … 16,384 uses, then every 16,384.
    static func replans(after uses: Int) -> Bool {
        guard uses >= 16 else { return false }
        guard uses < 16_384 else { return uses.isMultiple(of: 16_384) }
        return uses.nonzeroBitCount == 1 && uses.trailingZeroBitCount.isMultiple(of: 2)
    }

    /// Runs `statements` in libpq pipeline mode: sends them all and one sync, then reads every result, so the
    /// whole list costs one round trip instead of one per statement. Returns one result per statement.
    ///
    /// After a statement fails the server skips the rest (up to the sync); the first failure is thrown once every
    /// result is read, leaving the connection idle, or inside a transaction block in a failed transaction for the
    /// caller to roll back. Without a `BEGIN` the statements form one implicit transaction. Keep pipelines to
    /// hundreds of statements: the connection blocks while sending, so results that overflowed the socket buffers
    /// before the last statement was sent would stall it.
    ///
    /// A statement's result is passed to `onResult` as soon as it is read, before the later ones are: a caller learns
    /// what the first statements returned even when the connection breaks before the last result arrives.
    public func pipeline(
        _ statements: [PostgresStatement],
        onResult: (Int, PostgresResult) -> Void = { _, _ in }
    ) throws(PostgresError) -> [PostgresResult] {
        guard !statements.isEmpty else { return [] }
        let context = { "running a pipeline of \(statements.count) statements" }
        for statement in statements {
            // Refuses values libpq cannot send before anything is sent.
            try Self.validate(statement.parameters, for: statement.sql)
        }
        Self.roundTrips.add(1, ordering: .relaxed)
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError(isOpen ? .server : .connection, message: lastError, context: context())
        }
        var failure: PostgresError?
        var sent = 0
        /// The statements whose `Parse` was sent in this pipeline, by index; prepared once their result says so.
        var preparing: [Int: String] = [:]
        /// Those of them sent a `DEALLOCATE` first, to be planned again.
        var replanning: Set<Int> = []
        for (index, statement) in statements.enumerated() {
            if let name = statement.name, !preparing.values.contains(name) {
                let uses = statementUses[name, default: 0]
                if prepared.contains(name), Self.replans(after: uses) {
                    guard PQsendQueryParams(handle, "DEALLOCATE \(name)", 0, nil, nil, nil, nil, 0) == 1 else {
                        failure = PostgresError(.connection, message: lastError, context: context())
                        break
                    }
                    prepared.remove(name)
                    replanning.insert(index)
                }
                if !prepared.contains(name) {
                    guard PQsendPrepare(handle, name, statement.sql, 0, nil) == 1 else {
                        failure = PostgresError(.connection, message: lastError, context: context())
                        break
                    }
                    preparing[index] = name
                }
                statementUses[name] = uses + 1
            }
            let queued = withValidatedParameters(statement.parameters) { count, values in
                if let name = statement.name {
                    return PQsendQueryPrepared(handle, name, count, values, nil, nil, 0) == 1
                }
                return PQsendQueryParams(handle, statement.sql, count, nil, values, nil, nil, 0) == 1
            }
            guard queued, !statement.flush || PQsendFlushRequest(handle) == 1 else {
                failure = PostgresError(.connection, message: lastError, context: context())
                if queued { sent += 1 }
                break
            }
            sent += 1
        }
        if PQpipelineSync(handle) != 1 {
            failure = failure ?? PostgresError(.connection, message: lastError, context: context())
        }
        var results: [PostgresResult] = []
        results.reserveCapacity(sent)
        reading: for (index, statement) in statements.prefix(sent).enumerated() {
            if replanning.contains(index) {
                // DEALLOCATE's result: nothing to learn from it but that it was read.
                while let result = PQgetResult(handle) { PQclear(result) }
            }
            if let name = preparing[index] {
                guard let result = PQgetResult(handle) else {
                    failure = failure ?? PostgresError(.connection, message: lastError, context: context())
                    break reading
                }
                let status = PQresultStatus(result)
                if status == PGRES_COMMAND_OK {
                    prepared.insert(name)
                } else if status != PGRES_PIPELINE_ABORTED {
                    failure = failure ?? error(from: result, context: "preparing \(Self.abbreviated(statement.sql))")
                }
                PQclear(result)
                while let extra = PQgetResult(handle) { PQclear(extra) }
            }
            var received = false
            while let result = PQgetResult(handle) {
                defer { PQclear(result) }
                received = true
                // Skipped because an earlier statement failed.
                guard PQresultStatus(result) != PGRES_PIPELINE_ABORTED else { continue }
                do throws(PostgresError) {
                    let read = try read(result, context: "running \(Self.abbreviated(statement.sql))")
                    onResult(index, read)
                    results.append(read)
                } catch {
                    failure = failure ?? error
                }
            }
            guard received else {
                failure = failure ?? PostgresError(.connection, message: lastError, context: context())
                break reading
            }
        }
        if isOpen {
            if let sync = PQgetResult(handle) {
                if PQresultStatus(sync) != PGRES_PIPELINE_SYNC {
                    failure = failure ?? error(from: sync, context: context())
                }
                PQclear(sync)
            }
        }
        if PQexitPipelineMode(handle) != 1 {
            failure =
                failure
                ?? PostgresError(.connection, message: "cannot leave pipeline mode: \(lastError)", context: context())
        }
        if let failure { throw failure }
        return results
    }
}
