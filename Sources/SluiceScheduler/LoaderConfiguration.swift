public import SluiceCore

/// How the loaders drain the journal.
public struct LoaderConfiguration: Sendable {
    /// `loader.workers`: concurrent loads (default 4; 0 = intake only, no loading).
    public var workers: Int
    /// `loader.memory_budget_bytes`: the memory all running loads may use together, by the estimate of the
    /// files' sizes (default 1 GiB; the seed sizes Lambdas at 512 MB–1 GB per load).
    public var memoryBudgetBytes: Int64
    /// `loader.table_concurrency`: loads that may run at once into one table (default 1).
    public var tableConcurrency: Int
    /// `loader.processing_timeout_s`: the most one batch may take (default 300, the seed's Lambda timeout);
    /// a batch over it is stopped and counts as a failed attempt (E004).
    public var processingTimeoutSeconds: Double
    /// `loader.batch_wait_s`: how long a table's files may wait for their batch to reach `batch_min` (default 5).
    public var batchWaitSeconds: Double
    /// `loader.batch_max_bytes`: the most bytes per batch by stated file sizes (default 536870912).
    public var batchMaxBytes: Int64
    /// `loader.poll_interval_ms`: how often idle loaders look for work when no event wakes them (default 250).
    public var pollIntervalMilliseconds: Int
    /// `loader.shutdown_grace_s`: on SIGTERM, how long running loads may finish before they are parked back
    /// to `queued` (default 30).
    public var shutdownGraceSeconds: Double
    /// `loader.retry.connection_backoff_s`: backoff after each failed attempt for connection, network, timeout
    /// and database-unavailable errors; its length is the number of attempts (default `[2, 4, 8]`).
    public var connectionBackoff: [Double]
    /// `loader.retry.memory_backoff_s`: the same for memory errors (default `[5, 10]`).
    public var memoryBackoff: [Double]
    /// `ledger.retention_days`: how long loaded file versions (and finished entries) are remembered so that
    /// redeliveries are answered `duplicate` (default 30; EventBridge redelivers for 24 h, SQS for 14 days).
    public var retentionDays: Int
    /// `dlq.sqs_queue_url`: an SQS queue each dead letter is also sent to (optional).
    public var deadLetterQueueURL: String?

    public init(
        workers: Int = 4, memoryBudgetBytes: Int64 = 1 << 30, tableConcurrency: Int = 1, processingTimeoutSeconds: Double = 300,
        batchWaitSeconds: Double = 5, batchMaxBytes: Int64 = 512 << 20, pollIntervalMilliseconds: Int = 250,
        shutdownGraceSeconds: Double = 30, connectionBackoff: [Double] = [2, 4, 8], memoryBackoff: [Double] = [5, 10],
        retentionDays: Int = 30, deadLetterQueueURL: String? = nil
    ) {
        self.workers = workers
        self.memoryBudgetBytes = memoryBudgetBytes
        self.tableConcurrency = tableConcurrency
        self.processingTimeoutSeconds = processingTimeoutSeconds
        self.batchWaitSeconds = batchWaitSeconds
        self.batchMaxBytes = batchMaxBytes
        self.pollIntervalMilliseconds = pollIntervalMilliseconds
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.connectionBackoff = connectionBackoff
        self.memoryBackoff = memoryBackoff
        self.retentionDays = retentionDays
        self.deadLetterQueueURL = deadLetterQueueURL
    }

    /// Reads the `loader.*`, `ledger.retention_days` and `dlq.*` keys (see each property).
    public init(values: ConfigValues) {
        let l = values.scoped("loader")
        workers = l.int("workers", default: 4, range: 0...256)
        memoryBudgetBytes = Int64(l.int("memory_budget_bytes", default: 1 << 30, range: (16 << 20)...(1 << 40)))
        tableConcurrency = l.int("table_concurrency", default: 1, range: 1...64)
        processingTimeoutSeconds = l.double("processing_timeout_s", default: 300, range: 1...86_400)
        batchWaitSeconds = l.double("batch_wait_s", default: 5, range: 0...3600)
        batchMaxBytes = Int64(l.int("batch_max_bytes", default: 512 << 20, range: 1...(1 << 40)))
        pollIntervalMilliseconds = l.int("poll_interval_ms", default: 250, range: 10...60_000)
        shutdownGraceSeconds = l.double("shutdown_grace_s", default: 30, range: 0...3600)
        let r = l.scoped("retry")
        connectionBackoff = Self.backoff(r, "connection_backoff_s", default: [2, 4, 8])
        memoryBackoff = Self.backoff(r, "memory_backoff_s", default: [5, 10])
        retentionDays = values.scoped("ledger").int("retention_days", default: 30, range: 1...3650)
        let url = values.scoped("dlq").optionalString("sqs_queue_url")
        deadLetterQueueURL = url.flatMap { $0.isEmpty ? nil : $0 }
        if let url = deadLetterQueueURL, !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            values.scoped("dlq").problem("sqs_queue_url", "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)")
        }
    }

    static func backoff(_ values: ConfigValues, _ key: String, default value: [Double]) -> [Double] {
        let raw = values.stringArray(key, default: value.map { String($0) })
        var out: [Double] = []
        for item in raw {
            guard let d = Double(item), d >= 0, d <= 3600 else {
                values.problem(key, "must be a list of seconds between 0 and 3600 (got \"\(item)\")")
                return value
            }
            out.append(d)
        }
        if out.isEmpty || out.count > 20 {
            values.problem(key, "must list between 1 and 20 backoffs (the number of attempts)")
            return value
        }
        return out
    }

    /// The retry policy these settings describe.
    public var retryPolicy: RetryPolicy {
        RetryPolicy(connectionBackoff: connectionBackoff, memoryBackoff: memoryBackoff)
    }
}
