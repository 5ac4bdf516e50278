/// The values one cron field selects, as a bit set over 0-63, with the neighbour and counting queries the fire-time
/// search needs.
///
/// Holds values only; which field it belongs to and what is valid there is ``CronField``'s business.
struct CronValueSet: Sendable, Hashable {
    private(set) var bits: UInt64 = 0

    init() {}

    mutating func insert(_ value: Int) {
        bits |= 1 << UInt64(value)
    }

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0
    }

    var count: Int { bits.nonzeroBitCount }

    /// The smallest value at or above `value`, if any.
    func next(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let candidates = value <= 0 ? bits : bits & ~((1 << UInt64(value)) - 1)
        return candidates == 0 ? nil : candidates.trailingZeroBitCount
    }

    /// The largest value at or below `value`, if any.
    func previous(atOrBefore value: Int) -> Int? {
        guard value >= 0 else { return nil }
        let candidates = value >= 63 ? bits : bits & ((1 << UInt64(value + 1)) - 1)
        return candidates == 0 ? nil : 63 - candidates.leadingZeroBitCount
    }

    /// How many values are at or above `value`.
    func count(atOrAfter value: Int) -> Int {
        guard value < 64 else { return 0 }
        return (value <= 0 ? bits : bits & ~((1 << UInt64(value)) - 1)).nonzeroBitCount
    }
}
