public import AWS
public import Logging
public import SluiceJournal
import EventPattern
import SluiceCore
import SluiceIntake

/// Sends each dead letter to an SQS queue (`dlq.sqs_queue_url`) as JSON: the error, the recovery hint, the
/// file, and the original event.
public struct SQSDeadLetterForwarder: DeadLetterForwarding {
    let sqs: SQSClient
    let queueURL: String
    let logger: Logger

    public init(sqs: SQSClient, queueURL: String, logger: Logger) {
        self.sqs = sqs
        self.queueURL = queueURL
        self.logger = logger
    }

    public func forward(_ letter: DeadLetter, entry: JournalEntry?) async throws {
        _ = try await sqs.sendMessage(
            queueURL: queueURL,
            body: Self.body(letter, entry: entry),
            messageAttributes: ["code": letter.code, "correlation_id": letter.correlationID],
            logger: logger
        )
    }

    /// The message body: everything an operator needs to act on the dead letter without Sluice's API.
    public static func body(_ letter: DeadLetter, entry: JournalEntry?) -> String {
        var m: [(key: String, value: JSONValue)] = [
            (key: "dead_letter_id", value: .integer(letter.id)),
            (key: "correlation_id", value: .string(letter.correlationID)),
            (key: "code", value: .string(letter.code)),
            (key: "category", value: .string(letter.category)),
            (key: "message", value: .string(letter.message)),
            (key: "recovery", value: .string(ErrorCode(rawValue: letter.code)?.recoveryHint ?? "")),
        ]
        if let entry {
            m.append((key: "bucket", value: .string(entry.bucket)))
            m.append((key: "key", value: .string(entry.key)))
            m.append((key: "table", value: .string(entry.target.description)))
            m.append((key: "attempts", value: .integer(entry.failures)))
        }
        if let payload = letter.payload { m.append((key: "event", value: .string(payload))) }
        return JSONValue.object(m).serialized()
    }
}
