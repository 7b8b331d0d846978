import SluiceCore
import SluiceIntake
import GRDB

extension Journal {
    /// The entry with this correlation id, with its history.
    public func entry(correlationID: String) async throws -> (JournalEntry, [HistoryRecord])? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM entries WHERE correlation_id = ?", arguments: [correlationID]) else {
                return nil
            }
            let entry = JournalEntry(row: row)
            // Acceptance is not written as a history row (it would cost every intake insert); it is the entry's
            // receive time.
            let accepted = HistoryRecord(at: entry.receivedAt, from: .received, to: .queued, event: EntryEvent.accept.rawValue, code: nil, message: nil)
            let history = try [accepted] + Row.fetchAll(
                db, sql: "SELECT * FROM history WHERE entry_id = ? ORDER BY rowid", arguments: [entry.id]
            ).map { r in
                HistoryRecord(
                    at: r["at"],
                    from: (r["from_state"] as String?).flatMap(EntryState.init(rawValue:)),
                    to: EntryState(rawValue: r["to_state"]) ?? .queued,
                    event: r["event"],
                    code: r["code"],
                    message: r["message"]
                )
            }
            return (entry, history)
        }
    }

    /// Entries matching the filter, newest first.
    public func entries(_ filter: EntryFilter) async throws -> [JournalEntry] {
        try await pool.read { db in
            var clauses: [String] = []
            var args: StatementArguments = []
            if !filter.states.isEmpty {
                clauses.append("state IN (\(filter.states.map { _ in "?" }.joined(separator: ",")))")
                args += StatementArguments(filter.states.map(\.rawValue))
            }
            if let domain = filter.domain {
                clauses.append("domain = ?")
                args += [domain]
            }
            if let table = filter.table {
                if let ref = TableReference(qualified: table) {
                    clauses.append("target_database = ? AND target_table = ?")
                    args += [ref.database, ref.table]
                } else {
                    clauses.append("table_name = ?")
                    args += [table]
                }
            }
            if let before = filter.beforeID {
                clauses.append("id < ?")
                args += [before]
            }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            args += [filter.limit]
            return try Row.fetchAll(db, sql: "SELECT * FROM entries \(whereClause) ORDER BY id DESC LIMIT ?", arguments: args)
                .map(JournalEntry.init(row:))
        }
    }

    /// Pending entries by domain and state, and the age of the oldest.
    public func queueDepth() async throws -> QueueDepth {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT domain, state, COUNT(*) AS n, MIN(received_at) AS oldest FROM entries
                    WHERE state IN ('received','queued','loading','retrying') GROUP BY domain, state
                    """
            )
            var depth = QueueDepth(byDomainAndState: [:], total: 0, oldestPendingAt: nil)
            for row in rows {
                let domain: String = row["domain"]
                let state = EntryState(rawValue: row["state"]) ?? .queued
                let n: Int = row["n"]
                depth.byDomainAndState[domain, default: [:]][state] = n
                depth.total += n
                let oldest: Int64 = row["oldest"]
                depth.oldestPendingAt = min(depth.oldestPendingAt ?? oldest, oldest)
            }
            return depth
        }
    }

    /// Dead letters, newest first.
    public func deadLetters(code: String? = nil, domain: String? = nil, limit: Int = 100) async throws -> [DeadLetter] {
        try await pool.read { db in
            var clauses: [String] = ["replayed_at IS NULL"]
            var args: StatementArguments = []
            if let code {
                clauses.append("code = ?")
                args += [code]
            }
            if let domain {
                clauses.append("domain = ?")
                args += [domain]
            }
            args += [limit]
            return try Row.fetchAll(
                db, sql: "SELECT * FROM dead_letters WHERE \(clauses.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?", arguments: args
            ).map(DeadLetter.init(row:))
        }
    }

    /// Number of dead letters not yet replayed.
    public func deadLetterCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dead_letters WHERE replayed_at IS NULL") ?? 0 }
    }
}

extension DeadLetter {
    init(row: Row) {
        self.init(
            id: row["id"], entryID: row["entry_id"], correlationID: row["correlation_id"], code: row["code"],
            category: row["category"], message: row["message"], field: row["field"], source: row["source"],
            domain: row["domain"], tableName: row["table_name"], payload: row["payload"],
            createdAt: row["created_at"], replayedAt: row["replayed_at"]
        )
    }
}

extension Journal {
    /// The dead letters of one entry, newest first.
    public func deadLetters(entryID: Int64) async throws -> [DeadLetter] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM dead_letters WHERE entry_id = ? ORDER BY id DESC", arguments: [entryID]).map(DeadLetter.init(row:))
        }
    }
}
