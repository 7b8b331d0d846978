import AWSSigV4
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// One received SQS message.
public struct SQSMessage: Sendable, Hashable {
    /// SQS's message id.
    public var messageID: String
    /// The handle to delete the message or change its visibility (valid for this receive only).
    public var receiptHandle: String
    /// The body.
    public var body: String
    /// MD5 of the body as SQS computed it.
    public var md5OfBody: String?
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, …).
    public var attributes: [String: String]
    /// String-valued message attributes.
    public var messageAttributes: [String: String]

    /// Creates a message.
    public init(
        messageID: String,
        receiptHandle: String,
        body: String,
        md5OfBody: String? = nil,
        attributes: [String: String] = [:],
        messageAttributes: [String: String] = [:]
    ) {
        self.messageID = messageID
        self.receiptHandle = receiptHandle
        self.body = body
        self.md5OfBody = md5OfBody
        self.attributes = attributes
        self.messageAttributes = messageAttributes
    }

    /// `ApproximateReceiveCount`: how many times the message has been received, this time included.
    public var approximateReceiveCount: Int? { self.attributes["ApproximateReceiveCount"].flatMap { Int($0) } }
}

/// One entry of a DeleteMessageBatch.
public struct SQSDeleteEntry: Sendable, Hashable {
    /// An id unique within the batch, echoed in the result.
    public var id: String
    /// The receipt handle of the message to delete.
    public var receiptHandle: String

    /// Creates an entry.
    public init(id: String, receiptHandle: String) {
        self.id = id
        self.receiptHandle = receiptHandle
    }
}

/// The outcome of a DeleteMessageBatch: which entries succeeded and which failed.
public struct SQSBatchResult: Sendable, Hashable {
    /// A failed entry.
    public struct Failure: Sendable, Hashable {
        /// The entry id.
        public var id: String
        /// SQS's error code (`ReceiptHandleIsInvalid`, …).
        public var code: String
        /// SQS's message.
        public var message: String
        /// Whether the request was at fault (true) or SQS (false: retry).
        public var senderFault: Bool
    }

    /// Ids of the entries that succeeded.
    public var successful: [String]
    /// Entries that failed.
    public var failed: [Failure]
}

/// Amazon SQS over the JSON protocol (`application/x-amz-json-1.0`, `X-Amz-Target: AmazonSQS.*`).
public struct SQSClient: Sendable {
    let configuration: ServiceConfiguration
    let transport: AWSHTTPTransport
    let credentials: any CredentialProvider
    let now: @Sendable () -> Date
    let skew = ClockSkew()

    /// Creates a client; `configuration.endpoint` overrides `https://sqs.<region>.amazonaws.com`.
    public init(
        configuration: ServiceConfiguration,
        credentials: any CredentialProvider,
        transport: AWSHTTPTransport,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.transport = transport
        self.now = now
    }

    // MARK: Operations

    /// ReceiveMessage with long polling (`waitTimeSeconds` 0...20), returning up to
    /// `maxMessages` (1...10) messages with all system attributes.
    public func receiveMessages(
        queueURL: String,
        maxMessages: Int = 10,
        waitTimeSeconds: Int = 20,
        visibilityTimeoutSeconds: Int? = nil,
        logger: Logger
    ) async throws -> [SQSMessage] {
        try self.check((1...10).contains(maxMessages), "maxMessages must be 1...10", "ReceiveMessage", queueURL)
        try self.check((0...20).contains(waitTimeSeconds), "waitTimeSeconds must be 0...20", "ReceiveMessage", queueURL)
        if let visibilityTimeoutSeconds {
            try self.check((0...43_200).contains(visibilityTimeoutSeconds), "visibility timeout must be 0...43200", "ReceiveMessage", queueURL)
        }
        struct Input: Encodable {
            var QueueUrl: String
            var MaxNumberOfMessages: Int
            var WaitTimeSeconds: Int
            var VisibilityTimeout: Int?
            var AttributeNames = ["All"]
            var MessageSystemAttributeNames = ["All"]
            var MessageAttributeNames = ["All"]
        }
        struct Output: Decodable {
            struct Message: Decodable {
                struct Attribute: Decodable {
                    var StringValue: String?
                    var DataType: String?
                }
                var MessageId: String?
                var ReceiptHandle: String?
                var Body: String?
                var MD5OfBody: String?
                var Attributes: [String: String]?
                var MessageAttributes: [String: Attribute]?
            }
            var Messages: [Message]?
        }
        let output: Output = try await self.call(
            "ReceiveMessage",
            Input(QueueUrl: queueURL, MaxNumberOfMessages: maxMessages, WaitTimeSeconds: waitTimeSeconds, VisibilityTimeout: visibilityTimeoutSeconds),
            resource: queueURL,
            timeout: .seconds(Int64(waitTimeSeconds) + 30),
            logger: logger
        )
        return try (output.Messages ?? []).map { message in
            guard let id = message.MessageId, let handle = message.ReceiptHandle, let body = message.Body else {
                throw self.invalid("ReceiveMessage", queueURL, "a message lacks MessageId, ReceiptHandle or Body")
            }
            return SQSMessage(
                messageID: id,
                receiptHandle: handle,
                body: body,
                md5OfBody: message.MD5OfBody,
                attributes: message.Attributes ?? [:],
                messageAttributes: (message.MessageAttributes ?? [:]).compactMapValues { $0.StringValue }
            )
        }
    }

