import AWS
import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceMetrics
import SluiceScheduler
import Synchronization
import Testing

/// An in-process queue that records what the consumer does with each message.
final class FakeQueue: MessageQueue {
    let deleted = Mutex<[String]>([])
    let extended = Mutex<[String]>([])

    func receive(queueURL: String, maxMessages: Int, waitTimeSeconds: Int, visibilityTimeoutSeconds: Int, logger: Logger) async throws -> [SQSMessage] { [] }

    func delete(queueURL: String, receiptHandles: [String: String], logger: Logger) async throws -> [String] {
        deleted.withLock { $0.append(contentsOf: receiptHandles.keys.sorted()) }
        return Array(receiptHandles.keys)
    }

    func extend(queueURL: String, receiptHandle: String, visibilityTimeoutSeconds: Int, logger: Logger) async throws {
        extended.withLock { $0.append(receiptHandle) }
    }
}

func message(_ id: String, body: String, receives: Int = 1) -> SQSMessage {
    SQSMessage(messageID: id, receiptHandle: "rh-\(id)", body: body, attributes: ["ApproximateReceiveCount": "\(receives)"])
}

func transformed(_ key: String, size: Int = 4096, correlationID: String) -> String {
    "{\"bucket\":\"curated-bucket\",\"key\":\"\(key)\",\"domain\":\"\",\"table_name\":\"\",\"partition\":\"\",\"file_size\":\(size),\"correlation_id\":\"\(correlationID)\"}"
}

@Suite("SQS consumer with an in-process queue")
struct SQSConsumerTests {
    func withConsumer(_ body: @Sendable (Journal, SQSConsumer, FakeQueue) async throws -> Void) async throws {
        let clock = ManualClock()
        let loader = ScriptedLoader(clock: clock) { _, _ in BatchLoadResult() }
        try await withScheduler(clock: clock, loader: loader) { journal, _ in
            let queue = FakeQueue()
            let intake = try Intake(configuration: IntakeConfiguration(bucket: "curated-bucket"))
            let consumer = SQSConsumer(
                queue: queue, journal: journal, intake: intake,
                configuration: SQSConsumerConfiguration(queueURLs: ["https://sqs.us-east-1.amazonaws.com/1/dev-market-load-queue"]),
                metrics: SluiceMetrics(), logger: Logger(label: "t")
            )
            try await body(journal, consumer, queue)
        }
    }

    @Test func journalsFirstDeletesOnlyAfterTheLoadCommitted() async throws {
        try await withConsumer { journal, consumer, queue in
            let url = "https://sqs.us-east-1.amazonaws.com/1/dev-market-load-queue"
            try await consumer.handle([message("m1", body: transformed("market/prices/ds=1/a.parquet", correlationID: "c1"))], from: url)
            #expect(queue.deleted.withLock { $0 }.isEmpty)
            #expect(consumer.heldMessages == 1)
            let (entry, _) = try #require(try await journal.entry(correlationID: "c1"))
            #expect(entry.state == .queued)

            await consumer.renewLeases()
            #expect(queue.extended.withLock { $0 } == ["rh-m1"])
            #expect(queue.deleted.withLock { $0 }.isEmpty)

            let batch = try #require(try await journal.claimNext())
            try await journal.saveLoadProgress(loadID: batch.loadID, target: batch.target, progress: [])
            try await consumer.handle([message("m3", body: transformed("market/prices/ds=1/c.parquet", correlationID: "c3"))], from: url)
            try await journal.completeLoad(loadID: batch.loadID, target: batch.target, files: [LoadedFile(entryID: batch.entries[0].id, version: "e:x", rows: 1, bytes: 1)])
            // The every-second pass deletes what committed and leaves the other leases alone.
            await consumer.renewLeases(extend: false)
            #expect(queue.deleted.withLock { $0 } == ["m1"])
            #expect(queue.extended.withLock { $0 } == ["rh-m1"])
            #expect(consumer.heldMessages == 1)
        }
    }

    @Test func failedForGoodIsLeftToTheQueuesRedrive() async throws {
        try await withConsumer { journal, consumer, queue in
            let url = "https://sqs.us-east-1.amazonaws.com/1/dev-market-load-queue"
            try await consumer.handle([message("m2", body: transformed("market/prices/ds=1/b.parquet", correlationID: "c2"))], from: url)
            let batch = try #require(try await journal.claimNext())
            try await journal.markFailed(ids: batch.entries.map(\.id), error: SluiceError(category: .schema, "bad"), retryAt: nil)
            await consumer.renewLeases()
            #expect(consumer.heldMessages == 0)
            #expect(queue.deleted.withLock { $0 }.isEmpty)
            #expect(queue.extended.withLock { $0 }.isEmpty)
        }
    }

    @Test func redeliveryOfALoadedFileIsDeletedAtOnce() async throws {
        try await withConsumer { journal, consumer, queue in
            let url = "https://sqs.us-east-1.amazonaws.com/1/dev-market-load-queue"
            try await consumer.handle([message("m3", body: transformed("market/prices/ds=1/c.parquet", correlationID: "c3"))], from: url)
            let batch = try #require(try await journal.claimNext())
            try await journal.saveLoadProgress(loadID: batch.loadID, target: batch.target, progress: [])
            try await journal.completeLoad(loadID: batch.loadID, target: batch.target, files: [LoadedFile(entryID: batch.entries[0].id, version: "e:x", rows: 1, bytes: 1)])
            try await consumer.handle([message("m3-again", body: transformed("market/prices/ds=1/c.parquet", correlationID: "c3"), receives: 2)], from: url)
            #expect(queue.deleted.withLock { $0 } == ["m3-again"])
        }
    }

    /// A message received before (by another replica, which may have loaded it) is journaled as redelivered, so the
    /// loader looks for its rows in the table first; a first delivery is not.
    @Test func aMessageReceivedBeforeIsJournaledAsRedelivered() async throws {
        try await withConsumer { journal, consumer, _ in
            let url = "https://sqs.us-east-1.amazonaws.com/1/dev-market-load-queue"
            try await consumer.handle([
                message("m5", body: transformed("market/prices/ds=1/e.parquet", correlationID: "c5")),
                message("m6", body: transformed("market/prices/ds=1/f.parquet", correlationID: "c6"), receives: 3),
            ], from: url)
            let first = try #require(try await journal.entry(correlationID: "c5")).0
            let again = try #require(try await journal.entry(correlationID: "c6")).0
            #expect(first.redelivered == false)
            #expect(again.redelivered == true)
            #expect(consumer.heldMessages == 2)
        }
    }

    @Test func filteredMessagesAreDeletedInvalidOnesAreNot() async throws {
        try await withConsumer { journal, consumer, queue in
            let url = "https://sqs.us-east-1.amazonaws.com/1/dev-market-load-queue"
            try await consumer.handle([
                message("small", body: transformed("market/prices/ds=1/d.parquet", size: 10, correlationID: "c4")),
                message("garbage", body: "not json"),
                message("nobucket", body: "{\"key\":\"market/prices/ds=1/e.parquet\"}"),
            ], from: url)
            #expect(queue.deleted.withLock { $0 } == ["small"])
            let invalid = try await journal.deadLetters(code: "E001")
            #expect(invalid.count == 2)
            #expect(Set(invalid.compactMap(\.field)) == ["$", "bucket"])
        }
    }
}
