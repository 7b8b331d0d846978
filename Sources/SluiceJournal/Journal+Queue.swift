public import SluiceCore
public import SluiceIntake
import GRDB
import Synchronization

/// A set of entries claimed together for one load: same domain, same target table, FIFO order.
public struct ClaimedBatch: Sendable, Hashable {
    /// The batch's identity, kept across retries and restarts (`b<id of its first entry>`).
    public var loadID: String
    public var entries: [JournalEntry]
    public var priority: Priority
    public var target: TableReference
}

extension Journal {
    /// Claims the next batch in priority order: the class is chosen by weighted round robin among classes
    /// with ready entries, then the oldest ready entry of that class, plus up to `maxFiles - 1` more ready
    /// entries of the same domain and table. Ready means `queued`, or `retrying` with its backoff over.
    ///
    /// - Parameters:
    ///   - maxFiles: the largest batch for each domain (its `batch_max`); 1 when absent.
    ///   - excluding: tables that may not take another load now (their concurrency cap is reached).
    public func claimNext(maxFiles: [String: Int] = [:], excluding: Set<TableReference> = []) async throws -> ClaimedBatch? {
        let now = clock()
        let excluded = excluding.flatMap { [$0.database, $0.table] }
        let exclusion = String(repeating: " AND NOT (target_database = ? AND target_table = ?)", count: excluding.count)
        let changes: [(from: EntryState, to: EntryState, domain: String)]
        let batch: ClaimedBatch?
        (batch, changes) = try await pool.write { db -> (ClaimedBatch?, [(from: EntryState, to: EntryState, domain: String)]) in
            var args: StatementArguments = [now]
            args += StatementArguments(excluded)
            let ready = try Int.fetchAll(
                db,
                sql: "SELECT DISTINCT priority FROM entries WHERE (state = 'queued' OR (state = 'retrying' AND next_attempt_at <= ?))\(exclusion)",
                arguments: args
            )
            let classes = Set(ready.compactMap(Priority.init(rank:)))
            guard let chosen = self.roundRobin.withLock({ $0.next(among: classes) }) else { return (nil, []) }
            var headArgs: StatementArguments = [chosen.rank, now]
            headArgs += StatementArguments(excluded)
            guard let head = try Row.fetchOne(
                db,
                sql: """
                    SELECT id, domain, target_database, target_table, load_id FROM entries
                    WHERE priority = ? AND (state = 'queued' OR (state = 'retrying' AND next_attempt_at <= ?))\(exclusion)
                    ORDER BY id LIMIT 1
                    """,
                arguments: headArgs
            ) else { return (nil, []) }
            let domain: String = head["domain"]
            let headID: Int64 = head["id"]
            let ids: [Int64]
            let loadID: String
            if let existing: String = head["load_id"] {
                // A batch keeps its identity across retries: the same entries, the same load id.
                loadID = existing
                ids = try Int64.fetchAll(
                    db,
                    sql: """
                        SELECT id FROM entries
                        WHERE load_id = ? AND (state = 'queued' OR (state = 'retrying' AND next_attempt_at <= ?))
                        ORDER BY id
                        """,
                    arguments: [existing, now]
                )
            } else {
                loadID = "b\(headID)"
                let limit = max(1, maxFiles[domain] ?? 1)
                ids = try Int64.fetchAll(
                    db,
                    sql: """
                        SELECT id FROM entries
                        WHERE domain = ? AND target_database = ? AND target_table = ? AND load_id IS NULL
                          AND (state = 'queued' OR (state = 'retrying' AND next_attempt_at <= ?))
                        ORDER BY id LIMIT ?
                        """,
                    arguments: [domain, head["target_database"], head["target_table"], now, limit]
                )
                try db.execute(
                    sql: "UPDATE entries SET load_id = ? WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                    arguments: StatementArguments([loadID]) + StatementArguments(ids)
                )
            }
            var changes: [(from: EntryState, to: EntryState, domain: String)] = []
            for id in ids {
                changes.append(try Journal.transition(db, id: id, event: .claim, at: now, code: nil, message: nil))
            }
            let entries = try Journal.fetchEntries(db, ids: ids)
            let target = TableReference(database: head["target_database"], table: head["target_table"])
            return (ClaimedBatch(loadID: loadID, entries: entries, priority: chosen, target: target), changes)
        }
        changes.forEach(account)
        return batch
    }

