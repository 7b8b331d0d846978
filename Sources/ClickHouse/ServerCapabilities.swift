import Synchronization

/// A ClickHouse server version such as `18.16.1` or `26.9.2.1`.
public struct ServerVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The numeric components, most significant first.
    public var components: [Int]

    /// Parses the text of `SELECT version()`.
    public init?(_ text: String) {
        let parts = text.trimmingSpaces().split(separator: ".")
        let numbers = parts.compactMap { Int($0.prefix { $0.isNumber }) }
        guard numbers.count >= 2, numbers.count == parts.count else { return nil }
        components = numbers
    }

    /// A version from numbers.
    public init(_ components: Int...) {
        self.components = components
    }

    /// Versions that differ only by trailing zeros are equal (`21.8` == `21.8.0`).
    public static func == (lhs: ServerVersion, rhs: ServerVersion) -> Bool { !(lhs < rhs) && !(rhs < lhs) }

    public func hash(into hasher: inout Hasher) {
        var trimmed = components
        while trimmed.last == 0 { trimmed.removeLast() }
        hasher.combine(trimmed)
    }

    public static func < (lhs: ServerVersion, rhs: ServerVersion) -> Bool {
        for i in 0..<max(lhs.components.count, rhs.components.count) {
            let l = i < lhs.components.count ? lhs.components[i] : 0
            let r = i < rhs.components.count ? rhs.components[i] : 0
            if l != r { return l < r }
        }
        return false
    }

    public var description: String { components.map(String.init).joined(separator: ".") }
}

/// What a server version can do, decided from its version number.
///
/// The thresholds are the releases that introduced each feature; both test servers (18.16.1 and 26.9.2.1) are
/// checked against what they report in `system.data_type_families` and `system.settings`.
public struct ServerCapabilities: Hashable, Sendable {
    /// The server version.
    public var version: ServerVersion

    /// Decides the capabilities of `version`.
    public init(version: ServerVersion) {
        self.version = version
    }

    func atLeast(_ components: Int...) -> Bool { version >= ServerVersion(components: components) }

    /// `Map(K, V)` (21.1).
    public var hasMap: Bool { atLeast(21, 1) }
    /// `DateTime64(p[, tz])` (20.1).
    public var hasDateTime64: Bool { atLeast(20, 1) }
    /// `Bool` (21.12).
    public var hasBool: Bool { atLeast(21, 12) }
    /// `IPv4` and `IPv6` (19.3).
    public var hasIPTypes: Bool { atLeast(19, 3) }
    /// `Date32` (21.9).
    public var hasDate32: Bool { atLeast(21, 9) }
    /// `Int128`, `Int256`, `UInt256` and `Decimal256` (20.8).
    public var hasWideIntegers: Bool { atLeast(20, 8) }
    /// `UInt128` (21.6).
    public var hasUInt128: Bool { atLeast(21, 6) }
    /// `LowCardinality(T)` (18.12); before 19.0 creating such a column needs `allow_experimental_low_cardinality_type=1`.
    public var hasLowCardinality: Bool { atLeast(18, 12) }
    /// Whether LowCardinality is still behind `allow_experimental_low_cardinality_type`.
    public var lowCardinalityIsExperimental: Bool { !atLeast(19, 0) }
    /// The `insert_deduplication_token` setting (22.2).
    public var hasInsertDeduplicationToken: Bool { atLeast(22, 2) }
    /// The `deduplicate_insert` setting, which overrides `insert_deduplicate` (seen on 26.9; not on 25.x and older).
    public var hasDeduplicateInsertSetting: Bool { atLeast(26, 1) }
    /// The `non_replicated_deduplication_window` MergeTree setting (20.9).
    public var hasNonReplicatedDeduplication: Bool { atLeast(20, 9) }
    /// The `X-ClickHouse-Exception-Code` response header (20.1; 18.16 does not send it).
    public var sendsExceptionCodeHeader: Bool { atLeast(20, 1) }
    /// The `X-ClickHouse-Summary` response header with `written_rows` (20.1).
    public var sendsSummaryHeader: Bool { atLeast(20, 1) }
    /// `ALTER TABLE ... MOVE PARTITION ... TO TABLE ...` (20.1).
    public var hasMovePartitionToTable: Bool { atLeast(20, 1) }
    /// `ALTER TABLE ... ATTACH PARTITION ... FROM ...` (18.12).
    public var hasAttachPartitionFrom: Bool { atLeast(18, 12) }
    /// `system.parts.hash_of_all_files` (20.1).
    public var hasPartHashes: Bool { atLeast(20, 1) }
    /// `FORMAT Parquet` for inserts (19.8).
    public var hasParquetInput: Bool { atLeast(19, 8) }
    /// Uncompressed request bodies in `xz`, `zstd` or `lz4` Content-Encoding (gzip and deflate always work).
    public var acceptsZstdContentEncoding: Bool { atLeast(20, 1) }

    /// The type families of ClickHouseNative's types that this server knows (as `system.data_type_families` names).
    public var typeFamilies: Set<String> {
        var families: Set<String> = [
            "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64",
            "Decimal", "String", "FixedString", "Date", "DateTime", "UUID", "Enum8", "Enum16",
            "Nullable", "Array", "Tuple", "Nested",
        ]
        if hasLowCardinality { families.insert("LowCardinality") }
        if hasMap { families.insert("Map") }
        if hasDateTime64 { families.insert("DateTime64") }
        if hasBool { families.insert("Bool") }
        if hasIPTypes { families.formUnion(["IPv4", "IPv6"]) }
        if hasDate32 { families.insert("Date32") }
        if hasWideIntegers { families.formUnion(["Int128", "Int256", "UInt256"]) }
        if hasUInt128 { families.insert("UInt128") }
        if atLeast(20, 1) { families.insert("SimpleAggregateFunction") }
        return families
    }
}

extension ServerVersion {
    init(components: [Int]) { self.components = components }
}

extension ClickHouseClient {
    /// The server's version, read once and cached.
    public func version() async throws(ClickHouseError) -> ServerVersion {
        try await capabilities().version
    }

    /// The server's capabilities, from `SELECT version()`, read once and cached.
    public func capabilities() async throws(ClickHouseError) -> ServerCapabilities {
        if let cached = cache.withLock({ $0.capabilities }) { return cached }
        let rows = try await query("SELECT version()")
        guard let text = rows.first?.first, let version = ServerVersion(text) else {
            throw ClickHouseError(category: .server, message: "cannot read the server version from \(rows.first?.first ?? "an empty answer")")
        }
        let capabilities = ServerCapabilities(version: version)
        cache.withLock { $0.capabilities = capabilities }
        return capabilities
    }
}
