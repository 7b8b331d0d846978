import Foundation

/// The ClickHouse side of an exactly-once load (see `docs/exactly-once.md`).
///
/// One load (one file version, or one batch) writes into its own staging table, an empty copy of the target, and
/// then moves the staged rows into the target one partition at a time. The caller records every step in its
/// durable ledger; after a crash, ``verifyCommitted(_:lineage:)`` decides from the server's state whether a partition
/// whose commit was issued but not recorded reached the target.
///
/// ```text
/// prepare()            -> ledger: staging(stage name)
/// insert(...)          -> (repeatable: on any failure call prepare() again)
/// seal()               -> ledger: sealed(manifest)
/// for each partition:
///   beginCommit(p)     -> ledger: intent(p)        (before the ALTER is sent)
///   commit(intent)     -> ledger: committed(p)     (after it succeeded, or after verify said committed)
/// cleanup()            -> ledger: done
/// ```
public struct StagedLoad: Sendable {
    /// How staged partitions reach the target.
    public enum Method: String, Codable, Sendable, Hashable {
        /// `ALTER TABLE target MOVE PARTITION ID p TO TABLE`... issued on the stage (20.1+, same engine on both
        /// sides): the stage loses the partition in the same step, which is the evidence of the commit.
        case move
        /// `ALTER TABLE target ATTACH PARTITION ID p FROM stage` (18.16, or replicated targets): the stage keeps a copy,
        /// so the evidence is the copied part in the target.
        case attach
    }

    /// The client.
    public let client: ClickHouseClient
    /// The table the rows are for.
    public let target: TableName
    /// A stable id of the load: 1 to 64 characters from `[A-Za-z0-9_]`, the same across restarts.
    public let loadID: String

    /// The prefix of every staging table name.
    public static let stagePrefix = "_sluice_stage_"

