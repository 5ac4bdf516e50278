#if canImport(Glibc)
internal import Glibc
#endif

/// A point in wall-clock time, in milliseconds since the Unix epoch: what stores persist and compare.
///
/// Wall-clock because retry schedules and leases must survive a restart; durations within one process use
/// `ContinuousClock` instead.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        let (seconds, attoseconds) = rhs.components
        return Timestamp(milliseconds: lhs.milliseconds + seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// The time from `other` to this timestamp.
    public func duration(since other: Timestamp) -> Duration {
        .milliseconds(milliseconds - other.milliseconds)
    }

    public var description: String { "\(milliseconds)ms" }
}
