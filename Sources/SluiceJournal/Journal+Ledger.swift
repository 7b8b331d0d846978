import SluiceCore
public import SluiceIntake
import Foundation
import GRDB

/// One loaded file version: the ledger's answer to "was this already loaded?".
public struct LedgerRecord: Sendable, Hashable {
    public var bucket: String
    public var key: String
    /// The object version the rows came from: `v:<version id>` or `e:<etag>`.
    public var version: String
    public var target: TableReference
    public var rows: Int64
    public var bytes: Int64
    public var loadID: String
    public var correlationID: String
    /// Milliseconds since 1970.
    public var loadedAt: Int64

    public init(
        bucket: String, key: String, version: String, target: TableReference, rows: Int64, bytes: Int64,
        loadID: String, correlationID: String, loadedAt: Int64
    ) {
        self.bucket = bucket
        self.key = key
        self.version = version
        self.target = target
        self.rows = rows
        self.bytes = bytes
        self.loadID = loadID
        self.correlationID = correlationID
        self.loadedAt = loadedAt
    }
}

/// A file of a load that committed: which entry, which object version, how much.
public struct LoadedFile: Sendable, Hashable {
    public var entryID: Int64
    public var version: String
    public var rows: Int64
    public var bytes: Int64

    public init(entryID: Int64, version: String, rows: Int64, bytes: Int64) {
        self.entryID = entryID
        self.version = version
        self.rows = rows
        self.bytes = bytes
    }
}

extension Journal {
    /// The saved progress of a load (the exactly-once protocol's own record, opaque to the journal).
    public func loadProgress(loadID: String) async throws -> [UInt8]? {
        try await pool.read { db in
            let data: Data? = try Row.fetchOne(db, sql: "SELECT progress FROM loads WHERE load_id = ?", arguments: [loadID])?["progress"]
            return data.map { Array($0) }
        }
    }