    /// Creates the handle; nothing is sent to the server.
    /// - Throws: ``ClickHouseError`` (category `rejected`) when `loadID` has other characters or is too long.
    public init(client: ClickHouseClient, target: TableName, loadID: String) throws(ClickHouseError) {
        guard !loadID.isEmpty, loadID.utf8.count <= 64,
            loadID.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F })
        else {
            throw ClickHouseError(category: .rejected, message: "load id \"\(loadID)\" must be 1 to 64 characters from [A-Za-z0-9_]")
        }
        self.client = client
        self.target = target
        self.loadID = loadID
    }

    /// The staging table: `<target database>._sluice_stage_<load id>`.
    public var stage: TableName { TableName(database: target.database, table: Self.stagePrefix + loadID) }

    // MARK: Staging

    /// Creates the staging table, empty, with the target's columns, engine and settings (a previous staging table of
    /// the same load is dropped first), and stops its merges so that its parts stay as inserted.
    ///
    /// A replicated target gets a non-replicated staging table of the same engine kind.
    /// - Returns: the method the partitions will be committed with.
    @discardableResult
    public func prepare() async throws(ClickHouseError) -> Method {
        let schema = try await client.tableSchema(target, refresh: true)
        guard schema.isMergeTreeFamily else {
            throw ClickHouseError(
                category: .schema, message: "table \(target) has engine \(schema.engine); exactly-once loads need a MergeTree-family engine")
        }
        let capabilities = try await client.capabilities()
        try await client.execute("DROP TABLE IF EXISTS \(stage.sql)")
        var create = "CREATE TABLE \(stage.sql) AS \(target.sql)"
        if schema.isReplicated {
            create += " ENGINE = " + (try Self.nonReplicatedEngine(schema.engineFull))
        }
        try await client.execute(create, settings: lowCardinalitySetting(capabilities))
        try await client.execute("SYSTEM STOP MERGES \(stage.sql)")
        return method(schema: schema, capabilities: capabilities)
    }

    func method(schema: TableSchema, capabilities: ServerCapabilities) -> Method {
        capabilities.hasMovePartitionToTable && !schema.isReplicated ? .move : .attach
    }

    func lowCardinalitySetting(_ capabilities: ServerCapabilities) -> [String: String] {
        capabilities.lowCardinalityIsExperimental ? ["allow_experimental_low_cardinality_type": "1"] : [:]
    }

    /// The settings of an insert into the staging table: no block deduplication (the staging table copies the
    /// target's `non_replicated_deduplication_window`, and two equal blocks of one file must both stay).
    public func insertSettings() async throws(ClickHouseError) -> [String: String] {
        let capabilities = try await client.capabilities()
        var settings = ["insert_deduplicate": "0"]
        if capabilities.hasDeduplicateInsertSetting { settings["deduplicate_insert"] = "disable" }
        return settings
    }

    /// Streams Native blocks into the staging table (`INSERT INTO stage FORMAT Native`). After any failure, call
    /// ``prepare()`` again before retrying: a broken insert may have left some blocks in the staging table.
    ///
    /// - Throws: ``ClickHouseError``, or the writer's own error unchanged.
    @discardableResult
    public func insert(
        queryID: String? = nil, settings: [String: String] = [:],
        writer: @escaping @Sendable (ClickHouseBodyWriter) async throws -> Void
    ) async throws -> ClickHouseClient.InsertResult {
        let merged = try await insertSettings().merging(settings) { $1 }
        return try await client.insert("INSERT INTO \(stage.sql) FORMAT Native", settings: merged, queryID: queryID, writer: writer)
    }

    /// The staged data: its partitions, rows and parts. Record it in the ledger before the first commit.
    public func seal() async throws(ClickHouseError) -> StageManifest {
        let schema = try await client.tableSchema(target)
        let capabilities = try await client.capabilities()
        try await client.execute("SYSTEM STOP MERGES \(stage.sql)")
        let parts = try await stageParts(partition: nil)
        var partitions: [StagedPartition] = []
        for part in parts {
            if let index = partitions.firstIndex(where: { $0.id == part.partitionID }) {
                partitions[index].rows += part.rows
                partitions[index].parts.append(part)
            } else {
                partitions.append(StagedPartition(id: part.partitionID, rows: part.rows, parts: [part]))
            }
        }
        return StageManifest(
            loadID: loadID, target: target.description, stage: stage.description, method: method(schema: schema, capabilities: capabilities),
            engine: schema.engine, partitions: partitions, oldPartsLifetimeSeconds: try await oldPartsLifetime(schema))
    }

    /// The active parts of the staging table, with their fingerprints and content hashes.
    func stageParts(partition: String?) async throws(ClickHouseError) -> [StagedPart] {
        let capabilities = try await client.capabilities()
        let hash = capabilities.hasPartHashes ? "hash_of_all_files" : "''"
        var condition = "database = \(SQL.string(stage.database)) AND \(SQL.identifier("table")) = \(SQL.string(stage.table)) AND active"
        if let partition { condition += " AND partition_id = \(SQL.string(partition))" }
        let rows = try await client.query("""
            SELECT partition_id, name, rows, bytes_on_disk, data_compressed_bytes, data_uncompressed_bytes, marks_bytes, \(hash)
            FROM system.parts WHERE \(condition) ORDER BY partition_id, name
            """)
        let contents = try await contentHashes(of: stage, partition: partition)
        return rows.compactMap { row in
            guard row.count >= 8, let count = Int(row[2]) else { return nil }
            return StagedPart(
                partitionID: row[0], name: row[1], rows: count, bytesOnDisk: Int(row[3]) ?? -1, compressedBytes: Int(row[4]) ?? -1,
                uncompressedBytes: Int(row[5]) ?? -1, marksBytes: Int(row[6]) ?? -1, hashOfAllFiles: row[7].isEmpty ? nil : row[7],
                contentHash: contents[row[1]])
        }
    }

    /// `sum(cityHash64(*))` per active part: an order-independent hash of the rows of each part. Types the hash
    /// function cannot take leave the map empty.
    func contentHashes(of table: TableName, partition: String?, parts: [String]? = nil) async throws(ClickHouseError) -> [String: String] {
        var condition = "1"
        if let partition { condition = "_partition_id = \(SQL.string(partition))" }
        if let parts { condition += " AND _part IN (\(parts.map(SQL.string).joined(separator: ", ")))" }
        do {
            let rows = try await client.query(
                "SELECT _part, toString(count()), toString(sum(cityHash64(*))) FROM \(table.sql) WHERE \(condition) GROUP BY _part")
            var result: [String: String] = [:]
            for row in rows where row.count == 3 { result[row[0]] = "\(row[1]):\(row[2])" }
            return result
        } catch where error.category == .schema || error.category == .rejected || error.serverCode == 43 {
            // 18.16 cannot hash Nullable or Decimal columns (Code: 43): the row-hash evidence is then unavailable,
            // and verification falls back on the other evidence.
            return [:]
        }
    }

    /// The table's `old_parts_lifetime` (seconds an outdated part stays listed in `system.parts`).
    func oldPartsLifetime(_ schema: TableSchema) async throws(ClickHouseError) -> Int {
        if let range = schema.engineFull.range(of: "old_parts_lifetime = ") {
            let digits = schema.engineFull[range.upperBound...].prefix { $0.isNumber }
            if let value = Int(digits) { return value }
        }
        let rows = try await client.query("SELECT value FROM system.merge_tree_settings WHERE name = 'old_parts_lifetime'")
        return rows.first.flatMap { Int($0[0]) } ?? 0
    }

    // MARK: Commit

    /// Prepares the commit of one staged partition: reads the server clock and the partition's current parts in the
    /// staging table. Record the intent in the ledger, then call ``commit(_:)``.
    ///
    /// - Parameter attempt: distinguishes the query ids of repeated commits of the same partition.
    public func beginCommit(partition: String, attempt: Int = 1) async throws(ClickHouseError) -> CommitIntent {
        let schema = try await client.tableSchema(target)
        let capabilities = try await client.capabilities()
        try await client.execute("SYSTEM STOP MERGES \(stage.sql)")
        let parts = try await stageParts(partition: partition)
        guard !parts.isEmpty else {
            throw ClickHouseError(category: .server, message: "staging table \(stage) has no rows in partition \(partition)")
        }
        let clock = try await serverClock()
        return CommitIntent(
            loadID: loadID, partitionID: partition, attempt: attempt, method: method(schema: schema, capabilities: capabilities),
            queryID: "\(loadID)-commit-\(partition)-\(attempt)", serverTime: clock.now, serverStartedAt: clock.now - clock.uptime,
            rows: parts.reduce(0) { $0 + $1.rows }, parts: parts)
    }

    /// Issues the commit of an intent (after the intent was recorded). On success, record the partition as committed.
    ///
    /// - Throws: ``ClickHouseError``. When its `outcomeUnknown` is set, or the process dies before recording, call
    ///   ``verifyCommitted(_:lineage:)`` instead of repeating the commit.
    public func commit(_ intent: CommitIntent) async throws(ClickHouseError) {
        let partition = SQL.string(intent.partitionID)
        switch intent.method {
        case .move:
            try await client.execute("ALTER TABLE \(stage.sql) MOVE PARTITION ID \(partition) TO TABLE \(target.sql)", queryID: intent.queryID)
        case .attach:
            try await client.execute("ALTER TABLE \(target.sql) ATTACH PARTITION ID \(partition) FROM \(stage.sql)", queryID: intent.queryID)
        }
    }

    /// Drops the staging table. Idempotent.
    public func cleanup() async throws(ClickHouseError) {
        try await client.execute("DROP TABLE IF EXISTS \(stage.sql)")
    }

    /// Removes partitions from the staging table (used when a load is staged again after some of its partitions were
    /// already committed: those must not be committed twice).
    public func dropFromStage(partitions: [String]) async throws(ClickHouseError) {
        for partition in partitions {
            try await client.execute("ALTER TABLE \(stage.sql) DROP PARTITION ID \(SQL.string(partition))")
        }
    }

    /// Drops staging tables of loads that are over, in `databases`: tables named `_sluice_stage_*` whose metadata
    /// is older than `olderThan` (by the server's clock) and whose load id is not in `activeLoadIDs`.
    /// - Returns: the dropped tables.
    public static func discardOrphanedStaging(
        client: ClickHouseClient, databases: [String], olderThan: Duration, activeLoadIDs: Set<String>
    ) async throws(ClickHouseError) -> [TableName] {
        guard !databases.isEmpty else { return [] }
        let seconds = max(0, olderThan.components.seconds)
        let rows = try await client.query("""
            SELECT database, name FROM system.tables
            WHERE database IN (\(databases.map(SQL.string).joined(separator: ", ")))
              AND startsWith(name, \(SQL.string(stagePrefix)))
              AND metadata_modification_time < now() - \(seconds)
            """)
        var dropped: [TableName] = []
        for row in rows where row.count == 2 {
            let loadID = String(row[1].dropFirst(stagePrefix.count))
            guard !activeLoadIDs.contains(loadID) else { continue }
            let table = TableName(database: row[0], table: row[1])
            try await client.execute("DROP TABLE IF EXISTS \(table.sql)")
            dropped.append(table)
        }
        return dropped
    }

    struct ServerClock {
        var now: Int
        var uptime: Int
    }

    func serverClock() async throws(ClickHouseError) -> ServerClock {
        let rows = try await client.query("SELECT toUInt32(now()), uptime()")
        guard let row = rows.first, row.count == 2, let now = Int(row[0]), let uptime = Int(row[1]) else {
            throw ClickHouseError(category: .server, message: "cannot read the server clock")
        }
        return ServerClock(now: now, uptime: uptime)
    }

    /// Rewrites `ReplicatedXMergeTree('path', 'replica'[, args]) rest` to `XMergeTree([args]) rest`.
    static func nonReplicatedEngine(_ engineFull: String) throws(ClickHouseError) -> String {
        guard engineFull.hasPrefix("Replicated") else { return engineFull }
        let withoutPrefix = engineFull.dropFirst("Replicated".count)
        guard let open = withoutPrefix.firstIndex(of: "(") else { return String(withoutPrefix) }
        let name = withoutPrefix[..<open]
        // Split the top-level arguments, respecting quotes and nested parentheses.
        var arguments: [String] = []
        var current = ""
        var depth = 0
        var quote: Character?
        var escaped = false
        var index = withoutPrefix.index(after: open)
        var close: String.Index?
        while index < withoutPrefix.endIndex {
            let character = withoutPrefix[index]
            if let q = quote {
                current.append(character)
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == q {
                    quote = nil
                }
            } else if character == "'" || character == "`" || character == "\"" {
                quote = character
                current.append(character)
            } else if character == "(" {
                depth += 1
                current.append(character)
            } else if character == ")" {
                if depth == 0 {
                    close = index
                    break
                }
                depth -= 1
                current.append(character)
            } else if character == ",", depth == 0 {
                arguments.append(current.trimmingSpaces())
                current = ""
            } else {
                current.append(character)
            }
            index = withoutPrefix.index(after: index)
        }
        guard let close else {
            throw ClickHouseError(category: .schema, message: "cannot read the engine clause \(engineFull)")
        }
        if !current.trimmingSpaces().isEmpty { arguments.append(current.trimmingSpaces()) }
        // The first two arguments are the coordination path and the replica name when they are given.
        if arguments.count >= 2, arguments[0].hasPrefix("'"), arguments[1].hasPrefix("'") { arguments.removeFirst(2) }
        let rest = withoutPrefix[withoutPrefix.index(after: close)...]
        return "\(name)(\(arguments.joined(separator: ", ")))\(rest)"
    }
}