    /// DeleteMessageBatch of 1...10 entries. Per-entry failures are returned, not thrown.
    public func deleteMessageBatch(queueURL: String, entries: [SQSDeleteEntry], logger: Logger) async throws -> SQSBatchResult {
        try self.check((1...10).contains(entries.count), "a batch has 1...10 entries", "DeleteMessageBatch", queueURL)
        struct Entry: Encodable {
            var Id: String
            var ReceiptHandle: String
        }
        struct Input: Encodable {
            var QueueUrl: String
            var Entries: [Entry]
        }
        struct Output: Decodable {
            struct Success: Decodable { var Id: String }
            struct Failure: Decodable {
                var Id: String
                var Code: String?
                var Message: String?
                var SenderFault: Bool?
            }
            var Successful: [Success]?
            var Failed: [Failure]?
        }
        let output: Output = try await self.call(
            "DeleteMessageBatch",
            Input(QueueUrl: queueURL, Entries: entries.map { Entry(Id: $0.id, ReceiptHandle: $0.receiptHandle) }),
            resource: queueURL,
            timeout: .seconds(30),
            logger: logger
        )
        return SQSBatchResult(
            successful: (output.Successful ?? []).map(\.Id),
            failed: (output.Failed ?? []).map {
                SQSBatchResult.Failure(id: $0.Id, code: $0.Code ?? "", message: $0.Message ?? "", senderFault: $0.SenderFault ?? false)
            }
        )
    }

    /// ChangeMessageVisibility: hides the message for `visibilityTimeoutSeconds` (0...43200)
    /// from now, to extend the lease while a long load runs (0 releases it at once).
    public func changeMessageVisibility(
        queueURL: String,
        receiptHandle: String,
        visibilityTimeoutSeconds: Int,
        logger: Logger
    ) async throws {
        try self.check((0...43_200).contains(visibilityTimeoutSeconds), "visibility timeout must be 0...43200", "ChangeMessageVisibility", queueURL)
        struct Input: Encodable {
            var QueueUrl: String
            var ReceiptHandle: String
            var VisibilityTimeout: Int
        }
        let _: Empty = try await self.call(
            "ChangeMessageVisibility",
            Input(QueueUrl: queueURL, ReceiptHandle: receiptHandle, VisibilityTimeout: visibilityTimeoutSeconds),
            resource: queueURL,
            timeout: .seconds(30),
            logger: logger
        )
    }

    /// SendMessage (forwarding to a dead-letter queue); returns the new message id.
    public func sendMessage(
        queueURL: String,
        body: String,
        messageAttributes: [String: String] = [:],
        delaySeconds: Int? = nil,
        logger: Logger
    ) async throws -> String {
        if let delaySeconds {
            try self.check((0...900).contains(delaySeconds), "delaySeconds must be 0...900", "SendMessage", queueURL)
        }
        struct Attribute: Encodable {
            var DataType = "String"
            var StringValue: String
        }
        struct Input: Encodable {
            var QueueUrl: String
            var MessageBody: String
            var DelaySeconds: Int?
            var MessageAttributes: [String: Attribute]?
        }
        struct Output: Decodable { var MessageId: String? }
        let output: Output = try await self.call(
            "SendMessage",
            Input(
                QueueUrl: queueURL,
                MessageBody: body,
                DelaySeconds: delaySeconds,
                MessageAttributes: messageAttributes.isEmpty ? nil : messageAttributes.mapValues { Attribute(StringValue: $0) }
            ),
            resource: queueURL,
            timeout: .seconds(30),
            logger: logger
        )
        guard let id = output.MessageId else { throw self.invalid("SendMessage", queueURL, "no MessageId in the response") }
        return id
    }

