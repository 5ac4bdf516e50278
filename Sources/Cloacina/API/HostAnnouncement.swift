/// What a host process tells the stores it serves about itself (``DefaultRunner/Configuration/announcement``): the
/// rest of its ``HostRecord`` (id, capacity, times) the runner fills in. Not a claim on anything.
public struct HostAnnouncement: Sendable, Hashable {
    /// Where its HTTP API listens (`host:port`), or "".
    public var address: String
    /// The program's version.
    public var version: String

    public init(address: String, version: String) {
        self.address = address
        self.version = version
    }
}
