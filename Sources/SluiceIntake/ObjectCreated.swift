public import EventPattern
public import SluiceCore

/// Where an event came from. Stored with each journal entry and used as a metric label.
public enum EventSource: String, Sendable, Codable, CaseIterable, Hashable {
    /// An EventBridge "Object Created" event, pushed by an API destination.
    case eventBridge = "eventbridge"
    /// An S3 event notification record (`{"Records":[…]}`), possibly inside an SNS envelope.
    case s3Notification = "s3_notification"
    /// The transformed SQS message `{bucket, key, domain, table_name, partition, file_size, correlation_id}`.
    case sqsMessage = "sqs_message"
    /// A manual load requested through `POST /v1/loads` or the CLI.
    case manual
}

/// One "object created" fact, whatever shape it arrived in, with the key already decoded the way its
/// source encodes it.
public struct ObjectCreated: Sendable, Hashable {
    public var source: EventSource
    public var bucket: String
    /// The object key, decoded (S3 notification keys are form-encoded on the wire; EventBridge keys are not).
    public var key: String
    public var size: Int64?
    public var etag: String?
    public var versionID: String?
    public var sequencer: String?
    /// When S3 says the object was created (ISO 8601), if the event says.
    public var eventTime: String?
    /// The id of the delivery (EventBridge event id, S3 request id, SQS message id), if any.
    public var eventID: String?
    /// The correlation id carried by the message itself.
    public var correlationID: String?
    /// The S3 notification's `eventName` (`ObjectCreated:Put`), for S3 notifications only.
    public var eventName: String?
    /// Domain, table and partition as declared by a transformed SQS message; empty fields count as absent.
    public var declaredDomain: String?
    public var declaredTable: String?
    public var declaredPartition: String?
    /// The event exactly as received (compact JSON), kept for the journal and dead letters.
    public var payload: String
    /// The event as parsed, for EventBridge events (what the intake pattern is matched against).
    public var event: JSONValue?

    public init(
        source: EventSource, bucket: String, key: String, size: Int64? = nil, etag: String? = nil,
        versionID: String? = nil, sequencer: String? = nil, eventTime: String? = nil, eventID: String? = nil,
        correlationID: String? = nil, eventName: String? = nil, declaredDomain: String? = nil,
        declaredTable: String? = nil, declaredPartition: String? = nil, payload: String, event: JSONValue? = nil
    ) {
        self.source = source
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.versionID = versionID
        self.sequencer = sequencer
        self.eventTime = eventTime
        self.eventID = eventID
        self.correlationID = correlationID
        self.eventName = eventName
        self.declaredDomain = declaredDomain
        self.declaredTable = declaredTable
        self.declaredPartition = declaredPartition
        self.payload = payload
        self.event = event
    }

    /// What identifies this object version for duplicate detection: the version id when the bucket is
    /// versioned, else the ETag, else S3's sequencer, else the message's own correlation id.
    /// `nil` when the event carries none of them (then only the loader's ledger can spot a redelivery).
    public var versionIdentity: String? {
        if let versionID, !versionID.isEmpty, versionID != "null" { return "v:" + versionID }
        if let etag, !etag.isEmpty { return "e:" + etag.trimmingQuotes() }
        if let sequencer, !sequencer.isEmpty { return "s:" + sequencer }
        if let correlationID, !correlationID.isEmpty { return "c:" + correlationID }
        return nil
    }

    /// The event in EventBridge's "Object Created" shape, so one pattern filters every source.
    public var eventBridgeShape: JSONValue {
        var object: [(key: String, value: JSONValue)] = [(key: "key", value: .string(key))]
        if let size { object.append((key: "size", value: .integer(size))) }
        if let etag { object.append((key: "etag", value: .string(etag))) }
        if let versionID { object.append((key: "version-id", value: .string(versionID))) }
        if let sequencer { object.append((key: "sequencer", value: .string(sequencer))) }
        let detailType: String
        if let eventName, !eventName.hasPrefix("ObjectCreated:") {
            detailType = eventName
        } else {
            detailType = "Object Created"
        }
        return .object([
            ("version", .string("0")),
            ("detail-type", .string(detailType)),
            ("source", .string("aws.s3")),
            ("resources", .array([.string("arn:aws:s3:::\(bucket)")])),
            (
                "detail",
                .object([
                    ("version", .string("0")),
                    ("bucket", .object([("name", .string(bucket))])),
                    ("object", .object(object)),
                ])
            ),
        ])
    }
}

extension String {
    func trimmingQuotes() -> String {
        var s = Substring(self)
        if s.hasPrefix("\"") { s = s.dropFirst() }
        if s.hasSuffix("\"") { s = s.dropLast() }
        return String(s)
    }
}

extension JSONValue {
    /// Compact JSON text of the value.
    var serializedString: String { serialized() }
}
