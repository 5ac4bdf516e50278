public import Cloacina

/// Which package versions a host refuses to start, because their tasks keep killing worker processes.
///
/// A version whose workers died unasked (``WorkerCrashes``: a signal, an exit, a broken frame; never a worker the
/// host stopped itself) ``QuarantineRule/crashes`` times within ``QuarantineRule/window`` is quarantined: new executions of its
/// workflows are refused, while executions already running go on and fail their crashing attempts normally. The
/// quarantine ends when the version stops being served (a reload of a new version) or when the operator releases
/// it. A plain value: time is passed in, nothing is read from a clock or the disk here (``QuarantineFiles`` keeps
/// the entries across restarts).
struct Quarantine: Sendable, Equatable {
    let rule: QuarantineRule
    /// The quarantined versions, by SHA-256.
    private(set) var entries: [String: QuarantineEntry] = [:]
    /// The times of each version's recent crashes (within the window), oldest first.
    private var recent: [String: [ContinuousClock.Instant]] = [:]

    init(rule: QuarantineRule, entries: [QuarantineEntry] = []) {
        self.rule = rule
        for entry in entries { self.entries[entry.sha256] = entry }
    }

    /// Counts a crash of version `sha256` at `now`; returns the new entry when it quarantines the version.
    mutating func record(
        sha256: String,
        package: String,
        version: String,
        cause: String,
        now: ContinuousClock.Instant,
        wallClock: Timestamp
    ) -> QuarantineEntry? {
        guard rule.crashes > 0, entries[sha256] == nil else { return nil }
        var times = recent[sha256, default: []].filter { now - $0 < rule.window }
        times.append(now)
        guard times.count >= rule.crashes else {
            recent[sha256] = times
            return nil
        }
        recent[sha256] = nil
        let entry = QuarantineEntry(
            package: package,
            version: version,
            sha256: sha256,
            crashes: times.count,
            window: rule.window,
            since: wallClock,
            lastCause: cause
        )
        entries[sha256] = entry
        return entry
    }

    /// Ends the quarantine of `sha256` (and forgets its recent crashes); the entry it ended, if any.
    @discardableResult
    mutating func release(_ sha256: String) -> QuarantineEntry? {
        recent[sha256] = nil
        return entries.removeValue(forKey: sha256)
    }

    /// Keeps exactly `entries` (what the operator left on disk), releasing the others.
    mutating func reconcile(with entries: [QuarantineEntry]) {
        let kept = Set(entries.map(\.sha256))
        for sha256 in self.entries.keys where !kept.contains(sha256) { release(sha256) }
        for entry in entries where self.entries[entry.sha256] == nil { self.entries[entry.sha256] = entry }
    }
}

/// When a version is quarantined.
public struct QuarantineRule: Sendable, Equatable {
    /// Worker crashes within ``window`` that quarantine a version; 0 never quarantines.
    public var crashes: Int
    public var window: Duration

    public init(crashes: Int = 5, window: Duration = .seconds(300)) {
        self.crashes = crashes
        self.window = window
    }

    /// Never quarantines.
    public static let off = QuarantineRule(crashes: 0)
}

/// A quarantined version.
public struct QuarantineEntry: Sendable, Equatable {
    public var package: String
    public var version: String
    public var sha256: String
    /// The crashes that quarantined it, within ``window``.
    public var crashes: Int
    public var window: Duration
    /// When it was quarantined.
    public var since: Timestamp
    /// What the last crash was ("worker killed by SIGSEGV (Segmentation fault)").
    public var lastCause: String

    /// Why its workflows are refused, for errors and listings.
    public var reason: String {
        "package \(package) \(version) (sha256 \(sha256)) is quarantined: its tasks killed \(crashes) worker "
            + "processes within \(window.secondsText) (last: \(lastCause)); reload a new version or run "
            + "`cloacina workflows unquarantine \(package)`"
    }
}

extension Duration {
    /// "300 s", "1.5 s".
    fileprivate var secondsText: String {
        let milliseconds = inMilliseconds
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(Double(milliseconds) / 1000) s"
    }
}
