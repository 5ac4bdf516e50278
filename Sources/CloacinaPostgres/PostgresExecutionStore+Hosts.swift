public import CloacinaStorage

/// The hosts serving the schema (``HostRecord``), in its `hosts` table.
extension PostgresExecutionStore {
    public func announceHost(_ host: HostRecord) throws(StoreError) {
        let hostsTable = "\(schema.quoted).hosts"
        _ = try run { connection throws(PostgresError) in
            try connection.query(
                """
                WITH forgotten AS (DELETE FROM \(hostsTable) WHERE expires_at < $8 AND id <> $1)
                INSERT INTO \(hostsTable) (id, address, version, capacity, started_at, heartbeat_at, expires_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, version = EXCLUDED.version,
                    capacity = EXCLUDED.capacity, heartbeat_at = EXCLUDED.heartbeat_at,
                    expires_at = EXCLUDED.expires_at
                """,
                [
                    .text(host.id), .text(host.address), .text(host.version), .integer(Int64(host.capacity)),
                    .integer(host.startedAt.milliseconds), .integer(host.heartbeatAt.milliseconds),
                    .integer(host.expiresAt.milliseconds),
                    .integer((host.heartbeatAt + (.zero - HostRecord.retention)).milliseconds),
                ]
            )
        }
    }

    public func withdrawHost(_ id: String) throws(StoreError) {
        _ = try run { connection throws(PostgresError) in
            try connection.query("DELETE FROM \(schema.quoted).hosts WHERE id = $1", [.text(id)])
        }
    }

    public func hosts() throws(StoreError) -> [HostRecord] {
        let rows = try run { connection throws(PostgresError) in
            try connection.query(
                """
                SELECT h.id, h.address, h.version, h.capacity, h.started_at, h.heartbeat_at, h.expires_at,
                    (SELECT COUNT(*) FROM \(executionsTable) e WHERE e.status IN ('Pending', 'Running')
                        AND left(e.claimed_by, length(h.id) + 1) = h.id || '/')
                FROM \(schema.quoted).hosts h ORDER BY h.id
                """
            ).rows
        }
        var hosts: [HostRecord] = []
        for row in rows {
            guard let id = row.text(0), let address = row.text(1), let version = row.text(2),
                let capacity = row.int64(3), let started = row.int64(4), let heartbeat = row.int64(5),
                let expires = row.int64(6)
            else {
                throw StoreError(.corrupt, "a row of \(schema.quoted).hosts has a missing or malformed column")
            }
            hosts.append(
                HostRecord(
                    id: id,
                    address: address,
                    version: version,
                    capacity: Int(clamping: capacity),
                    startedAt: Timestamp(milliseconds: started),
                    heartbeatAt: Timestamp(milliseconds: heartbeat),
                    expiresAt: Timestamp(milliseconds: expires),
                    owned: Int(clamping: row.int64(7) ?? 0)
                )
            )
        }
        return hosts
    }
}
