@testable import AWS
import AWSSigV4
import Foundation
import Logging
import Testing

/// SQS (JSON protocol) against the moto server.
@Suite("SQS against moto", .enabled(if: TestServers.motoShouldRun, "SLUICE_TEST_S3_ENDPOINT is not set"))
struct SQSMotoTests {
    let logger = TestServers.logger

    func withClient<T>(_ body: (SQSClient) async throws -> T) async throws -> T {
        let endpoint = try AWSEndpoint(url: try TestServers.requireMoto())
        return try await TestServers.withTransport { transport in
            let client = SQSClient(
                configuration: ServiceConfiguration(region: "us-east-1", endpoint: endpoint),
                credentials: TestServers.motoCredentials,
                transport: transport
            )
            return try await body(client)
        }
    }

    @Test("send, receive with attributes, and delete in a batch")
    func receiveAndDelete() async throws {
        try await self.withClient { sqs in
            let queue = try await sqs.createQueue(name: TestServers.uniqueName("sluice-q"), logger: self.logger)
            let first = try await sqs.sendMessage(queueURL: queue, body: #"{"key":"a.parquet"}"#, messageAttributes: ["correlation_id": "c-1"], logger: self.logger)
            let second = try await sqs.sendMessage(queueURL: queue, body: #"{"key":"b.parquet"}"#, logger: self.logger)
            var received: [SQSMessage] = []
            for _ in 0..<5 where received.count < 2 {
                received += try await sqs.receiveMessages(queueURL: queue, maxMessages: 10, waitTimeSeconds: 1, logger: self.logger)
            }
            #expect(Set(received.map(\.messageID)) == [first, second])
            let a = try #require(received.first { $0.messageID == first })
            #expect(a.body == #"{"key":"a.parquet"}"#)
            #expect(a.approximateReceiveCount == 1)
            #expect(a.attributes["SentTimestamp"] != nil)
            #expect(a.messageAttributes["correlation_id"] == "c-1")

            let attributes = try await sqs.getQueueAttributes(queueURL: queue, logger: self.logger)
            #expect(attributes["ApproximateNumberOfMessagesNotVisible"] == "2")

            let result = try await sqs.deleteMessageBatch(
                queueURL: queue,
                entries: received.enumerated().map { SQSDeleteEntry(id: "m\($0.offset)", receiptHandle: $0.element.receiptHandle) },
                logger: self.logger
            )
            #expect(Set(result.successful) == ["m0", "m1"])
            #expect(result.failed.isEmpty)
            let after = try await sqs.getQueueAttributes(queueURL: queue, names: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"], logger: self.logger)
            #expect(after["ApproximateNumberOfMessages"] == "0")
            #expect(after["ApproximateNumberOfMessagesNotVisible"] == "0")
        }
    }

    @Test("ChangeMessageVisibility extends the lease and releases it")
    func visibility() async throws {
        try await self.withClient { sqs in
            let queue = try await sqs.createQueue(name: TestServers.uniqueName("sluice-vis"), logger: self.logger)
            _ = try await sqs.sendMessage(queueURL: queue, body: "load me", logger: self.logger)
            let message = try #require(
                try await sqs.receiveMessages(queueURL: queue, maxMessages: 1, waitTimeSeconds: 1, visibilityTimeoutSeconds: 1, logger: self.logger).first
            )
            // Extend the one-second lease to a minute: after the original lease ran out the
            // message is still hidden.
            try await sqs.changeMessageVisibility(queueURL: queue, receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: 60, logger: self.logger)
            try await Task.sleep(for: .milliseconds(1500))
            let hidden = try await sqs.receiveMessages(queueURL: queue, maxMessages: 1, waitTimeSeconds: 1, logger: self.logger)
            #expect(hidden.isEmpty)
            // Releasing it (timeout 0) makes it visible at once, with the receive count raised.
            try await sqs.changeMessageVisibility(queueURL: queue, receiptHandle: message.receiptHandle, visibilityTimeoutSeconds: 0, logger: self.logger)
            let again = try await sqs.receiveMessages(queueURL: queue, maxMessages: 1, waitTimeSeconds: 2, logger: self.logger)
            #expect(again.map(\.messageID) == [message.messageID])
            #expect(again.first?.approximateReceiveCount == 2)
        }
    }

    @Test("after maxReceiveCount receives the message is redriven to the dead-letter queue")
    func redrive() async throws {
        try await self.withClient { sqs in
            let dlq = try await sqs.createQueue(name: TestServers.uniqueName("sluice-dlq"), logger: self.logger)
            let dlqARN = try #require(try await sqs.getQueueAttributes(queueURL: dlq, names: ["QueueArn"], logger: self.logger)["QueueArn"])
            let queue = try await sqs.createQueue(
                name: TestServers.uniqueName("sluice-main"),
                attributes: ["RedrivePolicy": #"{"deadLetterTargetArn":"\#(dlqARN)","maxReceiveCount":"2"}"#],
                logger: self.logger
            )
            let id = try await sqs.sendMessage(queueURL: queue, body: "poison", logger: self.logger)
            var counts: [Int] = []
            for _ in 0..<2 {
                let batch = try await sqs.receiveMessages(queueURL: queue, maxMessages: 1, waitTimeSeconds: 1, visibilityTimeoutSeconds: 0, logger: self.logger)
                counts += batch.compactMap(\.approximateReceiveCount)
            }
            #expect(counts == [1, 2])
            // The third receive finds it over the limit: SQS moves it to the DLQ instead.
            let third = try await sqs.receiveMessages(queueURL: queue, maxMessages: 1, waitTimeSeconds: 1, logger: self.logger)
            #expect(third.isEmpty)
            let dead = try await sqs.receiveMessages(queueURL: dlq, maxMessages: 1, waitTimeSeconds: 2, logger: self.logger)
            #expect(dead.map(\.messageID) == [id])
            #expect(dead.first?.body == "poison")
        }
    }

    @Test("per-entry failures of DeleteMessageBatch are returned, not thrown")
    func partialBatch() async throws {
        try await self.withClient { sqs in
            let queue = try await sqs.createQueue(name: TestServers.uniqueName("sluice-batch"), logger: self.logger)
            _ = try await sqs.sendMessage(queueURL: queue, body: "x", logger: self.logger)
            let message = try #require(try await sqs.receiveMessages(queueURL: queue, maxMessages: 1, waitTimeSeconds: 1, logger: self.logger).first)
            let result = try await sqs.deleteMessageBatch(
                queueURL: queue,
                entries: [SQSDeleteEntry(id: "good", receiptHandle: message.receiptHandle), SQSDeleteEntry(id: "bad", receiptHandle: "garbage")],
                logger: self.logger
            )
            #expect(result.successful == ["good"])
            #expect(result.failed.map(\.id) == ["bad"])
            #expect(result.failed.first?.code == "ReceiptHandleIsInvalid")
            #expect(result.failed.first?.senderFault == true)
        }
    }

    @Test("a missing queue is a permanent error with AWS's code")
    func missingQueue() async throws {
        try await self.withClient { sqs in
            let url = try TestServers.requireMoto() + "/123456789012/sluice-no-such-queue"
            let error = await #expect(throws: AWSError.self) {
                try await sqs.receiveMessages(queueURL: url, maxMessages: 1, waitTimeSeconds: 0, logger: self.logger)
            }
            #expect(error?.code == "QueueDoesNotExist")
            #expect(error?.httpStatus == 400)
            #expect(error?.category == .permanent)
            #expect(error?.service == "sqs")
            #expect(error?.operation == "ReceiveMessage")
        }
    }

    @Test("arguments outside SQS's limits are refused before any request")
    func argumentLimits() async throws {
        try await self.withClient { sqs in
            let url = "http://127.0.0.1:1/123456789012/q"
            for call in [
                { try await sqs.receiveMessages(queueURL: url, maxMessages: 11, logger: self.logger) },
                { try await sqs.receiveMessages(queueURL: url, waitTimeSeconds: 21, logger: self.logger) },
            ] {
                let error = await #expect(throws: AWSError.self) { _ = try await call() }
                #expect(error?.code == AWSError.Code.invalidArgument)
            }
            let batch = await #expect(throws: AWSError.self) {
                try await sqs.deleteMessageBatch(queueURL: url, entries: [], logger: self.logger)
            }
            #expect(batch?.code == AWSError.Code.invalidArgument)
        }
    }
}
