public import AWS
public import Logging
public import SluiceCore
public import SluiceIntake
public import SluiceJournal
public import SluiceMetrics
public import ServiceLifecycle
import EventPattern
import Foundation
import Synchronization

/// SQS consumer mode: `sqs.*`.
public struct SQSConsumerConfiguration: Sendable {
    /// `sqs.queue_urls`: the queues to consume, one per domain (`<env>-<domain>-load-queue`). Empty: push only.
    public var queueURLs: [String]
    /// `sqs.wait_time_s`: long-poll wait (default 20, the maximum).
    public var waitTimeSeconds: Int
    /// `sqs.max_messages`: messages per receive (default 10).
    public var maxMessages: Int
    /// `sqs.visibility_timeout_s`: how long a received message stays hidden, renewed while its load runs
    /// (default 1800, the seed's value: 6 × the processing timeout).
    public var visibilityTimeoutSeconds: Int
    /// `sqs.extend_interval_s`: how often the leases of running loads are renewed (default 60). Messages whose load
    /// committed are deleted as soon as their batch ends, whatever this is.
    public var extendIntervalSeconds: Double

    public init(queueURLs: [String] = [], waitTimeSeconds: Int = 20, maxMessages: Int = 10, visibilityTimeoutSeconds: Int = 1800, extendIntervalSeconds: Double = 60) {
        self.queueURLs = queueURLs
        self.waitTimeSeconds = waitTimeSeconds
        self.maxMessages = maxMessages
        self.visibilityTimeoutSeconds = visibilityTimeoutSeconds
        self.extendIntervalSeconds = extendIntervalSeconds
    }

    /// Reads the `sqs.*` keys (see each property).
    public init(values: ConfigValues) {
        let s = values.scoped("sqs")
        queueURLs = s.stringArray("queue_urls", default: [])
        for url in queueURLs where !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            s.problem("queue_urls", "\"\(url)\" is not a queue URL")
        }
        waitTimeSeconds = s.int("wait_time_s", default: 20, range: 0...20)
        maxMessages = s.int("max_messages", default: 10, range: 1...10)
        visibilityTimeoutSeconds = s.int("visibility_timeout_s", default: 1800, range: 30...43_200)
        extendIntervalSeconds = s.double("extend_interval_s", default: 60, range: 1...43_200)
        if extendIntervalSeconds * 2 >= Double(visibilityTimeoutSeconds) {
            s.problem("extend_interval_s", "must be less than half of sqs.visibility_timeout_s, or messages reappear while their load runs")
        }
    }
}

/// What the consumer needs from a queue (the SQS client, or a fake in tests).
public protocol MessageQueue: Sendable {
    func receive(queueURL: String, maxMessages: Int, waitTimeSeconds: Int, visibilityTimeoutSeconds: Int, logger: Logger) async throws -> [SQSMessage]
    func delete(queueURL: String, receiptHandles: [String: String], logger: Logger) async throws -> [String]
    func extend(queueURL: String, receiptHandle: String, visibilityTimeoutSeconds: Int, logger: Logger) async throws
}

extension SQSClient: MessageQueue {
    public func receive(queueURL: String, maxMessages: Int, waitTimeSeconds: Int, visibilityTimeoutSeconds: Int, logger: Logger) async throws -> [SQSMessage] {
        try await receiveMessages(queueURL: queueURL, maxMessages: maxMessages, waitTimeSeconds: waitTimeSeconds, visibilityTimeoutSeconds: visibilityTimeoutSeconds, logger: logger)
    }

    /// Deletes by `id → receipt handle`; returns the ids that were deleted.
    public func delete(queueURL: String, receiptHandles: [String: String], logger: Logger) async throws -> [String] {
        var deleted: [String] = []
        let entries = receiptHandles.sorted { $0.key < $1.key }.enumerated().map { SQSDeleteEntry(id: "m\($0.offset)", receiptHandle: $0.element.value) }
        let ids = receiptHandles.sorted { $0.key < $1.key }.map(\.key)
        for chunk in stride(from: 0, to: entries.count, by: 10) {
            let part = Array(entries[chunk..<min(chunk + 10, entries.count)])
            let result = try await deleteMessageBatch(queueURL: queueURL, entries: part, logger: logger)
            for id in result.successful { if let i = Int(id.dropFirst()) { deleted.append(ids[i]) } }
        }
        return deleted
    }

    public func extend(queueURL: String, receiptHandle: String, visibilityTimeoutSeconds: Int, logger: Logger) async throws {
        try await changeMessageVisibility(queueURL: queueURL, receiptHandle: receiptHandle, visibilityTimeoutSeconds: visibilityTimeoutSeconds, logger: logger)
    }
}

