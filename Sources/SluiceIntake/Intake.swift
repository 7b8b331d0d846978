public import EventPattern
public import SluiceCore

/// A file Sluice has decided to load: everything the journal stores about it.
public struct QueuedFile: Sendable, Hashable {
    public var correlationID: String
    public var source: EventSource
    public var bucket: String
    public var key: String
    public var size: Int64?
    public var etag: String?
    public var versionID: String?
    public var sequencer: String?
    /// See ``ObjectCreated/versionIdentity``.
    public var versionIdentity: String?
    public var eventTime: String?
    public var eventID: String?
    public var domain: String
    public var parsedKey: ParsedKey
    public var target: TableReference
    public var priority: Priority
    /// The event as received.
    public var payload: String
    /// The SQS message carrying it had been received before (`ApproximateReceiveCount` > 1), possibly by another
    /// consumer of the queue that loaded the file and stopped before deleting the message.
    public var redelivered = false

    public init(
        correlationID: String, source: EventSource, bucket: String, key: String, size: Int64?, etag: String?,
        versionID: String?, sequencer: String?, versionIdentity: String?, eventTime: String?, eventID: String?,
        domain: String, parsedKey: ParsedKey, target: TableReference, priority: Priority, payload: String
    ) {
        self.correlationID = correlationID
        self.source = source
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self.versionID = versionID
        self.sequencer = sequencer
        self.versionIdentity = versionIdentity
        self.eventTime = eventTime
        self.eventID = eventID
        self.domain = domain
        self.parsedKey = parsedKey
        self.target = target
        self.priority = priority
        self.payload = payload
    }

    /// The journal's duplicate-detection key: bucket, key and version identity, each length-prefixed so
    /// that no two different triples give the same text. `nil` when the event has no version identity.
    public var deliveryKey: String? {
        versionIdentity.map { "\(bucket.utf8.count):\(bucket)/\(key.utf8.count):\(key)/\($0)" }
    }
}

/// What intake decided about one event.
public enum IntakeDecision: Sendable {
    /// Load it.
    case accept(QueuedFile)
    /// Well-formed, but the pattern (or routing) says it is not for Sluice.
    case filter(reason: String, correlationID: String)
    /// A payload inside an envelope that is not a valid event (E001); kept for manual review.
    case invalid(SluiceError, payload: String, correlationID: String)
}

/// Applies the intake pattern and the domain routing to decoded events. Pure: no I/O.
///
/// The pattern is the one EventBridge's rule uses (built from configuration, or read from
/// `intake.pattern_file`), so an event that the rule would drop is filtered here too. Events that are not
/// EventBridge-shaped (S3 notifications, transformed SQS messages, manual loads) are matched in their
/// EventBridge form. Transformed messages and manual loads often carry no size; for them the size clause
/// is left out here and the loader checks the size from S3.
public struct Intake: Sendable {
    public let configuration: IntakeConfiguration
    public let pattern: EventPattern
    /// The pattern without its `detail.object.size` clause, for events that do not say their size.
    public let sizeAgnosticPattern: EventPattern
    /// Whether the pattern came from `intake.pattern_file`.
    public let isCustomPattern: Bool

    public init(configuration: IntakeConfiguration, patternJSON: JSONValue? = nil) throws {
        self.configuration = configuration
        let json = patternJSON ?? Intake.defaultPattern(configuration)
        self.pattern = try EventPattern(json: json)
        self.sizeAgnosticPattern = try EventPattern(json: Intake.removingSizeClause(json))
        self.isCustomPattern = patternJSON != nil
    }

    /// The rule's pattern built from configuration: source `aws.s3`, detail-type `Object Created`, the
    /// curated bucket, a domain prefix, the `.parquet` suffix, and size > `intake.min_size`.
    public static func defaultPattern(_ configuration: IntakeConfiguration) -> JSONValue {
        EventPattern.s3ObjectCreated(
            bucket: configuration.bucket,
            keyPrefixes: configuration.domains.map(\.prefix),
            suffix: ".parquet",
            minSizeExclusive: Int(configuration.minSize)
        )
    }

    static func removingSizeClause(_ pattern: JSONValue) -> JSONValue {
        guard var root = pattern.objectValue,
            let di = root.firstIndex(where: { $0.key == "detail" }),
            var detail = root[di].value.objectValue,
            let oi = detail.firstIndex(where: { $0.key == "object" }),
            var object = detail[oi].value.objectValue
        else { return pattern }
        object.removeAll { $0.key == "size" }
        detail[oi].value = .object(object)
        root[di].value = .object(detail)
        return .object(root)
    }

