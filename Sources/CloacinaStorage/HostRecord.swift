/// A host's entry in a store it serves: who it is, where its API listens, and until when it counts as live. Each
/// runner of a host announces it (``ExecutionStore/announceHost(_:)``) as it renews its leases, so `cloacina hosts`
/// and `GET /hosts` can show the hosts sharing a tenant. Informational: claims and leases, not this entry, decide
/// who may write an execution.
public struct HostRecord: Sendable, Hashable {
    /// The host process, `host/pid/start-time`: the first three parts of its runners' owner names.
    public var id: String
    /// Where its HTTP API listens (`host:port`), or "" when it serves none.
    public var address: String
    /// The program's version.
    public var version: String
    /// Task attempts it runs at once for the tenant.
    public var capacity: Int
    public var startedAt: Timestamp
    public var heartbeatAt: Timestamp
    /// When it stops counting as live unless it announces itself again.
    public var expiresAt: Timestamp
    /// Unfinished executions its runners own in the store (filled in by ``ExecutionStore/hosts()``; ignored by
    /// ``ExecutionStore/announceHost(_:)``).
    public var owned: Int

    public init(
        id: String,
        address: String,
        version: String,
        capacity: Int,
        startedAt: Timestamp,
        heartbeatAt: Timestamp,
        expiresAt: Timestamp,
        owned: Int = 0
    ) {
        self.id = id
        self.address = address
        self.version = version
        self.capacity = capacity
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.expiresAt = expiresAt
        self.owned = owned
    }

    /// Whether it announced itself recently enough to count as live at `now`.
    public func isLive(at now: Timestamp) -> Bool { expiresAt.milliseconds > now.milliseconds }

    /// How long an entry stays listed after it expired, so that a host that died shows as not live for a while
    /// before it is forgotten.
    public static let retention: Duration = .seconds(600)
}
