public import EventPattern
public import SluiceCore

/// One element of a request body after decoding: an object-created fact, or something well-formed that
/// Sluice deliberately ignores (an S3 test event, an SNS subscription confirmation, another service's event).
public enum DecodedEvent: Sendable {
    case object(ObjectCreated)
    /// A well-formed event that is not an object-created fact; `event` is what the pattern sees.
    case other(event: JSONValue, payload: String, reason: String)
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
                out.append(.object(try decodeMessage(element, path: "[\(i)]")))
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
                let bodyText = try requiredString(record, "body", path: path)
                let parsed: JSONValue
                do {
                    parsed = try JSONValue.parse(Array(bodyText.utf8), maxDepth: 32)
                } catch {
                    throw .invalidEvent("body is not valid JSON: \(error)", field: "\(path).body")
                }
                var message = try decodeMessage(parsed, path: "\(path).body")
                if message.eventID == nil { message.eventID = record["messageId"]?.stringValue }
                out.append(.object(message))
            }
            return out
        }
        return [.object(try decodeMessage(body, path: ""))]
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
        switch type {
        case "Notification":
            guard depth == 0 else { throw .invalidEvent("nested SNS envelopes are not accepted", field: join(path, "Message")) }
            let message = try requiredString(value, "Message", path: path)
            let inner: JSONValue
            do {
                inner = try JSONValue.parse(Array(message.utf8), maxDepth: 32)
            } catch {
                throw .invalidEvent("SNS Message is not valid JSON: \(error)", field: join(path, "Message"))
            }
            try decodeEnvelope(inner, path: join(path, "Message"), depth: depth + 1, into: &out)
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
            guard eventSource == "aws:s3" else {
                out.append(.other(event: record, payload: record.serializedString, reason: "record eventSource is \(eventSource), not aws:s3"))
                continue
            }
            guard let s3 = record["s3"], s3.objectValue != nil else { throw .invalidEvent("missing s3 object", field: "\(p).s3") }
            guard let bucket = s3["bucket"], bucket.objectValue != nil else {
                throw .invalidEvent("missing s3.bucket object", field: "\(p).s3.bucket")
            }
            guard let object = s3["object"], object.objectValue != nil else {
                throw .invalidEvent("missing s3.object object", field: "\(p).s3.object")
            }
            let bucketName = try requiredString(bucket, "name", path: "\(p).s3.bucket")
            try validateBucket(bucketName, field: "\(p).s3.bucket.name")
            let rawKey = try requiredString(object, "key", path: "\(p).s3.object")
            guard let key = FormDecoding.decode(rawKey) else {
                throw .invalidEvent("object key \"\(rawKey)\" is not valid form-encoded UTF-8", field: "\(p).s3.object.key")
            }
            let event = ObjectCreated(
                source: .s3Notification,
                bucket: bucketName,
                key: key,
                size: try optionalSize(object, "size", path: "\(p).s3.object"),
                etag: try optionalString(object, "eTag", path: "\(p).s3.object"),
                versionID: try optionalString(object, "versionId", path: "\(p).s3.object"),
                sequencer: try optionalString(object, "sequencer", path: "\(p).s3.object"),
                eventTime: try optionalString(record, "eventTime", path: p),
                eventID: record["responseElements"]?["x-amz-request-id"]?.stringValue,
                eventName: eventName,
                payload: record.serializedString
            )
            out.append(.object(event))
        }
    }

    private static func decodeEventBridge(_ value: JSONValue, path: String) throws(SluiceError) -> DecodedEvent {
        let source = try requiredString(value, "source", path: path)
        let detailType = try requiredString(value, "detail-type", path: path)
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
            eventTime: try optionalString(value, "time", path: path),
            eventID: try optionalString(value, "id", path: path),
            payload: value.serializedString
        ))
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

    static func optionalSize(_ object: JSONValue, _ field: String, path: String, acceptString: Bool = false) throws(SluiceError) -> Int64? {
        guard let value = object[field], !value.isNull else { return nil }
        if let n = value.integerValue {
            guard n >= 0 else { throw .invalidEvent("\"\(field)\" must not be negative (got \(n))", field: join(path, field)) }
            return n
        }
        if acceptString, let s = value.stringValue {
            if s.isEmpty { return nil }
            if let n = Int64(s), n >= 0 { return n }
        }
        throw .invalidEvent("\"\(field)\" must be a non-negative integer, got \(value.typeName)", field: join(path, field))
    }

    /// S3 bucket naming rules (3–63 characters of lowercase letters, digits, dots and hyphens, starting
    /// and ending with a letter or digit). Checked so that no event can steer a request's host or path.
    static func validateBucket(_ name: String, field: String) throws(SluiceError) {
        let bytes = Array(name.utf8)
        func alnum(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
        }
        let ok = (3...63).contains(bytes.count) && alnum(bytes.first!) && alnum(bytes.last!)
            && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
            && !name.contains("..")
        guard ok else {
            throw .invalidEvent("\"\(name)\" is not a valid S3 bucket name", field: field)
        }
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
