public import EventPattern
public import SluiceCore

/// One element of a request body after decoding: an object-created fact, or something well-formed that
/// Sluice deliberately ignores (an S3 test event, an SNS subscription confirmation, another service's event).
public enum DecodedEvent: Sendable {
    /// An object-created fact; `path` locates it in the request body (empty for a lone event).
    case object(ObjectCreated, path: String)
    /// A well-formed event that is not an object-created fact; `event` is what the pattern sees.
    case other(event: JSONValue, payload: String, reason: String)
    /// A payload carried as text inside an envelope (an SNS `Message`, an SQS record `body`) that is not a
    /// valid event. The envelope itself was fine, so the rest of the request still counts; this item is
    /// answered `invalid` with its E001 error and kept in the dead-letter store.
    case invalid(SluiceError, payload: String)
}

/// Turns request bodies into ``DecodedEvent``s, refusing malformed input with E001 and the path of the
/// offending field.
///
/// Accepted on `/v1/events`: an EventBridge event or an array of them; an S3 notification
/// (`{"Records":[…]}`); an SNS envelope around either. Accepted on `/v1/messages`: the transformed SQS
/// message or an array of them; a Lambda-style SQS batch whose bodies are such messages.
public enum EventDecoder {
    /// The most events one request may carry.
    public static let maxEventsPerRequest = 1000

    /// Decodes a `/v1/events` body.
    public static func decodeEvents(_ body: JSONValue) throws(SluiceError) -> [DecodedEvent] {
        var out: [DecodedEvent] = []
        if let array = body.arrayValue {
            guard !array.isEmpty else { throw .invalidEvent("the request body is an empty array", field: "$") }
            guard array.count <= maxEventsPerRequest else {
                throw .invalidEvent("a request may carry at most \(maxEventsPerRequest) events (got \(array.count))", field: "$")
            }
            for (i, element) in array.enumerated() {
                try decodeEnvelope(element, path: "[\(i)]", depth: 0, into: &out)
            }
        } else {
            try decodeEnvelope(body, path: "", depth: 0, into: &out)
        }
        guard out.count <= maxEventsPerRequest else {
            throw .invalidEvent("a request may carry at most \(maxEventsPerRequest) events (got \(out.count))", field: "$")
        }
        return out
    }

    /// Decodes a `/v1/messages` body.
    public static func decodeMessages(_ body: JSONValue) throws(SluiceError) -> [DecodedEvent] {
        var out: [DecodedEvent] = []
        if let array = body.arrayValue {
            guard !array.isEmpty else { throw .invalidEvent("the request body is an empty array", field: "$") }
            guard array.count <= maxEventsPerRequest else {
                throw .invalidEvent("a request may carry at most \(maxEventsPerRequest) messages (got \(array.count))", field: "$")
            }
            for (i, element) in array.enumerated() {
                out.append(.object(try decodeMessage(element, path: "[\(i)]"), path: "[\(i)]"))
            }
            return out
        }
        guard body.objectValue != nil else {
            throw .invalidEvent("expected a JSON object or array, got \(body.typeName)", field: "$")
        }
        if let records = body["Records"] {
            guard let array = records.arrayValue, !array.isEmpty else {
                throw .invalidEvent("Records must be a non-empty array", field: "Records")
            }
            guard array.count <= maxEventsPerRequest else {
                throw .invalidEvent("a batch may carry at most \(maxEventsPerRequest) records (got \(array.count))", field: "Records")
            }
            for (i, record) in array.enumerated() {
                let path = "Records[\(i)]"
                guard record.objectValue != nil else { throw .invalidEvent("expected an SQS record object", field: path) }
                guard let bodyValue = record["body"] else {
                    throw .invalidEvent("missing required field \"body\"", field: "\(path).body")
                }
                guard let bodyText = bodyValue.stringValue else {
                    throw .invalidEvent("\"body\" must be a string, got \(bodyValue.typeName)", field: "\(path).body")
                }
                let messageID = try optionalString(record, "messageId", path: path)
                do throws(SluiceError) {
                    let parsed: JSONValue
                    do {
                        parsed = try JSONValue.parse(Array(bodyText.utf8), maxDepth: 32)
                    } catch {
                        throw SluiceError.invalidEvent("body is not valid JSON: \(error)", field: "\(path).body")
                    }
                    var message = try decodeMessage(parsed, path: "\(path).body")
                    if message.eventID == nil { message.eventID = messageID }
                    out.append(.object(message, path: "\(path).body"))
                } catch {
                    out.append(.invalid(error, payload: bodyText))
                }
            }
            return out
        }
        return [.object(try decodeMessage(body, path: ""), path: "")]
    }

