/// How `cloacina hosts --output json` and `GET /hosts` show a host entry.
extension HostRecord {
    /// `{id, address, version, capacity, owned, started_at, last_heartbeat, expires_at, live}`, times in
    /// milliseconds since 1970 (`expires_at` null for an entry valid until withdrawn), `live` as of `now`.
    public func json(at now: Timestamp) -> JSONValue {
        var fields: [String: JSONValue] = [:]
        fields["id"] = .string(id)
        fields["address"] = .string(address)
        fields["version"] = .string(version)
        fields["capacity"] = .int(capacity)
        fields["owned"] = .int(owned)
        fields["started_at"] = .int(Int(startedAt.milliseconds))
        fields["last_heartbeat"] = .int(Int(heartbeatAt.milliseconds))
        fields["expires_at"] = expiresAt.milliseconds >= Int64.max / 4 ? .null : .int(Int(expiresAt.milliseconds))
        fields["live"] = .bool(isLive(at: now))
        return .object(fields)
    }
}
