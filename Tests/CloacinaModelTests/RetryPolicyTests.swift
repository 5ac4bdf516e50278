import CCloacinaABI
import CloacinaJSON
import CloacinaModel
import Testing

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test("fixed, linear and exponential delays grow as documented and stop at the cap")
    func delays() {
        let fixed = RetryPolicy(
            maxAttempts: 5,
            backoff: .fixed,
            initialDelay: .milliseconds(100),
            maxDelay: .seconds(1)
        )
        #expect((1...4).map { fixed.delay(beforeRetry: $0) } == Array(repeating: .milliseconds(100), count: 4))

        let linear = RetryPolicy(
            maxAttempts: 5,
            backoff: .linear,
            initialDelay: .milliseconds(100),
            maxDelay: .milliseconds(250)
        )
        #expect(
            (1...4).map { linear.delay(beforeRetry: $0) } == [
                .milliseconds(100), .milliseconds(200), .milliseconds(250), .milliseconds(250),
            ]
        )

        let exponential = RetryPolicy(
            maxAttempts: 10,
            backoff: .exponential(multiplier: 3),
            initialDelay: .milliseconds(10),
            maxDelay: .milliseconds(500)
        )
        #expect(
            (1...5).map { exponential.delay(beforeRetry: $0) } == [
                .milliseconds(10), .milliseconds(30), .milliseconds(90), .milliseconds(270), .milliseconds(500),
            ]
        )
        #expect(exponential.delay(beforeRetry: 5000) == .milliseconds(500))
    }

    @Test("jitter varies a delay by at most its percentage and never exceeds the cap")
    func jitter() {
        let policy = RetryPolicy(
            maxAttempts: 3,
            backoff: .fixed,
            initialDelay: .milliseconds(1000),
            maxDelay: .milliseconds(1100),
            jitterPercent: 20
        )
        #expect(policy.delay(beforeRetry: 1, jitter: -1) == .milliseconds(800))
        #expect(policy.delay(beforeRetry: 1, jitter: 0) == .milliseconds(1000))
        #expect(policy.delay(beforeRetry: 1, jitter: 1) == .milliseconds(1100))
        #expect(policy.delay(beforeRetry: 1, jitter: 7) == .milliseconds(1100))
    }

    @Test("retry conditions decide which failures are retried, never bad input, never past max attempts")
    func conditions() {
        let all = RetryPolicy(maxAttempts: 3, condition: .allErrors)
        #expect(all.allowsRetry(after: .failed, attempt: 1))
        #expect(all.allowsRetry(after: .retryable, attempt: 2))
        #expect(all.allowsRetry(after: .timedOut, attempt: 2))
        #expect(!all.allowsRetry(after: .failed, attempt: 3))
        #expect(!all.allowsRetry(after: .badInput, attempt: 1))

        let retryableOnly = RetryPolicy(maxAttempts: 3, condition: .retryableOnly)
        #expect(retryableOnly.allowsRetry(after: .retryable, attempt: 1))
        #expect(!retryableOnly.allowsRetry(after: .failed, attempt: 1))

        let never = RetryPolicy(maxAttempts: 3, condition: .never)
        #expect(!never.allowsRetry(after: .retryable, attempt: 1))
        #expect(!RetryPolicy.none.allowsRetry(after: .retryable, attempt: 1))
    }

    @Test("the C form and the JSON form round-trip")
    func roundTrips() throws {
        let policy = RetryPolicy(
            maxAttempts: 4,
            backoff: .exponential(multiplier: 1.5),
            condition: .retryableOnly,
            initialDelay: .milliseconds(20),
            maxDelay: .seconds(2),
            jitterPercent: 10
        )
        #expect(try RetryPolicy(abi: policy.abi) == policy)
        #expect(try RetryPolicy(json: policy.json) == policy)
        #expect(try RetryPolicy(json: RetryPolicy.none.json) == .none)
    }

    @Test("unknown codes and out-of-range settings are errors, never defaults")
    func rejects() {
        var abi = RetryPolicy(maxAttempts: 2).abi
        abi.backoff = 9
        #expect(throws: DefinitionError.self) { try RetryPolicy(abi: abi) }
        abi = RetryPolicy(maxAttempts: 2).abi
        abi.condition = 0
        #expect(throws: DefinitionError.self) { try RetryPolicy(abi: abi) }
        abi = RetryPolicy(maxAttempts: 2).abi
        abi.max_attempts = 0
        #expect(throws: DefinitionError.self) { try RetryPolicy(abi: abi) }
        abi = RetryPolicy(maxAttempts: 2, initialDelay: .seconds(5), maxDelay: .seconds(1)).abi
        #expect(throws: DefinitionError.self) { try RetryPolicy(abi: abi) }
        abi = RetryPolicy(maxAttempts: 2, backoff: .exponential(multiplier: 0.5)).abi
        #expect(throws: DefinitionError.self) { try RetryPolicy(abi: abi) }
        abi = RetryPolicy(maxAttempts: 2, jitterPercent: 101).abi
        #expect(throws: DefinitionError.self) { try RetryPolicy(abi: abi) }

        var json = RetryPolicy(maxAttempts: 2).json
        json["backoff"] = "exponentail"
        #expect {
            try RetryPolicy(json: json)
        } throws: { error in
            "\(error)".contains("unknown backoff \"exponentail\"")
        }
        json = RetryPolicy(maxAttempts: 2).json
        json["retries"] = 3
        #expect(throws: DefinitionError.self) { try RetryPolicy(json: json) }
    }
}
