import SluiceCore
import GRDB

/// Filters for dead letters.
public struct DeadLetterFilter: Sendable, Hashable {
    public var code: String?
    public var domain: String?
    /// A table name (`prices`) or `database.table`.
    public var table: String?
    /// Only dead letters created at or after this time (ms since 1970).
    public var since: Int64?
    public var limit: Int

    public init(code: String? = nil, domain: String? = nil, table: String? = nil, since: Int64? = nil, limit: Int = 100) {
        self.code = code
        self.domain = domain
        self.table = table
        self.since = since
        self.limit = limit
    }
}

/// The answer to a replay request.
public enum ReplayOutcome: Sendable, Hashable {
    /// The entry is queued again (its correlation id).
    case queued(correlationID: String)
    /// An invalid payload (E001) has no file to load: fix it at the producer and send it again.
    case notReplayable(reason: String)
}

extension Journal {
    /// Dead letters not yet replayed, newest first.
    public func deadLetters(_ filter: DeadLetterFilter) async throws -> [DeadLetter] {
        try await pool.read { db in
            var clauses = ["d.replayed_at IS NULL"]
            var args: StatementArguments = []
            if let code = filter.code {
                clauses.append("d.code = ?")
                args += [code]
            }
            if let domain = filter.domain {
                clauses.append("d.domain = ?")
                args += [domain]
            }
            if let table = filter.table {
                let parts = table.split(separator: ".", maxSplits: 1).map(String.init)
                if parts.count == 2 {
                    clauses.append("e.target_database = ? AND e.target_table = ?")
                    args += [parts[0], parts[1]]
                } else {
                    clauses.append("d.table_name = ?")
                    args += [table]
                }
            }
            if let since = filter.since {
                clauses.append("d.created_at >= ?")
                args += [since]
            }
            args += [filter.limit]
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT d.* FROM dead_letters d LEFT JOIN entries e ON e.id = d.entry_id
                    WHERE \(clauses.joined(separator: " AND ")) ORDER BY d.id DESC LIMIT ?
                    """,
                arguments: args
            ).map(DeadLetter.init(row:))
        }
    }

    /// One dead letter, with the entry it belongs to (if any) and that entry's history.
    public func deadLetter(id: Int64) async throws -> (DeadLetter, JournalEntry?, [HistoryRecord])? {
        guard let letter = try await pool.read({ db in
            try Row.fetchOne(db, sql: "SELECT * FROM dead_letters WHERE id = ?", arguments: [id]).map(DeadLetter.init(row:))
        }) else { return nil }
        guard let entryID = letter.entryID else { return (letter, nil, []) }
        let entry = try await pool.read { db in try Journal.fetchEntries(db, ids: [entryID]).first }
        guard let entry, let (_, history) = try await self.entry(correlationID: entry.correlationID) else { return (letter, nil, []) }
        return (letter, entry, history)
    }

    /// Queues a dead-lettered file again, with a fresh retry budget. Its load keeps its id, so a load that had
    /// already committed some partitions resumes instead of committing them twice.
    ///
    /// - Parameter restart: instead of resuming, forget the load's saved progress and load the file from scratch
    ///   under a new load. For a load whose commit could not be verified (an `ambiguous` verdict), after an
    ///   operator checked the table: rows that did reach it would be inserted again.
    public func replay(deadLetterID id: Int64, restart: Bool = false) async throws -> ReplayOutcome {
        let now = clock()
        let (outcome, change) = try await pool.write { db -> (ReplayOutcome, (from: EntryState, to: EntryState, domain: String)?) in
            guard let row = try Row.fetchOne(db, sql: "SELECT entry_id, replayed_at, code FROM dead_letters WHERE id = ?", arguments: [id]) else {
                throw JournalError(.notFound, "dead letter \(id) does not exist")
            }
            guard let entryID: Int64 = row["entry_id"] else {
                return (.notReplayable(reason: "dead letter \(id) is an invalid payload (\(row["code"] as String? ?? "E001")) with no file to load; fix the producer and send the event again"), nil)
            }
            if let replayed: Int64 = row["replayed_at"] {
                throw JournalError(.illegalTransition, "dead letter \(id) was already replayed at \(replayed)")
            }
            let change = try Journal.transition(
                db, id: entryID, event: .replay, at: now, code: nil,
                message: restart ? "replayed from dead letter \(id), restarting its load from scratch" : "replayed from dead letter \(id)"
            )
            if restart, let loadID = try String.fetchOne(db, sql: "SELECT load_id FROM entries WHERE id = ?", arguments: [entryID]) {
                try db.execute(sql: "UPDATE entries SET load_id = NULL WHERE id = ?", arguments: [entryID])
                let others = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM entries WHERE load_id = ?", arguments: [loadID]) ?? 0
                if others == 0 { try db.execute(sql: "DELETE FROM loads WHERE load_id = ?", arguments: [loadID]) }
            }
            try db.execute(
                sql: "UPDATE entries SET failures = 0, dead_letter_when_due = 0, next_attempt_at = NULL WHERE id = ?", arguments: [entryID]
            )
            try db.execute(sql: "UPDATE dead_letters SET replayed_at = ? WHERE entry_id = ? AND replayed_at IS NULL", arguments: [now, entryID])
            let cid: String = try String.fetchOne(db, sql: "SELECT correlation_id FROM entries WHERE id = ?", arguments: [entryID]) ?? ""
            return (.queued(correlationID: cid), change)
        }
        if let change { account(change) }
        return outcome
    }

    /// Removes a dead letter (it was reviewed). The entry, if any, stays dead-lettered in its history.
    public func deleteDeadLetter(id: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM dead_letters WHERE id = ?", arguments: [id])
            if db.changesCount == 0 { throw JournalError(.notFound, "dead letter \(id) does not exist") }
        }
    }

    /// Waits until the entry reaches a final state (loaded or dead-lettered) or the deadline passes, and
    /// returns it as it then is.
    public func waitForOutcome(correlationID: String, timeout: Duration, poll: Duration = .milliseconds(200)) async throws -> JournalEntry? {
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let (entry, _) = try await entry(correlationID: correlationID) else { return nil }
            if entry.state.isTerminal || ContinuousClock.now >= deadline { return entry }
            try await Task.sleep(for: poll)
        }
    }
}
