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

    public init(loadID: String, entries: [JournalEntry], priority: Priority, target: TableReference) {
        self.loadID = loadID
        self.entries = entries
        self.priority = priority
        self.target = target
    }
}

/// How the journal groups ready entries into batches.
public struct BatchPolicy: Sendable, Hashable {
    /// The most files per batch, per domain (`batch_max`); 1 when absent.
    public var maxFiles: [String: Int]
    /// The fewest files per batch, per domain (`batch_min`); a smaller batch waits for more files, at most
    /// `maxWaitMilliseconds` after its oldest file arrived.
    public var minFiles: [String: Int]
    /// How long a table's files may wait for their batch to fill up.
    public var maxWaitMilliseconds: Int64
    /// The most bytes per batch (by the sizes the events stated); at least one file is always taken.
    public var maxBytes: Int64?

    public init(maxFiles: [String: Int] = [:], minFiles: [String: Int] = [:], maxWaitMilliseconds: Int64 = 0, maxBytes: Int64? = nil) {
        self.maxFiles = maxFiles
        self.minFiles = minFiles
        self.maxWaitMilliseconds = maxWaitMilliseconds
        self.maxBytes = maxBytes
    }
}

extension Journal {
    /// How many of a priority class's oldest ready entries one claim looks at.
    static let claimWindow = 512