    // MARK: - Envelopes

    private static func decodeEnvelope(_ value: JSONValue, path: String, depth: Int, into out: inout [DecodedEvent]) throws(SluiceError) {
        guard value.objectValue != nil else {
            throw .invalidEvent("expected a JSON object, got \(value.typeName)", field: path.isEmpty ? "$" : path)
        }
        if value["Records"] != nil {
            try decodeS3Notification(value, path: path, into: &out)
        } else if value["Type"] != nil, value["TopicArn"] != nil || value["Message"] != nil {
            try decodeSNS(value, path: path, depth: depth, into: &out)
        } else if value["Event"]?.stringValue == "s3:TestEvent" {
            out.append(.other(event: value, payload: value.serializedString, reason: "S3 test event"))
        } else {
            out.append(try decodeEventBridge(value, path: path))
        }
    }

    private static func decodeSNS(_ value: JSONValue, path: String, depth: Int, into out: inout [DecodedEvent]) throws(SluiceError) {
        let type = try requiredString(value, "Type", path: path)
        _ = try requiredString(value, "TopicArn", path: path)
        _ = try optionalString(value, "MessageId", path: path)
        switch type {
        case "Notification":
            guard let messageValue = value["Message"] else {
                throw .invalidEvent("missing required field \"Message\"", field: join(path, "Message"))
            }
            guard let message = messageValue.stringValue else {
                throw .invalidEvent("\"Message\" must be a string, got \(messageValue.typeName)", field: join(path, "Message"))
            }
            let messagePath = join(path, "Message")
            var inner: [DecodedEvent] = []
            do throws(SluiceError) {
                guard depth == 0 else { throw SluiceError.invalidEvent("nested SNS envelopes are not accepted", field: messagePath) }
                let parsed: JSONValue
                do {
                    parsed = try JSONValue.parse(Array(message.utf8), maxDepth: 32)
                } catch {
                    throw SluiceError.invalidEvent("SNS Message is not valid JSON: \(error)", field: messagePath)
                }
                try decodeEnvelope(parsed, path: messagePath, depth: depth + 1, into: &inner)
                out.append(contentsOf: inner)
            } catch {
                out.append(.invalid(error, payload: message))
            }
        case "SubscriptionConfirmation", "UnsubscribeConfirmation":
            out.append(.other(
                event: value,
                payload: value.serializedString,
                reason: "SNS \(type): confirm the subscription out of band with its SubscribeURL; Sluice never follows URLs from requests"
            ))
        default:
            throw .invalidEvent("unknown SNS message Type \"\(type)\"", field: join(path, "Type"))
        }
    }

    private static func decodeS3Notification(_ value: JSONValue, path: String, into out: inout [DecodedEvent]) throws(SluiceError) {
        let recordsPath = join(path, "Records")
        guard let records = value["Records"]?.arrayValue else {
            throw .invalidEvent("Records must be an array", field: recordsPath)
        }
        guard !records.isEmpty else { throw .invalidEvent("Records is empty", field: recordsPath) }
        for (i, record) in records.enumerated() {
            let p = "\(recordsPath)[\(i)]"
            guard record.objectValue != nil else { throw .invalidEvent("expected a record object", field: p) }
            let eventSource = try requiredString(record, "eventSource", path: p)
            let eventName = try requiredString(record, "eventName", path: p)
            let isS3 = eventSource == "aws:s3"
            let eventTime = try optionalString(record, "eventTime", path: p)
            let s3 = try optionalObject(record, "s3", path: p, required: isS3)
            let s3Path = "\(p).s3"
            let bucket = try s3.flatMap { s3 throws(SluiceError) in try optionalObject(s3, "bucket", path: s3Path, required: isS3) }
            let object = try s3.flatMap { s3 throws(SluiceError) in try optionalObject(s3, "object", path: s3Path, required: isS3) }
            let bucketName = try bucket.flatMap { b throws(SluiceError) in
                isS3 ? try requiredString(b, "name", path: "\(s3Path).bucket") : try optionalString(b, "name", path: "\(s3Path).bucket")
            }
            if let bucketName { try validateBucket(bucketName, field: "\(s3Path).bucket.name") }
            let objectPath = "\(s3Path).object"
            let rawKey = try object.flatMap { o throws(SluiceError) in
                isS3 ? try requiredString(o, "key", path: objectPath) : try optionalString(o, "key", path: objectPath)
            }
            let size = try object.flatMap { o throws(SluiceError) in try optionalSize(o, "size", path: objectPath) }
            let etag = try object.flatMap { o throws(SluiceError) in try optionalString(o, "eTag", path: objectPath) }
            let versionID = try object.flatMap { o throws(SluiceError) in try optionalString(o, "versionId", path: objectPath) }
            let sequencer = try object.flatMap { o throws(SluiceError) in try optionalString(o, "sequencer", path: objectPath) }
            guard isS3, let bucketName, let rawKey else {
                out.append(.other(event: record, payload: record.serializedString, reason: "record eventSource is \(eventSource), not aws:s3"))
                continue
            }
            guard let key = FormDecoding.decode(rawKey) else {
                throw .invalidEvent("object key \"\(rawKey)\" is not valid form-encoded UTF-8", field: "\(objectPath).key")
            }
            let event = ObjectCreated(
                source: .s3Notification,
                bucket: bucketName,
                key: key,
                size: size,
                etag: etag,
                versionID: versionID,
                sequencer: sequencer,
                eventTime: eventTime,
                eventID: record["responseElements"]?["x-amz-request-id"]?.stringValue,
                eventName: eventName,
                payload: record.serializedString
            )
            out.append(.object(event, path: p))
        }
    }

