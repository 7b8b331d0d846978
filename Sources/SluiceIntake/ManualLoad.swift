public import SluiceCore
import EventPattern

/// A load an operator asks for (`POST /v1/loads`, `sluice load`): the file is loaded whatever the intake
/// pattern says, into the table its key maps to, or into `table` when given.
public struct ManualLoadRequest: Sendable, Hashable {
    public var bucket: String
    public var key: String
    /// `database.table`, overriding the table the key maps to.
    public var table: TableReference?

    public init(bucket: String, key: String, table: TableReference? = nil) {
        self.bucket = bucket
        self.key = key
        self.table = table
    }

    /// Parses `s3://bucket/key`.
    public init(uri: String, table: TableReference? = nil, field: String = "uri") throws(SluiceError) {
        guard uri.hasPrefix("s3://") else { throw .invalidEvent("\"\(uri)\" is not an s3://bucket/key URI", field: field) }
        let rest = uri.dropFirst("s3://".count)
        guard let slash = rest.firstIndex(of: "/"), rest.index(after: slash) < rest.endIndex else {
            throw .invalidEvent("\"\(uri)\" has no object key after the bucket", field: field)
        }
        self.init(bucket: String(rest[..<slash]), key: String(rest[rest.index(after: slash)...]), table: table)
    }
}

extension Intake {
    /// The domain name manual loads outside every domain are journaled under.
    public static let manualDomain = "manual"

    /// Routes a manual load. The key must belong to a domain unless `table` is given; the key's Hive
    /// partitions still fill the table's partition columns.
    public func manualLoad(_ request: ManualLoadRequest, correlationID: String) throws(SluiceError) -> QueuedFile {
        try EventDecoder.validateBucket(request.bucket, field: "bucket")
        guard !request.key.isEmpty, request.key.utf8.count <= 1024 else {
            throw .invalidEvent("the object key must be 1 to 1024 bytes", field: "key")
        }
        let domain = configuration.domain(forKey: request.key)
        let parsed: ParsedKey
        let target: TableReference
        if let domain {
            if let table = request.table {
                parsed = (try? ParsedKey.parse(request.key, domain: domain.name, prefix: domain.prefix, field: "key"))
                    ?? ParsedKey(domain: domain.name, table: table.table, partitions: [], fileName: request.key)
                target = table
            } else {
                parsed = try ParsedKey.parse(request.key, domain: domain.name, prefix: domain.prefix, field: "key")
                target = domain.target(tableName: parsed.table)
            }
        } else {
            guard let table = request.table else {
                throw .invalidEvent(
                    "key \"\(request.key)\" belongs to no domain (\(configuration.domains.map(\.prefix).joined(separator: ", "))); give the table to load into",
                    field: "table"
                )
            }
            let partitions = request.key.split(separator: "/").dropLast().compactMap { segment -> ParsedKey.Partition? in
                guard let eq = segment.firstIndex(of: "="), eq != segment.startIndex else { return nil }
                let name = HiveEscaping.unescape(segment[..<eq])
                return Identifier.isValid(name) ? ParsedKey.Partition(name: name, value: HiveEscaping.unescape(segment[segment.index(after: eq)...])) : nil
            }
            parsed = ParsedKey(domain: Intake.manualDomain, table: table.table, partitions: partitions, fileName: String(request.key.split(separator: "/").last ?? ""))
            target = table
        }
        return QueuedFile(
            correlationID: correlationID, source: .manual, bucket: request.bucket, key: request.key, size: nil, etag: nil,
            versionID: nil, sequencer: nil, versionIdentity: nil, eventTime: nil, eventID: nil,
            domain: domain?.name ?? Intake.manualDomain, parsedKey: parsed, target: target, priority: domain?.priority ?? .high,
            payload: "{\"bucket\":\(Self.quote(request.bucket)),\"key\":\(Self.quote(request.key))\(request.table.map { ",\"table\":\(Self.quote($0.description))" } ?? "")}"
        )
    }

    static func quote(_ s: String) -> String {
        JSONValue.string(s).serialized()
    }
}
