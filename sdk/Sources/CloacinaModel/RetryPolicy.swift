public import CCloacinaABI
public import CloacinaJSON

/// How a failed task is tried again: how many attempts, how long to wait between them, and which failures count.
///
/// A policy is a plain value; it neither sleeps nor schedules. ``delay(beforeRetry:jitter:)`` computes a wait and
/// ``allowsRetry(after:attempt:)`` decides whether another attempt is due; the engine acts on both.
public struct RetryPolicy: Sendable, Hashable {
    /// How the delay grows from one retry to the next.
    public enum Backoff: Sendable, Hashable {
        /// Every delay is the initial delay.
        case fixed
        /// Retry `n` waits `initialDelay * n`.
        case linear
        /// Retry `n` waits `initialDelay * multiplier^(n-1)`.
        case exponential(multiplier: Double)
    }

    /// Which failures are retried. Bad input is never retried.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        /// Failures and retryable failures.
        case allErrors = "all_errors"
        /// Nothing.
        case never
        /// Only failures the task marked retryable.
        case retryableOnly = "retryable_only"
    }

    /// How a task attempt ended, as far as retrying is concerned.
    public enum Failure: Sendable, Hashable {
        case failed
        case retryable
        case badInput
        case timedOut
    }

    /// The most attempts accepted, so a typo cannot schedule a task forever.
    public static let maximumAttempts = 10_000
    /// The longest delay accepted.
    public static let maximumDelay = Duration.seconds(30 * 24 * 3600)

    /// Total attempts including the first, at least 1.
    public var maxAttempts: Int
    public var backoff: Backoff
    public var condition: Condition
    /// Delay before the first retry.
    public var initialDelay: Duration
    /// Cap on any delay.
    public var maxDelay: Duration
    /// Each delay varies randomly by up to plus or minus this percentage (0...100).
    public var jitterPercent: Int

    /// Creates a policy; ``validate()`` says whether the engine accepts it.
    public init(
        maxAttempts: Int,
        backoff: Backoff = .exponential(multiplier: 2),
        condition: Condition = .allErrors,
        initialDelay: Duration = .milliseconds(100),
        maxDelay: Duration = .seconds(60),
        jitterPercent: Int = 0
    ) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.condition = condition
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.jitterPercent = jitterPercent
    }

    /// A single attempt: nothing is retried.
    public static let none = RetryPolicy(
        maxAttempts: 1,
        backoff: .fixed,
        condition: .never,
        initialDelay: .zero,
        maxDelay: .zero
    )

    /// Throws a ``DefinitionError`` naming the first setting out of range.
    public func validate() throws(DefinitionError) {
        func fail(_ message: String) -> DefinitionError {
            DefinitionError(.invalidRetryPolicy, "retry policy: \(message)")
        }
        guard (1...Self.maximumAttempts).contains(maxAttempts) else {
            throw fail("max attempts must be between 1 and \(Self.maximumAttempts), got \(maxAttempts)")
        }
        guard initialDelay >= .zero, maxDelay >= .zero else { throw fail("delays must not be negative") }
        guard maxDelay <= Self.maximumDelay else { throw fail("max delay must be at most 30 days") }
        guard initialDelay <= maxDelay else {
            throw fail(
                "initial delay (\(initialDelay.inMilliseconds) ms) exceeds max delay (\(maxDelay.inMilliseconds) ms)"
            )
        }
        guard (0...100).contains(jitterPercent) else {
            throw fail("jitter must be 0...100 percent, got \(jitterPercent)")
        }
        if case .exponential(let multiplier) = backoff, !(multiplier.isFinite && multiplier >= 1 && multiplier <= 1000)
        {
            throw fail("exponential multiplier must be between 1 and 1000, got \(multiplier)")
        }
    }

    /// Whether a task that ended with `failure` on attempt `attempt` (1-based) gets another attempt.
    public func allowsRetry(after failure: Failure, attempt: Int) -> Bool {
        guard attempt < maxAttempts else { return false }
        switch (condition, failure) {
        case (.never, _), (_, .badInput): return false
        case (.allErrors, _): return true
        case (.retryableOnly, .retryable): return true
        case (.retryableOnly, _): return false
        }
    }

    /// The wait before retry `retry` (1 for the first retry), capped at ``maxDelay``.
    ///
    /// - Parameter jitter: a number in `-1...1` scaling the jitter; pass a random one, or 0 for the nominal delay.
    public func delay(beforeRetry retry: Int, jitter: Double = 0) -> Duration {
        let initial = Double(initialDelay.inMilliseconds)
        let cap = Double(maxDelay.inMilliseconds)
        let step = Double(max(retry, 1))
        var delay: Double
        switch backoff {
        case .fixed: delay = initial
        case .linear: delay = initial * step
        case .exponential(let multiplier): delay = initial * pow(multiplier, step - 1)
        }
        if !delay.isFinite || delay > cap { delay = cap }
        delay += delay * Double(jitterPercent) / 100 * min(max(jitter, -1), 1)
        return .milliseconds(Int64(min(max(delay, 0), cap).rounded()))
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 && result.isFinite {
            result *= base
            remaining -= 1
        }
        return result
    }
}

