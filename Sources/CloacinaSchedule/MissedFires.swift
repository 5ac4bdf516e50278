/// The fire times a schedule missed and which of them a ``CatchUpPolicy`` keeps.
///
/// A result to act on and to count in metrics; it starts nothing.
public struct MissedFires: Sendable, Hashable {
    /// The missed fire times to run now, oldest first (milliseconds since the epoch).
    public let fires: [Int64]
    /// How many fire times were missed in all.
    public let missed: Int

    public init(fires: [Int64], missed: Int) {
        self.fires = fires
        self.missed = missed
    }

    /// The missed fire times that will not run: left out by the policy or beyond the cap.
    public var dropped: Int { missed - fires.count }
}