    /// Durably saves a load's progress. Called before and after each step of the exactly-once protocol, so
    /// that a restart resumes where the previous process stopped.
    public func saveLoadProgress(loadID: String, target: TableReference, progress: [UInt8]) async throws {
        let now = clock()
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO loads (load_id, target_database, target_table, state, progress, created_at, updated_at)
                    VALUES (?, ?, ?, 'running', ?, ?, ?)
                    ON CONFLICT(load_id) DO UPDATE SET progress = excluded.progress, updated_at = excluded.updated_at
                    """,
                arguments: [loadID, target.database, target.table, Data(progress), now, now]
            )
        }
    }

    /// Forgets a load's progress (after its staging was abandoned, before the batch is loaded afresh).
    public func discardLoadProgress(loadID: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM loads WHERE load_id = ?", arguments: [loadID])
        }
    }

    /// Loads that started but never finished, with their progress: what recovery must look at.
    public func unfinishedLoads() async throws -> [(loadID: String, target: TableReference, progress: [UInt8]?)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT load_id, target_database, target_table, progress FROM loads WHERE state = 'running'").map { row in
                let progress: Data? = row["progress"]
                let loadID: String = row["load_id"]
                return (loadID: loadID, target: TableReference(database: row["target_database"], table: row["target_table"]), progress: progress.map { Array($0) })
            }
        }
    }

    /// Takes entries out of a batch (they failed on their own); the rest keep the batch's load id.
    public func detachFromLoad(entryIDs: [Int64]) async throws {
        guard !entryIDs.isEmpty else { return }
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE entries SET load_id = NULL WHERE id IN (\(entryIDs.map { _ in "?" }.joined(separator: ",")))",
                arguments: StatementArguments(entryIDs)
            )
        }
    }

    /// Records the object version an entry resolved to (from S3's HEAD), before anything is inserted.
    public func setObjectVersion(entryID: Int64, version: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE entries SET object_version = ? WHERE id = ?", arguments: [version, entryID])
        }
    }

    /// The ledger row of one file version, if it was loaded.
    public func ledgerRecord(bucket: String, key: String, version: String) async throws -> LedgerRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM ledger WHERE bucket = ? AND object_key = ? AND version = ?", arguments: [bucket, key, version]
            ).map(LedgerRecord.init(row:))
        }
    }

    /// Every loaded version of a key, newest first.
    public func ledgerRecords(bucket: String, key: String) async throws -> [LedgerRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM ledger WHERE bucket = ? AND object_key = ? ORDER BY loaded_at DESC", arguments: [bucket, key]
            ).map(LedgerRecord.init(row:))
        }
    }

    /// Commits the end of a load in one transaction: its files' entries become `loaded`, each file version
    /// gets its ledger row, and the load is marked done. After this, a redelivery of any of these versions is
    /// a duplicate.
    public func completeLoad(loadID: String, target: TableReference, files: [LoadedFile]) async throws {
        let now = clock()
        let changes = try await pool.write { db in
            let changes = try files.map { try Journal.recordLoaded(db, file: $0, target: target, loadID: loadID, at: now, message: nil) }
            try db.execute(sql: "UPDATE loads SET state = 'done', updated_at = ? WHERE load_id = ?", arguments: [now, loadID])
            return changes
        }
        changes.forEach(account)
    }

    /// Marks a loading entry loaded, with its ledger row, because its version's rows are already in the target table
    /// (another consumer loaded it); `reason` goes into its history. The ledger row's load id is `found`.
    public func markFoundInTable(_ file: LoadedFile, target: TableReference, reason: String) async throws {
        let now = clock()
        let change = try await pool.write { db in
            try Journal.recordLoaded(db, file: file, target: target, loadID: "found", at: now, message: reason)
        }
        account(change)
    }

    /// Moves one entry to `loaded` with its counts and writes its version's ledger row (kept if one exists).
    private static func recordLoaded(
        _ db: Database, file: LoadedFile, target: TableReference, loadID: String, at now: Int64, message: String?
    ) throws -> (from: EntryState, to: EntryState, domain: String) {
        let change = try Journal.transition(db, id: file.entryID, event: .succeed, at: now, code: nil, message: message)
        try db.execute(
            sql: "UPDATE entries SET rows_loaded = ?, bytes_loaded = ?, object_version = ? WHERE id = ?",
            arguments: [file.rows, file.bytes, file.version, file.entryID]
        )
        guard let row = try Row.fetchOne(db, sql: "SELECT bucket, object_key, correlation_id FROM entries WHERE id = ?", arguments: [file.entryID]) else {
            throw JournalError(.notFound, "entry \(file.entryID) does not exist")
        }
        try db.execute(
            sql: """
                INSERT INTO ledger (bucket, object_key, version, target_database, target_table, rows, bytes, load_id, correlation_id, loaded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(bucket, object_key, version) DO NOTHING
                """,
            arguments: [
                row["bucket"], row["object_key"], file.version, target.database, target.table, file.rows, file.bytes,
                loadID, row["correlation_id"], now,
            ]
        )
        return change
    }

    /// Marks a loading entry loaded without inserting anything, because its version is already in the
    /// ledger (`duplicate`) or the configuration says to skip it; `reason` goes into its history.
    public func markSkipped(entryID: Int64, reason: String) async throws {
        let now = clock()
        let change = try await pool.write { db in
            try Journal.transition(db, id: entryID, event: .succeed, at: now, code: nil, message: reason)
        }
        account(change)
    }

    /// Drops ledger rows, finished loads and terminal entries older than the retention.
    ///
    /// - Returns: the number of ledger rows removed.
    @discardableResult
    public func purge(olderThanMilliseconds cutoff: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM ledger WHERE loaded_at < ?", arguments: [cutoff])
            let removed = db.changesCount
            try db.execute(sql: "DELETE FROM loads WHERE state = 'done' AND updated_at < ?", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM entries WHERE state = 'loaded' AND updated_at < ?", arguments: [cutoff])
            return removed
        }
    }
}

extension LedgerRecord {
    init(row: Row) {
        self.init(
            bucket: row["bucket"], key: row["object_key"], version: row["version"],
            target: TableReference(database: row["target_database"], table: row["target_table"]),
            rows: row["rows"], bytes: row["bytes"], loadID: row["load_id"], correlationID: row["correlation_id"],
            loadedAt: row["loaded_at"]
        )
    }
}