    /// Decides about one decoded event. `correlationID` is the id to use when the event carries none.
    /// Throws E001 when a matching event cannot be routed (its key lacks the table layout, or a transformed
    /// message's declared domain or table contradicts its key).
    public func decide(_ event: DecodedEvent, fallbackCorrelationID: String) throws(SluiceError) -> IntakeDecision {
        switch event {
        case .invalid(let error, let payload):
            return .invalid(error, payload: payload, correlationID: fallbackCorrelationID)
        case .other(let json, _, let reason):
            if !pattern.matches(json) { return .filter(reason: reason, correlationID: fallbackCorrelationID) }
            return .filter(reason: reason + " (Sluice loads only object-created events)", correlationID: fallbackCorrelationID)
        case .object(let object, let field):
            let correlationID = object.correlationID ?? fallbackCorrelationID
            let matched: Bool
            switch object.source {
            case .eventBridge:
                if let event = object.event {
                    matched = pattern.matches(event)
                } else {
                    matched = pattern.matches(try eventJSON(object))
                }
            default:
                matched = (object.size == nil ? sizeAgnosticPattern : pattern).matches(object.eventBridgeShape)
            }
            guard matched else {
                return .filter(reason: filterReason(object), correlationID: correlationID)
            }
            guard let domain = configuration.domain(forKey: object.key) else {
                return .filter(reason: "key \"\(object.key)\" matches no configured domain prefix", correlationID: correlationID)
            }
            let keyField = field.isEmpty ? keyFieldName(object.source) : "\(field).\(keyFieldName(object.source))"
            let parsed = try ParsedKey.parse(object.key, domain: domain.name, prefix: domain.prefix, field: keyField)
            if let declared = object.declaredDomain, declared != domain.name {
                throw .invalidEvent(
                    "domain \"\(declared)\" contradicts key \"\(object.key)\", which belongs to domain \"\(domain.name)\"",
                    field: field.isEmpty ? "domain" : "\(field).domain"
                )
            }
            if let declared = object.declaredTable, declared != parsed.table {
                throw .invalidEvent(
                    "table_name \"\(declared)\" contradicts key \"\(object.key)\", whose table is \"\(parsed.table)\"",
                    field: field.isEmpty ? "table_name" : "\(field).table_name"
                )
            }
            if let declared = object.declaredPartition, declared != parsed.partitionPath,
                HiveEscaping.unescape(declared) != parsed.partitions.map({ "\($0.name)=\($0.value)" }).joined(separator: "/")
            {
                throw .invalidEvent(
                    "partition \"\(declared)\" contradicts key \"\(object.key)\", whose partition is \"\(parsed.partitionPath)\"",
                    field: field.isEmpty ? "partition" : "\(field).partition"
                )
            }
            return .accept(QueuedFile(
                correlationID: correlationID,
                source: object.source,
                bucket: object.bucket,
                key: object.key,
                size: object.size,
                etag: object.etag,
                versionID: object.versionID,
                sequencer: object.sequencer,
                versionIdentity: object.versionIdentity,
                eventTime: object.eventTime,
                eventID: object.eventID,
                domain: domain.name,
                parsedKey: parsed,
                target: domain.target(tableName: parsed.table),
                priority: domain.priority,
                payload: object.payload
            ))
        }
    }

    private func eventJSON(_ object: ObjectCreated) throws(SluiceError) -> JSONValue {
        do {
            return try JSONValue.parse(Array(object.payload.utf8), maxDepth: 64)
        } catch {
            throw .invalidEvent("event could not be re-read: \(error)", field: "$")
        }
    }

    private func keyFieldName(_ source: EventSource) -> String {
        switch source {
        case .eventBridge: "detail.object.key"
        case .s3Notification: "s3.object.key"
        case .sqsMessage, .manual: "key"
        }
    }

    /// A specific reason for a filtered object event. The pattern decided; this only explains, checking
    /// the built-in pattern's clauses in order.
    func filterReason(_ object: ObjectCreated) -> String {
        if isCustomPattern { return "event does not match the intake pattern (\(configuration.patternFile ?? "custom"))" }
        if let name = object.eventName, !name.hasPrefix("ObjectCreated:") {
            return "S3 event \(name) is not an object creation"
        }
        if object.bucket != configuration.bucket {
            return "bucket \"\(object.bucket)\" is not the curated bucket \"\(configuration.bucket)\""
        }
        if configuration.domain(forKey: object.key) == nil {
            return "key \"\(object.key)\" does not start with a domain prefix (\(configuration.domains.map(\.prefix).joined(separator: ", ")))"
        }
        if !object.key.hasSuffix(".parquet") {
            return "key \"\(object.key)\" does not end with .parquet"
        }
        if let size = object.size, size <= configuration.minSize {
            return "object size \(size) is not over \(configuration.minSize) bytes"
        }
        if object.size == nil, object.source == .eventBridge {
            return "event has no detail.object.size"
        }
        return "event does not match the intake pattern"
    }
}