    private static func decodeEventBridge(_ value: JSONValue, path: String) throws(SluiceError) -> DecodedEvent {
        let source = try requiredString(value, "source", path: path)
        let detailType = try requiredString(value, "detail-type", path: path)
        let id = try optionalString(value, "id", path: path)
        let time = try optionalString(value, "time", path: path)
        guard let detail = value["detail"], detail.objectValue != nil else {
            throw .invalidEvent("missing detail object", field: join(path, "detail"))
        }
        guard source == "aws.s3", detailType == "Object Created" else {
            return .other(
                event: value, payload: value.serializedString,
                reason: "event is \(source) \"\(detailType)\", not aws.s3 \"Object Created\""
            )
        }
        let detailPath = join(path, "detail")
        guard let bucket = detail["bucket"], bucket.objectValue != nil else {
            throw .invalidEvent("missing detail.bucket object", field: "\(detailPath).bucket")
        }
        guard let object = detail["object"], object.objectValue != nil else {
            throw .invalidEvent("missing detail.object object", field: "\(detailPath).object")
        }
        let bucketName = try requiredString(bucket, "name", path: "\(detailPath).bucket")
        try validateBucket(bucketName, field: "\(detailPath).bucket.name")
        let key = try requiredString(object, "key", path: "\(detailPath).object")
        return .object(ObjectCreated(
            source: .eventBridge,
            bucket: bucketName,
            key: key,
            size: try optionalSize(object, "size", path: "\(detailPath).object"),
            etag: try optionalString(object, "etag", path: "\(detailPath).object"),
            versionID: try optionalString(object, "version-id", path: "\(detailPath).object"),
            sequencer: try optionalString(object, "sequencer", path: "\(detailPath).object"),
            eventTime: time,
            eventID: id,
            correlationID: id.flatMap { CorrelationID.isValid($0) ? $0 : nil },
            payload: value.serializedString,
            event: value
        ), path: path)
    }

    // MARK: - Transformed SQS messages

    static func decodeMessage(_ value: JSONValue, path: String) throws(SluiceError) -> ObjectCreated {
        guard value.objectValue != nil else {
            throw .invalidEvent("expected a message object, got \(value.typeName)", field: path.isEmpty ? "$" : path)
        }
        let bucket = try requiredString(value, "bucket", path: path)
        try validateBucket(bucket, field: join(path, "bucket"))
        let key = try requiredString(value, "key", path: path)
        let correlationID = try optionalString(value, "correlation_id", path: path).flatMap { $0.isEmpty ? nil : $0 }
        if let correlationID {
            try CorrelationID.validate(correlationID, field: join(path, "correlation_id"))
        }
        return ObjectCreated(
            source: .sqsMessage,
            bucket: bucket,
            key: key,
            size: try optionalSize(value, "file_size", path: path, acceptString: true),
            etag: try optionalString(value, "etag", path: path),
            versionID: try optionalString(value, "version_id", path: path),
            sequencer: try optionalString(value, "sequencer", path: path),
            eventTime: try optionalString(value, "event_time", path: path),
            correlationID: correlationID,
            declaredDomain: try optionalString(value, "domain", path: path).flatMap { $0.isEmpty ? nil : $0 },
            declaredTable: try optionalString(value, "table_name", path: path).flatMap { $0.isEmpty ? nil : $0 },
            declaredPartition: try optionalString(value, "partition", path: path).flatMap { $0.isEmpty ? nil : $0 },
            payload: value.serializedString
        )
    }