/// One active part of a staging table, as recorded in the ledger.
public struct StagedPart: Codable, Sendable, Hashable {
    /// The partition id (`system.parts.partition_id`).
    public var partitionID: String
    /// The part name in the staging table.
    public var name: String
    /// Rows in the part.
    public var rows: Int
    /// `bytes_on_disk`; with the other sizes, a fingerprint that a copied part keeps.
    public var bytesOnDisk: Int
    /// `data_compressed_bytes`.
    public var compressedBytes: Int
    /// `data_uncompressed_bytes`.
    public var uncompressedBytes: Int
    /// `marks_bytes`.
    public var marksBytes: Int
    /// `hash_of_all_files` (20.1+); equal in a copied part.
    public var hashOfAllFiles: String?
    /// `count:sum(cityHash64(*))` of the part's rows, when the server could compute it.
    public var contentHash: String?
}

/// One partition of the staged data.
public struct StagedPartition: Codable, Sendable, Hashable {
    /// The partition id.
    public var id: String
    /// Rows staged in it.
    public var rows: Int
    /// Its parts.
    public var parts: [StagedPart]
}

/// What a sealed staging table holds; recorded in the ledger before the first commit.
public struct StageManifest: Codable, Sendable, Hashable {
    /// The load id.
    public var loadID: String
    /// The target table (`db.table`).
    public var target: String
    /// The staging table (`db.table`).
    public var stage: String
    /// How partitions will be committed.
    public var method: StagedLoad.Method
    /// The target's engine.
    public var engine: String
    /// The staged partitions, in partition id order.
    public var partitions: [StagedPartition]
    /// The target's `old_parts_lifetime`: how long a merged-away copy of a committed part stays visible.
    public var oldPartsLifetimeSeconds: Int

    /// All staged rows.
    public var rows: Int { partitions.reduce(0) { $0 + $1.rows } }
}

/// A commit about to be issued; recorded in the ledger before ``StagedLoad/commit(_:)``.
public struct CommitIntent: Codable, Sendable, Hashable {
    /// The load id.
    public var loadID: String
    /// The partition id.
    public var partitionID: String
    /// Which commit of this partition this is (1, 2, ...).
    public var attempt: Int
    /// How the commit is done.
    public var method: StagedLoad.Method
    /// The query id of the ALTER (unique per attempt).
    public var queryID: String
    /// The server's clock (Unix seconds) just before the ALTER.
    public var serverTime: Int
    /// When the server process started (Unix seconds), to notice a restart in between.
    public var serverStartedAt: Int
    /// Rows in the partition's staged parts.
    public var rows: Int
    /// The staged parts the ALTER will move or copy.
    public var parts: [StagedPart]
}