/// Consumes the transformed S3 messages from SQS: each message is journaled before anything else, kept
/// hidden (its visibility extended) while its load runs, and deleted only after its rows are committed.
/// A message whose load fails for good is simply no longer extended, so SQS's own redrive (maxReceiveCount)
/// moves it to the queue's dead-letter queue.
///
/// Several replicas may consume the same queues: a message is held by one consumer at a time, and a
/// redelivered message whose file version is already loaded is answered as a duplicate and deleted. A redelivered
/// message this replica has never seen is journaled as `redelivered`: another replica may have committed its file
/// and stopped before deleting it, so the loader first looks for the version's rows in the target table.
public final class SQSConsumer: Service, Sendable {
    let queue: any MessageQueue
    let journal: Journal
    let intake: Intake
    let configuration: SQSConsumerConfiguration
    let metrics: SluiceMetrics
    let logger: Logger
    let onQueued: @Sendable () -> Void
    private let leases = Mutex<[String: Lease]>([:])
    private let stopping = Mutex(false)
    private let settleRequests = WakeUp()
    private let settlePending = Mutex(false)

    struct Lease: Sendable {
        var queueURL: String
        var receiptHandle: String
        var correlationID: String
        var domain: String
    }

    public init(
        queue: any MessageQueue, journal: Journal, intake: Intake, configuration: SQSConsumerConfiguration,
        metrics: SluiceMetrics, logger: Logger, onQueued: @escaping @Sendable () -> Void = {}
    ) {
        self.queue = queue
        self.journal = journal
        self.intake = intake
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.onQueued = onQueued
    }