    /// GetQueueAttributes (`All` by default).
    public func getQueueAttributes(queueURL: String, names: [String] = ["All"], logger: Logger) async throws -> [String: String] {
        struct Input: Encodable {
            var QueueUrl: String
            var AttributeNames: [String]
        }
        struct Output: Decodable { var Attributes: [String: String]? }
        let output: Output = try await self.call(
            "GetQueueAttributes",
            Input(QueueUrl: queueURL, AttributeNames: names),
            resource: queueURL,
            timeout: .seconds(30),
            logger: logger
        )
        return output.Attributes ?? [:]
    }

    /// CreateQueue with attributes (`RedrivePolicy`, `VisibilityTimeout`, …); returns its URL.
    package func createQueue(name: String, attributes: [String: String] = [:], logger: Logger) async throws -> String {
        struct Input: Encodable {
            var QueueName: String
            var Attributes: [String: String]?
        }
        struct Output: Decodable { var QueueUrl: String? }
        let output: Output = try await self.call(
            "CreateQueue",
            Input(QueueName: name, Attributes: attributes.isEmpty ? nil : attributes),
            resource: name,
            timeout: .seconds(30),
            logger: logger
        )
        guard let url = output.QueueUrl else { throw self.invalid("CreateQueue", name, "no QueueUrl in the response") }
        return url
    }

    // MARK: Protocol

    struct Empty: Codable {}

    private func call<Input: Encodable, Output: Decodable>(
        _ operation: String,
        _ input: Input,
        resource: String,
        timeout: TimeAmount,
        logger: Logger
    ) async throws -> Output {
        let body = Array(try JSONEncoder().encode(input))
        let endpoint = self.configuration.resolvedEndpoint(service: "sqs")
        let requester = AWSRequester(
            transport: self.transport,
            endpoint: endpoint,
            service: "sqs",
            region: self.configuration.region,
            options: .standard,
            credentials: self.credentials,
            now: self.now,
            skew: self.skew,
            parseError: Self.parseError
        )
        let request = AWSRequest(
            method: .POST,
            path: endpoint.basePath.isEmpty ? "/" : endpoint.basePath + "/",
            headers: [
                SigV4Header("Content-Type", "application/x-amz-json-1.0"),
                SigV4Header("X-Amz-Target", "AmazonSQS.\(operation)"),
            ],
            body: body,
            payload: .bytes(body),
            operation: operation,
            resource: resource
        )
        let response = try await requester.send(request, timeout: timeout, logger: logger)
        var bytes = try await requester.collect(response, limit: 8 * 1024 * 1024, request: request)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D }) { bytes = Array("{}".utf8) }
        do {
            return try JSONDecoder().decode(Output.self, from: Data(bytes))
        } catch {
            throw requester.invalidResponse(request, "the response is not the expected JSON")
        }
    }

    private func check(_ condition: Bool, _ message: String, _ operation: String, _ resource: String) throws {
        guard condition else {
            throw AWSError(
                code: AWSError.Code.invalidArgument,
                category: .permanent,
                message: message,
                service: "sqs",
                operation: operation,
                resource: resource
            )
        }
    }

    private func invalid(_ operation: String, _ resource: String, _ message: String) -> AWSError {
        AWSError(code: AWSError.Code.invalidResponse, category: .retryable, message: message, service: "sqs", operation: operation, resource: resource)
    }

    /// JSON errors: `{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "…"}`.
    @Sendable
    static func parseError(status: Int, headers: HTTPHeaders, body: [UInt8]) -> ParsedServiceError? {
        struct Document: Decodable {
            var __type: String?
            var message: String?
            var Message: String?
        }
        var code: String?
        var message = ""
        if let document = try? JSONDecoder().decode(Document.self, from: Data(body)) {
            if let type = document.__type {
                code = type.split(separator: "#").last.map(String.init)
            }
            message = document.message ?? document.Message ?? ""
        }
        if code == nil, let queryError = headers.first(name: "x-amzn-query-error") {
            code = queryError.split(separator: ";").first.map(String.init)
        }
        guard let code, !code.isEmpty else { return nil }
        return ParsedServiceError(code: code, message: message)
    }
}