    // MARK: - Field helpers

    static func join(_ path: String, _ field: String) -> String {
        path.isEmpty ? field : "\(path).\(field)"
    }

    static func requiredString(_ object: JSONValue, _ field: String, path: String) throws(SluiceError) -> String {
        guard let value = object[field] else {
            throw .invalidEvent("missing required field \"\(field)\"", field: join(path, field))
        }
        guard let s = value.stringValue else {
            throw .invalidEvent("\"\(field)\" must be a string, got \(value.typeName)", field: join(path, field))
        }
        guard !s.isEmpty else { throw .invalidEvent("\"\(field)\" must not be empty", field: join(path, field)) }
        return s
    }

    static func optionalString(_ object: JSONValue, _ field: String, path: String) throws(SluiceError) -> String? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let s = value.stringValue else {
            throw .invalidEvent("\"\(field)\" must be a string, got \(value.typeName)", field: join(path, field))
        }
        return s
    }

    static func optionalObject(_ object: JSONValue, _ field: String, path: String, required: Bool) throws(SluiceError) -> JSONValue? {
        guard let value = object[field], !value.isNull else {
            if required { throw .invalidEvent("missing required field \"\(field)\"", field: join(path, field)) }
            return nil
        }
        guard value.objectValue != nil else {
            throw .invalidEvent("\"\(field)\" must be an object, got \(value.typeName)", field: join(path, field))
        }
        return value
    }

    /// The largest size an event may state: 2^53 − 1 bytes (far above S3's 5 TiB object limit, and exact in
    /// every JSON reader).
    public static let maxStatedSize: Int64 = 9_007_199_254_740_991

    /// A size: a non-negative integer up to ``maxStatedSize``; with `acceptString`, also a string of at most
    /// 15 digits (an empty string counts as absent).
    static func optionalSize(_ object: JSONValue, _ field: String, path: String, acceptString: Bool = false) throws(SluiceError) -> Int64? {
        guard let value = object[field], !value.isNull else { return nil }
        if let n = value.integerValue {
            guard n >= 0 else { throw .invalidEvent("\"\(field)\" must not be negative (got \(n))", field: join(path, field)) }
            guard n <= maxStatedSize else { throw .invalidEvent("\"\(field)\" is too large (got \(n))", field: join(path, field)) }
            return n
        }
        if acceptString, let s = value.stringValue {
            if s.isEmpty { return nil }
            if s.utf8.count <= 15, s.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let n = Int64(s) { return n }
            throw .invalidEvent("\"\(field)\" must be a non-negative integer or a string of at most 15 digits (got \"\(s)\")", field: join(path, field))
        }
        throw .invalidEvent("\"\(field)\" must be a non-negative integer, got \(value.typeName == "number" ? "\(value)" : value.typeName)", field: join(path, field))
    }

    /// S3 bucket naming rules in their DNS-compatible form: 3–63 characters, dot-separated labels of
    /// lowercase letters, digits and hyphens, each label starting and ending with a letter or digit.
    /// Checked so that no event can steer a request's host or path.
    static func validateBucket(_ name: String, field: String) throws(SluiceError) {
        guard isValidBucketName(name) else {
            throw .invalidEvent("\"\(name)\" is not a valid S3 bucket name", field: field)
        }
    }

    /// See ``validateBucket(_:field:)``.
    public static func isValidBucketName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count) else { return false }
        func alnum(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
        }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard let first = label.first, let last = label.last, alnum(first), alnum(last),
                label.allSatisfy({ alnum($0) || $0 == UInt8(ascii: "-") })
            else { return false }
        }
        return true
    }
}

/// Correlation ids travel in headers, logs and ClickHouse query ids, so only a safe alphabet is accepted.
public enum CorrelationID {
    /// Accepts 1–128 characters of `A–Z a–z 0–9 . _ : -`.
    public static func validate(_ id: String, field: String) throws(SluiceError) {
        guard isValid(id) else {
            throw .invalidEvent(
                "correlation id must be 1–128 characters of letters, digits, '.', '_', ':' or '-'",
                field: field
            )
        }
    }

    public static func isValid(_ id: String) -> Bool {
        let u = id.utf8
        guard (1...128).contains(u.count) else { return false }
        return u.allSatisfy { b in
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
                || b == UInt8(ascii: ":") || b == UInt8(ascii: "-")
        }
    }
}
