public import Logging
public import ServiceLifecycle
public import SluiceJournal
public import SluiceMetrics
public import SluiceScheduler
import AWS
import ClickHouse
import Foundation
import SluiceCore
import SluiceIntake
import SluiceLoader
import Synchronization

/// Everything behind intake: the AWS and ClickHouse clients, the loaders, the SQS consumer, and the checks
/// `/ready` runs against them.
public final class Pipeline: Sendable {
    public let scheduler: LoadScheduler
    public let consumer: SQSConsumer
    public let readinessChecks: [any ReadinessCheck]
    let clients: LoadClients

    /// Builds the pipeline. Nothing runs until its services run.
    public init(configuration: SluiceConfiguration, journal: Journal, metrics: SluiceMetrics, logger: Logger) throws {
        let load = configuration.load
        let clients: LoadClients
        do {
            clients = try LoadClients(configuration: load, metrics: metrics, logger: logger)
        } catch {
            throw ConfigurationError(problems: [ConfigProblem(key: "clickhouse/s3", reason: "\(error)")])
        }
        self.clients = clients
        let loader = clients.loader(configuration: load, journal: journal, minimumObjectBytes: configuration.intake.minSize, logger: logger)
        let forwarder: (any DeadLetterForwarding)? = configuration.loader.deadLetterQueueURL.flatMap { url in
            clients.aws.map { SQSDeadLetterForwarder(sqs: $0.sqs, queueURL: url, logger: logger) }
        }
        let scheduler = LoadScheduler(
            journal: journal, loader: loader, configuration: configuration.loader,
            domains: configuration.intake.domains, metrics: metrics, logger: logger, forwarder: forwarder
        )
        self.scheduler = scheduler
        let intake = try Intake(configuration: configuration.intake)
        let sqs: any MessageQueue = clients.aws?.sqs ?? NoQueue()
        let consumer = SQSConsumer(
            queue: sqs, journal: journal, intake: intake, configuration: configuration.sqs, metrics: metrics, logger: logger,
            onQueued: { scheduler.wake() }
        )
        // Weak: the consumer already holds the scheduler (onQueued); a cycle would keep both, and the journal, alive.
        scheduler.onBatchFinished { [weak consumer] in consumer?.settle() }
        self.consumer = consumer
        var checks: [any ReadinessCheck] = []
        if configuration.loader.workers > 0 {
            checks.append(ClickHouseReadiness(client: clients.clickhouse))
            if let aws = clients.aws {
                let probe = (configuration.intake.domains.first?.prefix ?? "") + ".sluice-readiness"
                checks.append(S3Readiness(s3: aws.s3, bucket: configuration.intake.bucket, probeKey: probe, logger: logger))
            }
        }
        readinessChecks = checks
    }

    /// In start order; a `ServiceGroup` stops them in reverse (SQS polling, then the loaders).
    public var services: [any Service] { [scheduler, consumer] }

    /// Wakes idle loaders (something was queued).
    public func wake() { scheduler.wake() }

    /// Closes the clients once every service has stopped.
    public func shutdown() async {
        await clients.shutdown()
    }
}

/// A queue that never has messages (no AWS clients).
struct NoQueue: MessageQueue {
    func receive(queueURL: String, maxMessages: Int, waitTimeSeconds: Int, visibilityTimeoutSeconds: Int, logger: Logger) async throws -> [SQSMessage] { [] }
    func delete(queueURL: String, receiptHandles: [String: String], logger: Logger) async throws -> [String] { [] }
    func extend(queueURL: String, receiptHandle: String, visibilityTimeoutSeconds: Int, logger: Logger) async throws {}
}

/// `/ready`'s ClickHouse check: `SELECT 1` within two seconds, remembered for five.
final class ClickHouseReadiness: ReadinessCheck {
    let client: ClickHouseClient
    let cache = CheckCache()
    var name: String { "clickhouse" }

    init(client: ClickHouseClient) { self.client = client }

    func check() async -> String? {
        await cache.value {
            await withTimeout(seconds: 2) {
                do {
                    try await self.client.ping()
                    return nil
                } catch {
                    return "\(error)"
                }
            } ?? "no answer within 2 s"
        }
    }
}

/// `/ready`'s S3 check: S3 answers at all. A HEAD of a key that does not exist answers 404 (or 403 without
/// list permission, as least-privilege roles have): both prove S3 is reachable and the credentials resolve.
final class S3Readiness: ReadinessCheck {
    let s3: S3Client
    let bucket: String
    let probeKey: String
    let logger: Logger
    let cache = CheckCache()
    var name: String { "s3" }

    init(s3: S3Client, bucket: String, probeKey: String, logger: Logger) {
        self.s3 = s3
        self.bucket = bucket
        self.probeKey = probeKey
        self.logger = logger
    }

    func check() async -> String? {
        await cache.value {
            await withTimeout(seconds: 3) {
                do {
                    _ = try await self.s3.headObject(bucket: self.bucket, key: self.probeKey, logger: self.logger)
                    return nil
                } catch let error as AWSError where error.httpStatus != nil && error.httpStatus! < 500 && error.code != "InvalidAccessKeyId" && error.code != "SignatureDoesNotMatch" {
                    return nil
                } catch {
                    return "\(error)"
                }
            } ?? "no answer within 3 s"
        }
    }
}

/// Remembers a check's answer for a few seconds, so probes do not hammer the dependencies.
final class CheckCache: Sendable {
    private let state = Mutex<(at: ContinuousClock.Instant, value: String?)?>(nil)

    func value(_ compute: @Sendable () async -> String?) async -> String? {
        if let cached = state.withLock({ $0 }), ContinuousClock.now - cached.at < .seconds(5) { return cached.value }
        let value = await compute()
        state.withLock { $0 = (ContinuousClock.now, value) }
        return value
    }
}

func withTimeout(seconds: Double, _ body: @escaping @Sendable () async -> String?) async -> String?? {
    await withTaskGroup(of: String??.self) { group in
        group.addTask { .some(await body()) }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return .none
        }
        let first = await group.next() ?? .none
        group.cancelAll()
        return first
    }
}
