public import CloacinaStorage

/// Claims, leases and cancel requests.
///
/// Claims lock the candidate rows (`FOR UPDATE`) for the length of their transaction, so two hosts never both claim
/// one execution; a sweep (``claimUnfinished(owner:leaseUntil:now:ownerIsAlive:)``) skips rows another transaction
/// holds (`SKIP LOCKED`) and picks them up on a later sweep, while a single claim waits for its row. Every operation
/// here is idempotent, so an interrupted commit is simply run again.
extension PostgresExecutionStore {
    public func claimUnfinished(
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        limit: Int?,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> [ExecutionRecord] {
        try claim(ids: nil, owner: owner, leaseUntil: leaseUntil, now: now, limit: limit, ownerIsAlive: ownerIsAlive)
    }

    public func claim(
        _ id: String,
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> ExecutionRecord? {
        try claim(ids: [id], owner: owner, leaseUntil: leaseUntil, now: now, limit: nil, ownerIsAlive: ownerIsAlive)
            .first
    }

    private func claim(
        ids: [String]?,
        owner: String,
        leaseUntil: Timestamp,
        now: Timestamp,
        limit: Int?,
        ownerIsAlive: (String) -> Bool
    ) throws(StoreError) -> [ExecutionRecord] {
        let rows = try transaction { connection throws(PostgresError) -> [PostgresRow] in
            var sql = "SELECT \(Self.executionColumns) FROM \(executionSource) WHERE e.status IN ('Pending', 'Running')"
            var values: [PostgresValue] = []
            if let ids {
                sql += " AND e.id = ANY($1::text[])"
                values.append(.textArray(ids))
            }
            sql += " ORDER BY e.created_at, e.id FOR UPDATE OF e" + (ids == nil ? " SKIP LOCKED" : "")
            var claimed: [PostgresRow] = []
            for candidate in try connection.query(sql, values).rows {
                if let limit, claimed.count >= limit { break }
                let current = candidate.text(13)
                let lease = candidate.int64(14)
                let free =
                    current == nil || current == owner || (lease.map { $0 < now.milliseconds } ?? true)
                    || !ownerIsAlive(current!)
                guard free else { continue }
                var row = candidate
                row.values[13] = Array(owner.utf8)
                row.values[14] = Array(String(leaseUntil.milliseconds).utf8)
                claimed.append(row)
            }
            guard !claimed.isEmpty else { return [] }
            try connection.query(
                "UPDATE \(executionsTable) SET claimed_by = $1, lease_expires_at = $2 WHERE id = ANY($3::text[])",
                [.text(owner), .integer(leaseUntil.milliseconds), .textArray(claimed.map { $0.text(0) ?? "" })]
            )
            return claimed
        }
        var records: [ExecutionRecord] = []
        records.reserveCapacity(rows.count)
        for row in rows { records.append(try Self.executionRecord(row)) }
        return records
    }

    public func renewLeases(owner: String, until: Timestamp) throws(StoreError) -> LeaseRenewal {
        let rows = try run { connection throws(PostgresError) in
            try connection.query(
                """
                WITH renewed AS (
                    UPDATE \(executionsTable) SET lease_expires_at = $1
                    WHERE claimed_by = $2 AND status IN ('Pending', 'Running')
                    RETURNING id, created_at, cancel_requested, paused
                )
                SELECT id, cancel_requested, paused FROM renewed WHERE cancel_requested OR paused
                ORDER BY created_at, id
                """,
                [.integer(until.milliseconds), .text(owner)]
            ).rows
        }
        var renewal = LeaseRenewal()
        for row in rows {
            let id = row.text(0) ?? ""
            if row.bool(1) == true { renewal.cancelRequested.append(id) }
            if row.bool(2) == true { renewal.paused.insert(id) }
        }
        return renewal
    }

    /// Also tells the other hosts (`NOTIFY … 'work'`, delivered when the release commits) that there is work to take.
    public func releaseLeases(owner: String, executions: [String]) throws(StoreError) {
        guard !executions.isEmpty else { return }
        _ = try run { connection throws(PostgresError) in
            try connection.query(
                """
                WITH released AS (
                    UPDATE \(executionsTable) SET claimed_by = NULL, lease_expires_at = NULL
                    WHERE id = ANY($1::text[]) AND claimed_by = $2 RETURNING 1
                )
                SELECT pg_notify($3, 'work') FROM (SELECT 1 FROM released LIMIT 1) AS any_released
                """,
                [.textArray(executions), .text(owner), .text(channel)]
            )
        }
    }

    /// Also tells the owner (`NOTIFY … 'cancel'`, delivered when the request commits), so that it stops at once
    /// rather than at its next lease renewal.
    public func requestCancel(_ id: String) throws(StoreError) -> Bool {
        try run { connection throws(PostgresError) in
            try connection.query(
                """
                WITH requested AS (
                    UPDATE \(executionsTable) SET cancel_requested = true
                    WHERE id = $1 AND status IN ('Pending', 'Running') RETURNING 1
                )
                SELECT pg_notify($2, 'cancel') FROM requested
                """,
                [.text(id), .text(channel)]
            ).rows.count > 0
        }
    }

    /// Also tells the owner (`NOTIFY … 'cancel'`, the signal of every request to an owner), so that it applies the
    /// change at once rather than at its next lease renewal.
    public func setPaused(_ id: String, _ paused: Bool, at now: Timestamp) throws(StoreError) -> Bool {
        try run { connection throws(PostgresError) in
            try connection.query(
                """
                WITH changed AS (
                    UPDATE \(executionsTable) SET paused = $2
                    WHERE id = $1 AND status IN ('Pending', 'Running') AND paused <> $2 RETURNING id
                ), logged AS (
                    INSERT INTO \(eventsTable) (execution_id, kind, created_at)
                    SELECT id, $3, $4 FROM changed RETURNING 1
                )
                SELECT pg_notify($5, 'cancel') FROM logged
                """,
                [
                    .text(id), .boolean(paused),
                    .text((paused ? ExecutionEvent.Kind.executionPaused : .executionUnpaused).rawValue),
                    .integer(now.milliseconds), .text(channel),
                ]
            ).rows.count > 0
        }
    }
}
