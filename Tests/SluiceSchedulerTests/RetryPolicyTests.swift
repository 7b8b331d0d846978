import SluiceCore
import SluiceScheduler
import Testing

@Suite("Retry policy (the seed's table)")
struct RetryPolicyTests {
    let policy = RetryPolicy.seed

    @Test(arguments: [FailureCategory.connection, .network, .timeout, .databaseUnavailable])
    func connectionErrorsGetThreeAttemptsWithTwoFourEight(category: FailureCategory) {
        #expect(policy.attempts(for: category) == 3)
        #expect(policy.decision(for: category, attempt: 1) == .retry(afterSeconds: 2))
        #expect(policy.decision(for: category, attempt: 2) == .retry(afterSeconds: 4))
        #expect(policy.decision(for: category, attempt: 3) == .deadLetterAfter(seconds: 8))
        #expect(policy.decision(for: category, attempt: 4) == .deadLetterNow)
    }

    @Test func memoryErrorsGetTwoAttemptsWithFiveTen() {
        #expect(policy.attempts(for: .memory) == 2)
        #expect(policy.decision(for: .memory, attempt: 1) == .retry(afterSeconds: 5))
        #expect(policy.decision(for: .memory, attempt: 2) == .deadLetterAfter(seconds: 10))
    }

    @Test(arguments: [FailureCategory.schema, .permission, .parse, .unsupportedFormat, .notFound, .invalidInput])
    func permanentErrorsAreDeadLetteredAtOnce(category: FailureCategory) {
        #expect(policy.attempts(for: category) == 1)
        #expect(policy.decision(for: category, attempt: 1) == .deadLetterNow)
    }

    @Test func totalTimesMatchTheSeed() {
        #expect(RetryPolicy.seed.schedules[.connection]!.reduce(0, +) == 14)
        #expect(RetryPolicy.seed.schedules[.memory]!.reduce(0, +) == 15)
    }

    @Test func configurable() {
        let custom = RetryPolicy(connectionBackoff: [1], memoryBackoff: [3, 3, 3])
        #expect(custom.decision(for: .network, attempt: 1) == .deadLetterAfter(seconds: 1))
        #expect(custom.attempts(for: .memory) == 3)
    }
}