    /// Marks entries loaded.
    public func markLoaded(ids: [Int64], rows: [Int64: Int64] = [:], bytes: [Int64: Int64] = [:], message: String? = nil) async throws {
        let now = clock()
        let changes = try await pool.write { db in
            try ids.map { id in
                let change = try Journal.transition(db, id: id, event: .succeed, at: now, code: nil, message: message)
                try db.execute(
                    sql: "UPDATE entries SET rows_loaded = ?, bytes_loaded = ? WHERE id = ?",
                    arguments: [rows[id], bytes[id], id]
                )
                return change
            }
        }
        changes.forEach(account)
    }

    /// Records a failed attempt: the entries wait in `retrying` until `retryAt` (ms since 1970), or, when
    /// `retryAt` is `nil`, go to the dead-letter store with the error.
    public func markFailed(ids: [Int64], error: SluiceError, retryAt: Int64?) async throws {
        let now = clock()
        let changes = try await pool.write { db in
            try ids.map { id -> (from: EntryState, to: EntryState, domain: String) in
                if let retryAt {
                    return try Journal.transition(
                        db, id: id, event: .failRetryable, at: now, code: error.code.rawValue, message: error.message, nextAttemptAt: retryAt
                    )
                }
                let change = try Journal.transition(db, id: id, event: .failPermanent, at: now, code: error.code.rawValue, message: error.message)
                let row = try Row.fetchOne(db, sql: "SELECT correlation_id, source, domain, table_name, payload FROM entries WHERE id = ?", arguments: [id])!
                try db.execute(
                    sql: """
                        INSERT INTO dead_letters (entry_id, correlation_id, code, category, message, field, source, domain, table_name, payload, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        id, row["correlation_id"], error.code.rawValue, error.category.rawValue, error.message, error.field,
                        row["source"], row["domain"], row["table_name"], row["payload"], now,
                    ]
                )
                return change
            }
        }
        changes.forEach(account)
    }

    /// Parks loading entries back to `queued` (graceful shutdown).
    public func release(ids: [Int64], reason: String) async throws {
        let now = clock()
        let changes = try await pool.write { db in
            try ids.map { try Journal.transition(db, id: $0, event: .release, at: now, code: nil, message: reason) }
        }
        changes.forEach(account)
    }

    static func fetchEntries(_ db: Database, ids: [Int64]) throws -> [JournalEntry] {
        guard !ids.isEmpty else { return [] }
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT * FROM entries WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ","))) ORDER BY id",
            arguments: StatementArguments(ids)
        )
        return rows.map(JournalEntry.init(row:))
    }
}

extension JournalEntry {
    init(row: Row) {
        self.init(
            id: row["id"],
            correlationID: row["correlation_id"],
            source: row["source"],
            bucket: row["bucket"],
            key: row["object_key"],
            size: row["size"],
            etag: row["etag"],
            versionID: row["version_id"],
            sequencer: row["sequencer"],
            eventTime: row["event_time"],
            eventID: row["event_id"],
            domain: row["domain"],
            tableName: row["table_name"],
            partition: row["partition"],
            target: TableReference(database: row["target_database"], table: row["target_table"]),
            priority: Priority(rank: row["priority"]) ?? .low,
            state: EntryState(rawValue: row["state"]) ?? .queued,
            attempts: row["attempts"],
            receivedAt: row["received_at"],
            updatedAt: row["updated_at"],
            nextAttemptAt: row["next_attempt_at"],
            lastErrorCode: row["last_error_code"],
            lastErrorMessage: row["last_error_message"],
            rowsLoaded: row["rows_loaded"],
            bytesLoaded: row["bytes_loaded"],
            payload: row["payload"],
            loadID: row["load_id"],
            objectVersion: row["object_version"]
        )
    }
}
