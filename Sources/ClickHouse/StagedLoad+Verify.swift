/// The answer to "did this commit reach the target?" after a crash between issuing it and recording it.
public enum CommitVerdict: Sendable, Hashable, CustomStringConvertible {
    /// The partition is in the target: record it as committed; never issue the commit again.
    case committed(evidence: String)
    /// The partition is certainly not in the target: issue the commit again (a new intent, next attempt).
    case notCommitted(evidence: String)
    /// The ALTER is still running on the server: wait and ask again.
    case inProgress
    /// The server's state cannot prove either answer. Do not commit again (that could duplicate rows); stop the
    /// load and report it for a person to check, with this reason.
    case ambiguous(reason: String)

    public var description: String {
        switch self {
        case .committed(let evidence): return "committed (\(evidence))"
        case .notCommitted(let evidence): return "not committed (\(evidence))"
        case .inProgress: return "in progress"
        case .ambiguous(let reason): return "ambiguous (\(reason))"
        }
    }
}

extension StagedLoad {
    /// Decides whether the commit described by `intent` happened, from the server's state only.
    ///
    /// Evidence, strongest first: the ALTER still running; rows with the load's lineage in the partition (when
    /// `lineage` names lineage columns and their values, e.g. `["_source_key": key, "_source_etag": etag]`); for
    /// `.move`, whether the staging table still holds the staged parts; copies of the staged parts among the
    /// target's active and outdated parts made since the intent (same `hash_of_all_files`, or same sizes and rows,
    /// and the same rows hash for an active part). Absence is only conclusive while outdated copies are guaranteed
    /// to still be listed: the server has not restarted and less than the table's `old_parts_lifetime` has passed.
    public func verifyCommitted(_ intent: CommitIntent, lineage: [String: String] = [:]) async throws(ClickHouseError) -> CommitVerdict {
        let running = try await client.query("SELECT count() FROM system.processes WHERE query_id = \(SQL.string(intent.queryID))")
        if running.first?.first != "0" { return .inProgress }

        let partition = SQL.string(intent.partitionID)
        var lineageAbsent = false
        if !lineage.isEmpty {
            let rows = try await client.query(
                "SELECT count() FROM \(target.sql) WHERE _partition_id = \(partition) AND \(SQL.lineageCondition(lineage))")
            let present = Int(rows.first?.first ?? "") ?? 0
            if present > 0 {
                return .committed(evidence: "\(present) rows with the load's lineage in partition \(intent.partitionID)")
            }
            lineageAbsent = true
        }

        var stagedStillThere = false
        if intent.method == .move {
            let exists = try await client.query(
                "SELECT count() FROM system.tables WHERE database = \(SQL.string(stage.database)) AND name = \(SQL.string(stage.table))")
            if exists.first?.first == "1" {
                let parts = try await client.query("""
                    SELECT name, rows FROM system.parts WHERE database = \(SQL.string(stage.database))
                    AND \(SQL.identifier("table")) = \(SQL.string(stage.table)) AND partition_id = \(partition) AND active
                    """)
                let activeRows = parts.reduce(0) { $0 + (Int($1.count > 1 ? $1[1] : "") ?? 0) }
                let names = Set(parts.map { $0[0] })
                if activeRows == 0 {
                    return .committed(evidence: "the MOVE emptied partition \(intent.partitionID) of the staging table")
                }
                stagedStillThere = intent.parts.allSatisfy { names.contains($0.name) }
            }
        }

        if let copy = try await findCopies(of: intent) {
            return .committed(evidence: copy)
        }
        if stagedStillThere {
            return .notCommitted(evidence: "the staged parts are still in the staging table and no copy is in the target")
        }
        let schema = try await client.tableSchema(target)
        if lineageAbsent, schema.mergesKeepEveryRow {
            return .notCommitted(evidence: "no row with the load's lineage in partition \(intent.partitionID)")
        }
        let clock = try await serverClock()
        let startedAt = clock.now - clock.uptime
        if startedAt > intent.serverStartedAt + 2 {
            return .ambiguous(
                reason: "the server restarted after the commit of partition \(intent.partitionID) was issued, so a merged-away copy "
                    + "may no longer be listed; check \(target) for the rows of load \(loadID) by hand")
        }
        let lifetime = try await oldPartsLifetime(schema)
        let elapsed = clock.now - intent.serverTime
        if elapsed + 30 < lifetime {
            return .notCommitted(
                evidence: "no copy of the staged parts among the target's current or outdated parts, \(elapsed) s after the intent "
                    + "(outdated parts stay listed for \(lifetime) s)")
        }
        return .ambiguous(
            reason: "no copy of the staged parts is listed, but \(elapsed) s have passed since the commit of partition "
                + "\(intent.partitionID) was issued and outdated parts are only listed for \(lifetime) s; check \(target) by hand")
    }

    /// A description of a part in the target that is a copy of one of the intent's staged parts, or `nil`.
    func findCopies(of intent: CommitIntent) async throws(ClickHouseError) -> String? {
        let capabilities = try await client.capabilities()
        let hash = capabilities.hasPartHashes ? "hash_of_all_files" : "''"
        let candidates = try await client.query("""
            SELECT name, active, rows, bytes_on_disk, data_compressed_bytes, data_uncompressed_bytes, marks_bytes, \(hash)
            FROM system.parts
            WHERE database = \(SQL.string(target.database)) AND \(SQL.identifier("table")) = \(SQL.string(target.table))
              AND partition_id = \(SQL.string(intent.partitionID)) AND modification_time >= toDateTime(\(intent.serverTime))
            """)
        var fingerprintOnlyActive: [(candidate: String, staged: StagedPart)] = []
        for row in candidates where row.count >= 8 {
            for staged in intent.parts {
                if let stagedHash = staged.hashOfAllFiles, !row[7].isEmpty {
                    if stagedHash == row[7] { return "target part \(row[0]) has the hash of staged part \(staged.name)" }
                    continue
                }
                let sameShape = Int(row[2]) == staged.rows && Int(row[3]) == staged.bytesOnDisk && Int(row[4]) == staged.compressedBytes
                    && Int(row[5]) == staged.uncompressedBytes && Int(row[6]) == staged.marksBytes
                guard sameShape else { continue }
                if row[1] == "1", staged.contentHash != nil {
                    fingerprintOnlyActive.append((row[0], staged))
                } else {
                    return "target part \(row[0]) (\(row[1] == "1" ? "active" : "outdated")) has the rows and sizes of staged part \(staged.name)"
                }
            }
        }
        if !fingerprintOnlyActive.isEmpty {
            let hashes = try await contentHashes(
                of: target, partition: intent.partitionID, parts: fingerprintOnlyActive.map(\.candidate))
            for (candidate, staged) in fingerprintOnlyActive where hashes[candidate] == staged.contentHash {
                return "target part \(candidate) has the rows, sizes and rows hash of staged part \(staged.name)"
            }
        }
        return nil
    }
}
