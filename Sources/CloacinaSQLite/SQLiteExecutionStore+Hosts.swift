public import CloacinaStorage

/// The host serving the file (``HostRecord``), in its `hosts` table. One host serves a file at a time (`serve`
/// holds a lock), so an announcement replaces every other entry.
extension SQLiteExecutionStore {
    public func announceHost(_ host: HostRecord) throws(StoreError) {
        try withWriter { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                try connection.run("DELETE FROM hosts WHERE id <> ?", [.text(host.id)])
                try connection.run(
                    """
                    INSERT INTO hosts (id, address, version, capacity, started_at, heartbeat_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET address = excluded.address, version = excluded.version,
                        capacity = excluded.capacity, heartbeat_at = excluded.heartbeat_at,
                        expires_at = excluded.expires_at
                    """,
                    [
                        .text(host.id), .text(host.address), .text(host.version), .integer(Int64(host.capacity)),
                        .integer(host.startedAt.milliseconds), .integer(host.heartbeatAt.milliseconds),
                        .integer(host.expiresAt.milliseconds),
                    ]
                )
            }
        }
    }

    public func withdrawHost(_ id: String) throws(StoreError) {
        try withWriter { connection throws(SQLiteError) in
            try connection.run("DELETE FROM hosts WHERE id = ?", [.text(id)])
        }
    }

    public func hosts() throws(StoreError) -> [HostRecord] {
        try withReader { connection throws(SQLiteError) in
            try connection.query(
                """
                SELECT h.id, h.address, h.version, h.capacity, h.started_at, h.heartbeat_at, h.expires_at,
                    (SELECT COUNT(*) FROM executions e WHERE e.status IN ('Pending', 'Running')
                        AND substr(e.claimed_by, 1, length(h.id) + 1) = h.id || '/')
                FROM hosts h ORDER BY h.id
                """
            ) { row in
                HostRecord(
                    id: row.text(0),
                    address: row.text(1),
                    version: row.text(2),
                    capacity: Int(clamping: row.int64(3)),
                    startedAt: Timestamp(milliseconds: row.int64(4)),
                    heartbeatAt: Timestamp(milliseconds: row.int64(5)),
                    expiresAt: Timestamp(milliseconds: row.int64(6)),
                    owned: Int(clamping: row.int64(7))
                )
            }
        }
    }
}