extension RetryPolicy {
    /// Reads a policy from its C form, rejecting unknown backoff and condition codes.
    public init(abi policy: cloacina_retry_policy) throws(DefinitionError) {
        func fail(_ message: String) -> DefinitionError {
            DefinitionError(.invalidRetryPolicy, "retry policy: \(message)")
        }
        let backoff: Backoff
        switch policy.backoff {
        case UInt32(CLOACINA_BACKOFF_FIXED): backoff = .fixed
        case UInt32(CLOACINA_BACKOFF_LINEAR): backoff = .linear
        case UInt32(CLOACINA_BACKOFF_EXPONENTIAL): backoff = .exponential(multiplier: policy.multiplier)
        default: throw fail("unknown backoff code \(policy.backoff) (expected 1 fixed, 2 linear or 3 exponential)")
        }
        let condition: Condition
        switch policy.condition {
        case UInt32(CLOACINA_RETRY_ALL_ERRORS): condition = .allErrors
        case UInt32(CLOACINA_RETRY_NEVER): condition = .never
        case UInt32(CLOACINA_RETRY_RETRYABLE_ONLY): condition = .retryableOnly
        default:
            throw fail(
                "unknown retry condition code \(policy.condition) (expected 1 all errors, 2 never or 3 retryable only)"
            )
        }
        let limit = UInt64(Self.maximumDelay.inMilliseconds)
        guard policy.initial_delay_ms <= limit, policy.max_delay_ms <= limit else {
            throw fail("max delay must be at most 30 days")
        }
        guard policy.max_attempts <= UInt32(Self.maximumAttempts) else {
            throw fail("max attempts must be between 1 and \(Self.maximumAttempts), got \(policy.max_attempts)")
        }
        self.init(
            maxAttempts: Int(policy.max_attempts),
            backoff: backoff,
            condition: condition,
            initialDelay: .milliseconds(Int64(policy.initial_delay_ms)),
            maxDelay: .milliseconds(Int64(policy.max_delay_ms)),
            jitterPercent: Int(min(policy.jitter_percent, 1000))
        )
        try validate()
    }

    /// The policy in its C form.
    public var abi: cloacina_retry_policy {
        var policy = cloacina_retry_policy()
        policy.struct_size = UInt32(MemoryLayout<cloacina_retry_policy>.size)
        policy.max_attempts = UInt32(clamping: maxAttempts)
        switch backoff {
        case .fixed:
            policy.backoff = UInt32(CLOACINA_BACKOFF_FIXED)
        case .linear:
            policy.backoff = UInt32(CLOACINA_BACKOFF_LINEAR)
        case .exponential(let multiplier):
            policy.backoff = UInt32(CLOACINA_BACKOFF_EXPONENTIAL)
            policy.multiplier = multiplier
        }
        switch condition {
        case .allErrors: policy.condition = UInt32(CLOACINA_RETRY_ALL_ERRORS)
        case .never: policy.condition = UInt32(CLOACINA_RETRY_NEVER)
        case .retryableOnly: policy.condition = UInt32(CLOACINA_RETRY_RETRYABLE_ONLY)
        }
        policy.initial_delay_ms = UInt64(clamping: initialDelay.inMilliseconds)
        policy.max_delay_ms = UInt64(clamping: maxDelay.inMilliseconds)
        policy.jitter_percent = UInt32(clamping: jitterPercent)
        return policy
    }

    /// The policy as JSON, for reports.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "max_attempts": .int(maxAttempts),
            "condition": .string(condition.rawValue),
            "initial_delay_ms": .int(Int(initialDelay.inMilliseconds)),
            "max_delay_ms": .int(Int(maxDelay.inMilliseconds)),
            "jitter_percent": .int(jitterPercent),
        ]
        switch backoff {
        case .fixed: members["backoff"] = "fixed"
        case .linear: members["backoff"] = "linear"
        case .exponential(let multiplier):
            members["backoff"] = "exponential"
            members["multiplier"] = .double(multiplier)
        }
        return .object(members)
    }
}

extension RetryPolicy {
    /// Reads the JSON form written by ``json``, rejecting unknown keys and names.
    public init(json: JSONValue) throws(DefinitionError) {
        func fail(_ message: String) -> DefinitionError {
            DefinitionError(.invalidRetryPolicy, "retry policy: \(message)")
        }
        guard case .object(let members) = json else { throw fail("expected a JSON object, got \(json.kindName)") }
        let allowed: Set<String> = [
            "max_attempts", "backoff", "multiplier", "condition", "initial_delay_ms", "max_delay_ms", "jitter_percent",
        ]
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw fail("unknown key \"\(unknown)\"")
        }
        func integer(_ key: String) throws(DefinitionError) -> Int {
            guard let value = members[key]?.intValue else { throw fail("\"\(key)\" must be an integer") }
            return value
        }
        let backoff: Backoff
        switch members["backoff"]?.stringValue {
        case "fixed": backoff = .fixed
        case "linear": backoff = .linear
        case "exponential":
            guard let multiplier = members["multiplier"]?.doubleValue else {
                throw fail("exponential backoff needs a numeric \"multiplier\"")
            }
            backoff = .exponential(multiplier: multiplier)
        case let other:
            throw fail(
                "unknown backoff \(other.map { "\"\($0)\"" } ?? "(missing)") (expected fixed, linear or exponential)"
            )
        }
        guard let conditionName = members["condition"]?.stringValue, let condition = Condition(rawValue: conditionName)
        else {
            throw fail("\"condition\" must be one of all_errors, never, retryable_only")
        }
        self.init(
            maxAttempts: try integer("max_attempts"),
            backoff: backoff,
            condition: condition,
            initialDelay: .milliseconds(try integer("initial_delay_ms")),
            maxDelay: .milliseconds(try integer("max_delay_ms")),
            jitterPercent: try integer("jitter_percent")
        )
        try validate()
    }
}
