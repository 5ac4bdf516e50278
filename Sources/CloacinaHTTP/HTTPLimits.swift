#if canImport(Glibc)
internal import Glibc
#endif

/// How long the API waits for a client and how many clients it serves at once, so held-open or half-sent requests
/// cannot use up the host's file descriptors.
///
/// - `headerTimeout`: from the first byte of a request to the end of its header.
/// - `bodyTimeout`: from the end of a request's header to the end of its body.
/// - `idleTimeout`: how long a connection may stay open with no request in progress (after it opens, or after the
///   last answer), before the first byte of the next one.
/// - `maxConnections`: connections served at once; further ones are accepted and closed at once.
///
/// A connection that exceeds a timeout is closed without an answer. The time a handler takes to answer (a
/// `?wait=true` request, say) is never limited.
public struct HTTPLimits: Sendable, Hashable {
    public var headerTimeout: Duration
    public var bodyTimeout: Duration
    public var idleTimeout: Duration
    public var maxConnections: Int

    public init(
        headerTimeout: Duration = .seconds(10),
        bodyTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60),
        maxConnections: Int = HTTPLimits.defaultMaxConnections
    ) {
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    /// Half of the process's open-file limit (the rest stays for stores, packages and the probe), between 16
    /// and 1024.
    public static var defaultMaxConnections: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else {
            return 1024
        }
        return min(1024, max(16, Int(clamping: limit.rlim_cur) / 2))
    }
}