    /// Claims the next batch, with files of one domain and one table.
    ///
    /// Order: among the priority classes that have a batch ready, the class is chosen by weighted round robin
    /// (6:3:1); within the class, the batch whose oldest file arrived first (FIFO). A batch that already has a
    /// load id (it was tried before) keeps exactly its files. A new batch takes up to `batch_max` ready files
    /// of its table (and at most `maxBytes`), and is ready once it has `batch_min` files or its oldest file has
    /// waited `maxWaitMilliseconds`. Ready means `queued`, or `retrying` with its backoff over. Only the class's
    /// ``claimWindow`` oldest ready entries are read, so a claim's cost does not grow with the backlog.
    ///
    /// - Parameter excluding: tables that may not take another load now (their concurrency cap is reached).
    public func claimNext(_ policy: BatchPolicy = BatchPolicy(), excluding: Set<TableReference> = []) async throws -> ClaimedBatch? {
        let now = clock()
        let ready = "(state = 'queued' OR (state = 'retrying' AND next_attempt_at <= ? AND dead_letter_when_due = 0))"
        let excludedArgs = excluding.flatMap { [$0.database, $0.table] }
        let exclusion = String(repeating: " AND NOT (target_database = ? AND target_table = ?)", count: excluding.count)
        let (batch, changes) = try await pool.write { db -> (ClaimedBatch?, [(from: EntryState, to: EntryState, domain: String)]) in
            // The best candidate of each class: (head id, load id or group). Each class is read as a window of its
            // oldest ready entries (walking the `entries_ready` index in id order; the `state IN` term lets the
            // planner use that partial index instead of sorting every pending entry), so a claim costs the same
            // whatever the backlog: an older batch always lies inside the window, and a table whose files are spread
            // beyond it is claimed by its wait rule, or in a later claim.
            enum Candidate {
                case retry(loadID: String, head: Int64)
                case fresh(domain: String, database: String, table: String, head: Int64, members: [(id: Int64, size: Int64)])
                var head: Int64 {
                    switch self {
                    case .retry(_, let h), .fresh(_, _, _, let h, _): h
                    }
                }
            }
            struct Group: Hashable {
                var domain: String
                var database: String
                var table: String
            }
            var best: [Priority: Candidate] = [:]
            for priority in Priority.allCases {
                var args: StatementArguments = [priority.rank, now]
                args += StatementArguments(excludedArgs)
                args += [Journal.claimWindow]
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, load_id, domain, target_database, target_table, size, received_at FROM entries
                        WHERE state IN ('queued', 'retrying') AND priority = ? AND \(ready)\(exclusion)
                        ORDER BY id LIMIT ?
                        """,
                    arguments: args
                )
                var order: [Group] = []
                var members: [Group: [(id: Int64, size: Int64)]] = [:]
                var oldest: [Group: Int64] = [:]
                for row in rows {
                    let id: Int64 = row[0]
                    if let loadID: String = row[1] {
                        // The oldest ready entry that was tried before: its batch keeps exactly its files.
                        if best[priority] == nil { best[priority] = .retry(loadID: loadID, head: id) }
                        continue
                    }
                    let group = Group(domain: row[2], database: row[3], table: row[4])
                    if members[group] == nil {
                        order.append(group)
                        oldest[group] = row[6]
                    }
                    members[group, default: []].append((id: id, size: row[5] ?? 0))
                }
                for group in order {
                    let files = members[group] ?? []
                    let filled = files.count >= (policy.minFiles[group.domain] ?? 1) || now - (oldest[group] ?? now) >= policy.maxWaitMilliseconds
                    guard filled, let head = files.first?.id else { continue }
                    if best[priority].map({ head < $0.head }) ?? true {
                        best[priority] = .fresh(domain: group.domain, database: group.database, table: group.table, head: head, members: files)
                    }
                    break
                }
            }
            guard let chosen = self.roundRobin.withLock({ $0.next(among: Set(best.keys)) }), let candidate = best[chosen] else {
                return (nil, [])
            }
            let ids: [Int64]
            let loadID: String
            switch candidate {
            case .retry(let existing, _):
                loadID = existing
                ids = try Int64.fetchAll(
                    db, sql: "SELECT id FROM entries WHERE load_id = ? AND \(ready) ORDER BY id", arguments: [existing, now]
                )
            case .fresh(let domain, _, _, let head, let members):
                loadID = Journal.newLoadID(head: head)
                let limit = max(1, policy.maxFiles[domain] ?? 1)
                var taken: [Int64] = []
                var bytes: Int64 = 0
                for member in members.prefix(limit) {
                    if let maxBytes = policy.maxBytes, !taken.isEmpty, bytes + member.size > maxBytes { break }
                    taken.append(member.id)
                    bytes += member.size
                }
                ids = taken
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
            guard let first = entries.first else { return (nil, changes) }
            return (ClaimedBatch(loadID: loadID, entries: entries, priority: chosen, target: first.target), changes)
        }
        changes.forEach(account)
        return batch
    }

    /// The old signature: at most `maxFiles` per domain, no waiting for fuller batches.
    public func claimNext(maxFiles: [String: Int], excluding: Set<TableReference> = []) async throws -> ClaimedBatch? {
        try await claimNext(BatchPolicy(maxFiles: maxFiles), excluding: excluding)
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

    /// Records a failed attempt.
    ///
    /// - Parameters:
    ///   - retryAt: when the entries may be tried again (ms since 1970); `nil` dead-letters them now.
    ///   - deadLetterWhenDue: the attempts are used up: the entries wait in `retrying` until `retryAt`, then
    ///     ``deadLetterDue()`` moves them to the dead-letter store without another attempt.
    public func markFailed(ids: [Int64], error: SluiceError, retryAt: Int64?, deadLetterWhenDue: Bool = false) async throws {
        let now = clock()
        let changes = try await pool.write { db in
            try ids.map { id -> (from: EntryState, to: EntryState, domain: String) in
                if let retryAt {
                    let change = try Journal.transition(
                        db, id: id, event: .failRetryable, at: now, code: error.code.rawValue, message: error.message, nextAttemptAt: retryAt
                    )
                    try db.execute(sql: "UPDATE entries SET dead_letter_when_due = ? WHERE id = ?", arguments: [deadLetterWhenDue ? 1 : 0, id])
                    return change
                }
                return try Journal.deadLetter(db, id: id, error: error, at: now)
            }
        }
        changes.forEach(account)
    }

    /// Dead-letters the entries whose attempts are used up and whose last backoff has passed.
    ///
    /// - Returns: the dead-lettered entries.
    @discardableResult
    public func deadLetterDue() async throws -> [JournalEntry] {
        let now = clock()
        let (entries, changes) = try await pool.write { db -> ([JournalEntry], [(from: EntryState, to: EntryState, domain: String)]) in
            let ids = try Int64.fetchAll(
                db, sql: "SELECT id FROM entries WHERE state = 'retrying' AND dead_letter_when_due = 1 AND next_attempt_at <= ?", arguments: [now]
            )
            var changes: [(from: EntryState, to: EntryState, domain: String)] = []
            for id in ids {
                let row = try Row.fetchOne(db, sql: "SELECT last_error_code, last_error_message FROM entries WHERE id = ?", arguments: [id])!
                let code = ErrorCode(rawValue: row["last_error_code"] ?? "") ?? .connection
                let error = SluiceError(code, row["last_error_message"] ?? "attempts used up")
                changes.append(try Journal.deadLetter(db, id: id, error: error, at: now))
            }
            return (try Journal.fetchEntries(db, ids: ids), changes)
        }
        changes.forEach(account)
        return entries
    }

    static func deadLetter(_ db: Database, id: Int64, error: SluiceError, at now: Int64) throws -> (from: EntryState, to: EntryState, domain: String) {
        let change = try Journal.transition(db, id: id, event: .failPermanent, at: now, code: error.code.rawValue, message: error.message)
        try db.execute(sql: "UPDATE entries SET dead_letter_when_due = 0 WHERE id = ?", arguments: [id])
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
            failures: row["failures"],
            receivedAt: row["received_at"],
            updatedAt: row["updated_at"],
            nextAttemptAt: row["next_attempt_at"],
            lastErrorCode: row["last_error_code"],
            lastErrorMessage: row["last_error_message"],
            rowsLoaded: row["rows_loaded"],
            bytesLoaded: row["bytes_loaded"],
            payload: row["payload"],
            loadID: row["load_id"],
            objectVersion: row["object_version"],
            redelivered: row["redelivered"] ?? false
        )
    }
}

extension Journal {
    /// A new batch's load id: `b<id of its first entry>x<random>`. It is stored on the entries when the batch is
    /// first claimed and kept across retries and restarts; the random part keeps a load restarted from scratch
    /// apart from the one it replaces.
    static func newLoadID(head: Int64) -> String {
        "b\(head)x\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }
}
