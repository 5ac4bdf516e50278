import Foundation

/// One time zone's mapping between instants (seconds since the Unix epoch) and wall-clock "local seconds" (see
/// ``CivilDateTime``), including what happens around offset changes.
///
/// Offsets come from Foundation's `TimeZone` (the system zone data). It assumes a zone changes its offset at most
/// once within any two days and by at most a day, which holds for every zone from 1900 to 2100 (the largest change
/// is Samoa's 24 hours in 2011).
struct ZoneRules: Sendable, Hashable {
    /// An offset change: at `instant` the offset goes from `offsetBefore` to `offsetAfter` (seconds east of UTC).
    struct Transition: Sendable, Hashable {
        var instant: Int64
        var offsetBefore: Int64
        var offsetAfter: Int64
    }

    /// Longer than any overlap or gap, shorter than the time between two changes.
    private static let window: Int64 = 2 * 86_400

    let timeZone: TimeZone

    /// The offset from UTC in effect at `instant`, in seconds.
    func offset(at instant: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))))
    }

    /// What the wall clock shows at `instant`.
    func localSeconds(at instant: Int64) -> Int64 {
        instant + offset(at: instant)
    }

    /// The latest wall-clock time shown at any instant up to and including `instant`. The same as
    /// ``localSeconds(at:)`` except shortly after the clocks went back, when the repeated hour was already shown
    /// once before.
    func latestLocalSeconds(atOrBefore instant: Int64) -> Int64 {
        let current = offset(at: instant)
        let earlier = offset(at: instant - Self.window)
        guard earlier > current else { return instant + current }
        let change = firstInstant(from: instant - Self.window, through: instant) { offset(at: $0) != earlier }
        return max(instant + current, change - 1 + earlier)
    }

    /// The first instant at which the wall clock shows `local` or later: the instant of `local` itself, its first
    /// occurrence when the clocks went back, or the end of the gap when the clocks went forward over it.
    func firstInstant(showingAtLeast local: Int64) -> Int64 {
        let offsets = [offset(at: local - Self.window), offset(at: local + Self.window)]
        let valid = offsets.map { local - $0 }.filter { offset(at: $0) == local - $0 }
        if let first = valid.min() { return first }
        // In a gap: the instants from local - max to local - min show times on both sides of it.
        let low = local - offsets.max()!
        let high = local - offsets.min()!
        guard low < high else { return low }
        return firstInstant(from: low, through: high) { localSeconds(at: $0) >= local }
    }

    /// The offset changes at instants in `from...through`, oldest first.
    func transitions(from: Int64, through: Int64) -> [Transition] {
        var result: [Transition] = []
        var cursor = from - 1
        while let next = timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(cursor))) {
            let instant = Int64(next.timeIntervalSince1970.rounded())
            guard instant > cursor, instant <= through else { break }
            let transition = Transition(
                instant: instant,
                offsetBefore: offset(at: instant - 1),
                offsetAfter: offset(at: instant)
            )
            if transition.offsetBefore != transition.offsetAfter { result.append(transition) }
            cursor = instant
        }
        return result
    }

    /// The smallest instant in `from...through` where `condition` holds, given that it holds at `through` and, once
    /// it holds, keeps holding (a binary search).
    private func firstInstant(from: Int64, through: Int64, where condition: (Int64) -> Bool) -> Int64 {
        var (low, high) = (from, through)
        while low < high {
            let middle = low + (high - low) / 2
            if condition(middle) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