    public func run() async throws {
        guard !configuration.queueURLs.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        logger.notice("consuming SQS queues", metadata: ["queues": "\(configuration.queueURLs.count)"])
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for url in self.configuration.queueURLs {
                    group.addTask { await self.pollLoop(url) }
                }
                group.addTask { await self.leaseLoop() }
            }
        } onGracefulShutdown: {
            self.stopping.withLock { $0 = true }
        }
    }

    private var isStopping: Bool { stopping.withLock { $0 } }

    private func pollLoop(_ url: String) async {
        var failures = 0
        while !isStopping {
            do {
                let messages = try await queue.receive(
                    queueURL: url, maxMessages: configuration.maxMessages, waitTimeSeconds: configuration.waitTimeSeconds,
                    visibilityTimeoutSeconds: configuration.visibilityTimeoutSeconds, logger: logger
                )
                failures = 0
                if !messages.isEmpty { try await handle(messages, from: url) }
            } catch {
                failures += 1
                let backoff = min(30.0, pow(2.0, Double(min(failures, 5))))
                logger.error("SQS receive failed", metadata: ["queue": "\(url)", "error": "\(error)", "retry_in_s": "\(backoff)"])
                try? await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
            }
        }
    }

    /// Journals a batch of received messages, then deletes those that need no load.
    public func handle(_ messages: [SQSMessage], from url: String) async throws {
        var toDelete: [String: String] = [:]
        for message in messages {
            metrics.sqsMessage(domain: domainLabel(url), outcome: "received")
            let correlation = message.messageID
            let decoded: [DecodedEvent]
            do {
                let json = try JSONValue.parse(Array(message.body.utf8), maxDepth: 32)
                decoded = try EventDecoder.decodeMessages(json)
            } catch {
                let sluiceError = (error as? SluiceError) ?? SluiceError.invalidEvent("message body is not valid JSON: \(error)", field: "$")
                await invalid(message, error: sluiceError, correlationID: correlation)
                continue
            }
            var files: [QueuedFile] = []
            var allFiltered = true
            for event in decoded {
                do {
                    switch try intake.decide(event, fallbackCorrelationID: "sqs-\(message.messageID)") {
                    case .accept(var file):
                        // Received before: maybe by another replica that loaded it and stopped before deleting it.
                        file.redelivered = (message.approximateReceiveCount ?? 1) > 1
                        files.append(file)
                        allFiltered = false
                    case .filter(let reason, let id):
                        logger.info("SQS message filtered", metadata: ["correlation_id": "\(id)", "reason": "\(reason)", "message_id": "\(message.messageID)"])
                    case .invalid(let error, _, let id):
                        await invalid(message, error: error, correlationID: id)
                        allFiltered = false
                    }
                } catch {
                    await invalid(message, error: error, correlationID: correlation)
                    allFiltered = false
                }
            }
            if files.isEmpty {
                if allFiltered {
                    toDelete[message.messageID] = message.receiptHandle
                    metrics.sqsMessage(domain: domainLabel(url), outcome: "filtered")
                }
                continue
            }
            switch try await journal.enqueue(files) {
            case .full(let reason):
                // Not journaled: leave the message to reappear after its visibility timeout.
                logger.warning("journal full; SQS message left in the queue", metadata: ["message_id": "\(message.messageID)", "reason": "\(reason)"])
                try? await queue.extend(queueURL: url, receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: 30, logger: logger)
            case .accepted(let outcomes):
                metrics.sqsMessage(domain: files[0].domain, outcome: "journaled")
                var anyPending = false
                for outcome in outcomes {
                    switch outcome {
                    case .queued(let id, _):
                        anyPending = true
                        leases.withLock { $0[message.messageID] = Lease(queueURL: url, receiptHandle: message.receiptHandle, correlationID: id, domain: files[0].domain) }
                        logger.info("SQS message journaled", metadata: ["correlation_id": "\(id)", "message_id": "\(message.messageID)"])
                    case .duplicate(_, let existing, let state):
                        if state == .loaded {
                            toDelete[message.messageID] = message.receiptHandle
                        } else if state.isPending {
                            anyPending = true
                            leases.withLock { $0[message.messageID] = Lease(queueURL: url, receiptHandle: message.receiptHandle, correlationID: existing, domain: files[0].domain) }
                        }
                        logger.info("SQS message is a duplicate", metadata: ["correlation_id": "\(existing)", "state": "\(state.rawValue)", "message_id": "\(message.messageID)"])
                    }
                }
                if anyPending { onQueued() }
            }
        }
        if !toDelete.isEmpty {
            let deleted = try await queue.delete(queueURL: url, receiptHandles: toDelete, logger: logger)
            metrics.sqsMessage(domain: domainLabel(url), outcome: "deleted", count: deleted.count)
        }
    }

    private func invalid(_ message: SQSMessage, error: SluiceError, correlationID: String) async {
        metrics.eventReceived(source: EventSource.sqsMessage.rawValue, outcome: "invalid")
        logger.warning(
            "invalid SQS message; leaving it for the queue's redrive",
            metadata: ["correlation_id": "\(correlationID)", "message_id": "\(message.messageID)", "code": "\(error.code.rawValue)", "error": "\(error.message)"]
        )
        // Record it once, on its first delivery; SQS's redrive moves it to the queue's DLQ after maxReceiveCount.
        guard (message.approximateReceiveCount ?? 1) <= 1 else { return }
        _ = try? await journal.recordInvalid(InvalidPayload(correlationID: correlationID, error: error, source: "sqs", payload: message.body))
    }

    /// Asks for the messages of finished loads to be deleted now (the loaders call it after every batch).
    public func settle() {
        settlePending.withLock { $0 = true }
        settleRequests.signal()
    }

    /// After every batch (``settle()``), and at least every second: deletes the messages whose load committed, so
    /// that a crash leaves as few loaded files' messages as possible for another replica to load again. Every
    /// `sqs.extend_interval_s`: renews the leases of the rest.
    private func leaseLoop() async {
        var lastExtend = ContinuousClock.now
        while !isStopping {
            let extend = ContinuousClock.now - lastExtend >= .milliseconds(Int(configuration.extendIntervalSeconds * 1000))
            settlePending.withLock { $0 = false }
            await renewLeases(extend: extend)
            if extend { lastExtend = ContinuousClock.now }
            if !settlePending.withLock({ $0 }) { await settleRequests.wait(timeoutMilliseconds: 1000) }
        }
    }

    /// Deletes the messages whose load committed, stops renewing those that failed for good, and (with `extend`)
    /// renews the rest.
    public func renewLeases(extend: Bool = true) async {
        let current = leases.withLock { $0 }
        var deletes: [String: [String: String]] = [:]
        for (messageID, lease) in current {
            guard let (entry, _) = try? await journal.entry(correlationID: lease.correlationID) else { continue }
            switch entry.state {
            case .loaded:
                deletes[lease.queueURL, default: [:]][messageID] = lease.receiptHandle
            case .deadLettered:
                leases.withLock { _ = $0.removeValue(forKey: messageID) }
                metrics.sqsMessage(domain: lease.domain, outcome: "released")
                logger.warning("load failed for good; the message goes back to the queue for its redrive", metadata: ["correlation_id": "\(lease.correlationID)", "message_id": "\(messageID)"])
            default:
                guard extend else { continue }
                do {
                    try await queue.extend(queueURL: lease.queueURL, receiptHandle: lease.receiptHandle, visibilityTimeoutSeconds: configuration.visibilityTimeoutSeconds, logger: logger)
                } catch {
                    logger.error("could not extend an SQS lease", metadata: ["correlation_id": "\(lease.correlationID)", "message_id": "\(messageID)", "error": "\(error)"])
                }
            }
        }
        for (url, handles) in deletes {
            do {
                let deleted = try await queue.delete(queueURL: url, receiptHandles: handles, logger: logger)
                leases.withLock { l in for id in deleted { l.removeValue(forKey: id) } }
                metrics.sqsMessage(domain: domainLabel(url), outcome: "deleted", count: deleted.count)
            } catch {
                logger.error("could not delete loaded SQS messages", metadata: ["queue": "\(url)", "error": "\(error)"])
            }
        }
    }

    /// Messages held now (journaled, load not finished).
    public var heldMessages: Int { leases.withLock { $0.count } }

    /// A bounded label for a queue: the domain its name mentions (`<env>-<domain>-load-queue`), else `other`.
    func domainLabel(_ url: String) -> String {
        let name = url.split(separator: "/").last.map(String.init) ?? ""
        return intake.configuration.domains.first { name.contains("-\($0.name)-") }?.name ?? "other"
    }
}
