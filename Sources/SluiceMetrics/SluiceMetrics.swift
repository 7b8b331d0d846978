public import Prometheus

/// Every metric Sluice exports, in one place: names in snake_case with their unit, and bounded label sets
/// (source, outcome, domain, table, code, priority, route, method, status). A key, path or id is never a
/// label.
///
/// One instance owns one Prometheus registry; `GET /metrics` renders it with ``render()``.
public final class SluiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

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
        registry.makeCounter(descriptor: Self.eventsReceived, labels: [("source", source), ("outcome", outcome)])
            .increment(by: Int64(count))
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
}
