import GRDB
import SluiceIntake

extension Journal {
    /// Claims one entry on its own, as a batch of one (`sluice load`: the entry it just queued, whatever else waits
    /// in the journal). An entry that already belongs to a load keeps that load id.
    ///
    /// - Returns: `nil` when the entry is not ready (not `queued`, or `retrying` with its backoff not over).
    public func claim(entryID: Int64) async throws -> ClaimedBatch? {
        let now = clock()
        let (batch, change) = try await pool.write { db -> (ClaimedBatch?, (from: EntryState, to: EntryState, domain: String)?) in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT id, priority, target_database, target_table, load_id FROM entries
                    WHERE id = ? AND (state = 'queued' OR (state = 'retrying' AND next_attempt_at <= ?))
                    """,
                arguments: [entryID, now]
            ) else { return (nil, nil) }
            let loadID: String = row["load_id"] ?? Journal.newLoadID(head: entryID)
            try db.execute(sql: "UPDATE entries SET load_id = ? WHERE id = ?", arguments: [loadID, entryID])
            let change = try Journal.transition(db, id: entryID, event: .claim, at: now, code: nil, message: nil)
            let entries = try Journal.fetchEntries(db, ids: [entryID])
            let priority = Priority(rank: row["priority"]) ?? .low
            let target = TableReference(database: row["target_database"], table: row["target_table"])
            return (ClaimedBatch(loadID: loadID, entries: entries, priority: priority, target: target), change)
        }
        if let change { account(change) }
        return batch
    }

    /// The load ids that still have a pending entry (queued, loading or retrying): loads that may go on, whose staging
    /// tables must be kept.
    public func pendingLoadIDs() async throws -> Set<String> {
        try await pool.read { db in
            Set(try String.fetchAll(
                db,
                sql: "SELECT DISTINCT load_id FROM entries WHERE load_id IS NOT NULL AND state IN ('queued', 'loading', 'retrying')"))
        }
    }
}
