public import Cloacina
internal import Synchronization

/// The hosts sharing the tenants this daemon serves, as their stores list them (``HostRecord``).
extension Daemon {
    /// One host, over the served tenants it announced itself in.
    public struct HostSummary: Sendable, Equatable {
        public var record: HostRecord
        /// The served tenants it announced itself in, sorted.
        public var tenants: [String]
        /// Unfinished executions it owns in all of them.
        public var owned: Int
        /// Whether this daemon's own process.
        public var isSelf: Bool
    }

    /// Every host of the tenants served now, by id, live first; tenants whose store cannot be read are skipped (they
    /// show as unavailable in `/tenants`). Also sets `cloacina_hosts_live`.
    public func hosts() async -> [HostSummary] {
        let runners = state.withLock { $0.served.map { ($0.key, $0.value.runner) } }.sorted { $0.0 < $1.0 }
        var byID: [String: HostSummary] = [:]
        for (tenant, runner) in runners {
            guard let records = try? await runner.hosts() else { continue }
            for record in records {
                var summary =
                    byID[record.id]
                    ?? HostSummary(record: record, tenants: [], owned: 0, isSelf: record.id == runner.hostID)
                if record.heartbeatAt > summary.record.heartbeatAt {
                    let owned = summary.record.owned
                    summary.record = record
                    summary.record.owned = owned
                }
                summary.tenants.append(tenant)
                summary.owned += record.owned
                byID[record.id] = summary
            }
        }
        let now = Timestamp.now()
        let hosts = byID.values.sorted { lhs, rhs in
            let (left, right) = (lhs.record.isLive(at: now), rhs.record.isLive(at: now))
            return left != right ? left : lhs.record.id < rhs.record.id
        }
        metrics.hostsLive(hosts.filter { $0.record.isLive(at: now) }.count)
        return hosts
    }

    /// ``hosts()`` as the API shows it: `{hosts: [{id, address, version, capacity, owned, tenants, started_at,
    /// last_heartbeat, expires_at, live, self}]}`, times in milliseconds since 1970.
    public func hostsJSON() async -> JSONValue {
        let now = Timestamp.now()
        let hosts = await hosts()
        return [
            "hosts": .array(
                hosts.map { host in
                    var json = host.record.json(at: now)
                    if case .object(var fields) = json {
                        fields["owned"] = .int(host.owned)
                        fields["tenants"] = .array(host.tenants.map { .string($0) })
                        fields["self"] = .bool(host.isSelf)
                        json = .object(fields)
                    }
                    return json
                }
            )
        ]
    }
}
