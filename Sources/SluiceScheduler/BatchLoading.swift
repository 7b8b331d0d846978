public import Logging
public import SluiceCore
public import SluiceJournal

/// What the scheduler asks of the load step: load one claimed batch exactly once.
///
/// The load step records what it achieves in the journal itself (files loaded, or skipped as duplicates),
/// and reports failures back; the scheduler alone decides retries, backoff and dead-lettering, from the
/// failure's category.
public protocol BatchLoading: Sendable {
    /// Loads the batch. Cancellation (the processing timeout, shutdown) may interrupt it at any point; the
    /// load step must leave the journal and ClickHouse in a state a later attempt resumes from.
    func load(_ batch: ClaimedBatch, logger: Logger) async -> BatchLoadResult

    /// Periodic housekeeping (for example, dropping staging tables of abandoned loads).
    func maintenance(logger: Logger) async
}

extension BatchLoading {
    public func maintenance(logger: Logger) async {}
}

/// What happened to a batch's files.
public struct BatchLoadResult: Sendable {
    /// Files that were loaded; the load step has already marked them `loaded` in the journal.
    public var loaded: [Int64: FileStats]
    /// Files that needed no load (already loaded versions, skipped versions); already marked in the journal.
    public var skipped: [Int64: String]
    /// Files that failed on their own, with the error (the load step has taken them out of the batch).
    public var failed: [Int64: SluiceError]
    /// A failure of the whole batch (ClickHouse or S3 unreachable, memory, …): every file not listed above
    /// failed with it.
    public var batchError: SluiceError?

    public struct FileStats: Sendable, Hashable {
        public var rows: Int64
        public var bytes: Int64

        public init(rows: Int64, bytes: Int64) {
            self.rows = rows
            self.bytes = bytes
        }
    }

    public init(loaded: [Int64: FileStats] = [:], skipped: [Int64: String] = [:], failed: [Int64: SluiceError] = [:], batchError: SluiceError? = nil) {
        self.loaded = loaded
        self.skipped = skipped
        self.failed = failed
        self.batchError = batchError
    }
}

/// Where dead letters are also sent (an SQS queue, `dlq.sqs_queue_url`).
public protocol DeadLetterForwarding: Sendable {
    func forward(_ letter: DeadLetter, entry: JournalEntry?) async throws
}
