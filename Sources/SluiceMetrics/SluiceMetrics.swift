public import Prometheus
import Synchronization

/// Every metric Sluice exports, in one place: names in snake_case with their unit, and bounded label sets
/// (source, outcome, domain, table, code, priority, route, method, status). A key, path or id is never a
/// label.
///
/// One instance owns one Prometheus registry; `GET /metrics` renders it with ``render()``.
public final class SluiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The intake counters, looked up once per label pair (intake counts every event).
    private let eventCounters = Mutex<[String: Counter]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", metricName: metric, unitName: unit, helpText: help)
    }

    // MARK: Intake

    static var eventsReceived: MetricNameDescriptor { name("events_received", "total", "Events received, by source and outcome (queued, duplicate, filtered, invalid, rejected).") }
    static var httpRequestDuration: MetricNameDescriptor { name("http_request_duration", "seconds", "HTTP request duration, by method, route and status.") }
    static var queueDepth: MetricNameDescriptor { name("queue_depth", "", "Entries waiting in the journal (queued, loading or retrying), by domain and priority.") }
    static var queueOldestAge: MetricNameDescriptor { name("queue_oldest_pending_age", "seconds", "Age of the oldest pending journal entry.") }
    static var journalWriteErrors: MetricNameDescriptor { name("journal_write_errors", "total", "Journal transactions that failed to commit.") }
    static var dlqMessages: MetricNameDescriptor { name("dlq_messages", "", "Dead letters waiting for review or replay.") }

    /// Counts events by source (`eventbridge`, `s3_notification`, `sqs_message`, `manual`) and outcome.
    public func eventReceived(source: String, outcome: String, count: Int = 1) {
        let key = source + "\u{1F}" + outcome
        let counter = eventCounters.withLock { cache in
            if let c = cache[key] { return c }
            let c = registry.makeCounter(descriptor: Self.eventsReceived, labels: [("source", source), ("outcome", outcome)])
            cache[key] = c
            return c
        }
        counter.increment(by: Int64(count))
    }

    static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
        .seconds(5), .seconds(10),
    ]

    /// Records one HTTP request. `route` is the route template (`/v1/loads/{correlation_id}`), never the path.
    public func httpRequest(method: String, route: String, status: Int, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.httpRequestDuration,
            labels: [("method", method), ("route", route), ("status", String(status))],
            buckets: Self.durationBuckets
        ).record(duration)
    }

    /// Sets the queue depth of one domain.
    public func setQueueDepth(domain: String, priority: String, depth: Int) {
        registry.makeGauge(descriptor: Self.queueDepth, labels: [("domain", domain), ("priority", priority)]).set(Double(depth))
    }

    /// Sets the age of the oldest pending entry (0 when none).
    public func setOldestPendingAge(seconds: Double) {
        registry.makeGauge(descriptor: Self.queueOldestAge).set(seconds)
    }

    public func journalWriteFailed() {
        registry.makeCounter(descriptor: Self.journalWriteErrors).increment()
    }

    /// Sets the number of dead letters not yet replayed.
    public func setDeadLetters(_ count: Int) {
        registry.makeGauge(descriptor: Self.dlqMessages).set(Double(count))
    }

    // MARK: Loading

    static var processingLatency: MetricNameDescriptor { name("processing_latency", "seconds", "From the S3 event time to the committed insert, by domain and table (ProcessingLatency).") }
    static var intakeLatency: MetricNameDescriptor { name("intake_latency", "seconds", "From acceptance by Sluice to the committed insert, by domain and table.") }
    static var loads: MetricNameDescriptor { name("loads", "total", "Files that reached a final outcome (success, failure, duplicate), by domain and table.") }
    static var loadErrors: MetricNameDescriptor { name("load_errors", "total", "Failed load attempts, by domain, table and error code.") }
    static var retries: MetricNameDescriptor { name("retries", "total", "Load attempts scheduled for retry, by domain, table and error code.") }
    static var rowsLoaded: MetricNameDescriptor { name("rows_loaded", "total", "Rows inserted into ClickHouse, by domain and table.") }
    static var bytesLoaded: MetricNameDescriptor { name("bytes_loaded", "total", "Parquet bytes loaded, by domain and table.") }
    static var loadsInFlight: MetricNameDescriptor { name("loads_in_flight", "", "Loads running now, by domain.") }
    static var s3RequestDuration: MetricNameDescriptor { name("s3_request_duration", "seconds", "S3 request duration, by operation and outcome.") }
    static var clickhouseRequestDuration: MetricNameDescriptor { name("clickhouse_request_duration", "seconds", "ClickHouse request duration, by operation and outcome.") }
    static var sqsMessages: MetricNameDescriptor { name("sqs_messages", "total", "SQS messages handled, by queue domain and outcome (received, journaled, deleted, released).") }

    static let latencyBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600), .seconds(1200), .seconds(3600),
    ]

    /// Records a committed load: latency from the S3 event (when known) and from intake.
    public func loadCommitted(domain: String, table: String, sinceEvent: Duration?, sinceIntake: Duration, rows: Int64, bytes: Int64, files: Int) {
        let labels = [("domain", domain), ("table", table)]
        if let sinceEvent {
            registry.makeDurationHistogram(descriptor: Self.processingLatency, labels: labels, buckets: Self.latencyBuckets).record(sinceEvent)
        }
        registry.makeDurationHistogram(descriptor: Self.intakeLatency, labels: labels, buckets: Self.latencyBuckets).record(sinceIntake)
        registry.makeCounter(descriptor: Self.loads, labels: labels + [("outcome", "success")]).increment(by: Int64(files))
        registry.makeCounter(descriptor: Self.rowsLoaded, labels: labels).increment(by: rows)
        registry.makeCounter(descriptor: Self.bytesLoaded, labels: labels).increment(by: bytes)
    }

    /// Records files that ended without loading: `failure` (dead-lettered) or `duplicate` (already loaded).
    public func loadEnded(domain: String, table: String, outcome: String, files: Int = 1) {
        registry.makeCounter(descriptor: Self.loads, labels: [("domain", domain), ("table", table), ("outcome", outcome)]).increment(by: Int64(files))
    }

    /// Records a failed attempt, and whether it will be retried.
    public func loadAttemptFailed(domain: String, table: String, code: String, willRetry: Bool) {
        let labels = [("domain", domain), ("table", table), ("code", code)]
        registry.makeCounter(descriptor: Self.loadErrors, labels: labels).increment()
        if willRetry { registry.makeCounter(descriptor: Self.retries, labels: labels).increment() }
    }

    /// Adjusts the number of running loads of a domain.
    public func loadsInFlight(domain: String, delta: Double) {
        registry.makeGauge(descriptor: Self.loadsInFlight, labels: [("domain", domain)]).increment(by: delta)
    }

    /// Records one S3 request (`head`, `get`, `list`, …; outcome `ok` or an error category).
    public func s3Request(operation: String, outcome: String, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.s3RequestDuration, labels: [("operation", operation), ("outcome", outcome)], buckets: Self.durationBuckets
        ).record(duration)
    }

    /// Records one ClickHouse request (`insert`, `query`, `attach`, …; outcome `ok` or an error category).
    public func clickhouseRequest(operation: String, outcome: String, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.clickhouseRequestDuration, labels: [("operation", operation), ("outcome", outcome)], buckets: Self.durationBuckets
        ).record(duration)
    }

    /// Counts SQS messages by domain and outcome.
    public func sqsMessage(domain: String, outcome: String, count: Int = 1) {
        registry.makeCounter(descriptor: Self.sqsMessages, labels: [("domain", domain), ("outcome", outcome)]).increment(by: Int64(count))
    }

    /// Creates every labelled series a dashboard expects at zero, so rates and ratios exist before the
    /// first event: per domain (and its priority) and per source.
    public func prime(domains: [(name: String, priority: String)]) {
        for source in ["eventbridge", "s3_notification", "sqs_message", "manual"] {
            for outcome in ["queued", "duplicate", "filtered", "invalid", "rejected"] {
                registry.makeCounter(descriptor: Self.eventsReceived, labels: [("source", source), ("outcome", outcome)]).increment(by: Int64(0))
            }
        }
        for d in domains {
            setQueueDepth(domain: d.name, priority: d.priority, depth: 0)
            registry.makeGauge(descriptor: Self.loadsInFlight, labels: [("domain", d.name)]).set(to: 0.0)
        }
        setDeadLetters(0)
        setOldestPendingAge(seconds: 0)
        registry.makeCounter(descriptor: Self.journalWriteErrors).increment(by: Int64(0))
    }
}
