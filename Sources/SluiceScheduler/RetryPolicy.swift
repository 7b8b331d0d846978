public import SluiceCore

/// The seed's retry table, by failure category.
///
/// | category | attempts | backoff after each failed attempt |
/// |---|---|---|
/// | connection, network, timeout, database unavailable | 3 | 2 s, 4 s, 8 s |
/// | memory | 2 | 5 s, 10 s |
/// | schema, permission, parse, unsupported format, missing object, invalid input | 1 | none: dead letter at once |
///
/// Every column of the seed's table holds together when each failed attempt is followed by its backoff: after
/// the last attempt its backoff still runs out (the seed's "total time": ~14 s and ~15 s) and the entry is then
/// dead-lettered without another attempt. Never an infinite retry: the number of attempts is the length of the
/// schedule.
public struct RetryPolicy: Sendable, Hashable {
    /// Backoff (seconds) after each failed attempt; the count is the number of attempts. Empty: no retry.
    public var schedules: [FailureCategory: [Double]]

    public init(schedules: [FailureCategory: [Double]]) {
        self.schedules = schedules
    }

    /// The seed's policy.
    public static let seed = RetryPolicy(connectionBackoff: [2, 4, 8], memoryBackoff: [5, 10])

    public init(connectionBackoff: [Double], memoryBackoff: [Double]) {
        var schedules: [FailureCategory: [Double]] = [:]
        for c in FailureCategory.allCases {
            switch c {
            case .connection, .network, .timeout, .databaseUnavailable: schedules[c] = connectionBackoff
            case .memory: schedules[c] = memoryBackoff
            case .invalidInput, .unsupportedFormat, .parse, .schema, .permission, .notFound: schedules[c] = []
            }
        }
        self.schedules = schedules
    }

    /// What to do after a failed attempt.
    public enum Decision: Sendable, Hashable {
        /// Try again after this many seconds.
        case retry(afterSeconds: Double)
        /// Attempts used up: dead-letter once this many seconds have passed (the last backoff).
        case deadLetterAfter(seconds: Double)
        /// Dead-letter now.
        case deadLetterNow
    }

    /// The decision after failed attempt number `attempt` (1 for the first).
    public func decision(for category: FailureCategory, attempt: Int) -> Decision {
        let schedule = schedules[category] ?? []
        guard attempt >= 1, attempt <= schedule.count else { return .deadLetterNow }
        let backoff = schedule[attempt - 1]
        return attempt < schedule.count ? .retry(afterSeconds: backoff) : .deadLetterAfter(seconds: backoff)
    }

    /// The number of attempts a category gets (1 when it never retries).
    public func attempts(for category: FailureCategory) -> Int {
        max(1, schedules[category]?.count ?? 0)
    }
}
