package import ClickHouse
import Foundation
package import SluiceIntake

/// What the journal keeps about a running load (`Journal.saveLoadProgress`, as JSON): the exactly-once protocol's
/// ledger, and everything needed to resume the load identically after a restart.
///
/// The file set is frozen once the staging table is sealed: from then on the load commits exactly these file
/// versions, with these lineage values, into the same staging table name. Before sealing (nothing committed), it may
/// still shrink when a file fails during the insert.
package struct LoadProgressRecord: Codable, Sendable, Hashable {
    /// The layout version of this record.
    package var format: Int = 1
    /// The ClickHouse-side load id: the staging table is `_sluice_stage_<stagedLoadID>`. It is the journal's load id
    /// plus a token of the batch's first entry, so that two journals (a service and a `sluice load` with a temporary
    /// journal) never share a staging table.
    package var stagedLoadID: String
    /// The target table.
    package var target: TableReference
    /// The `_loaded_at` lineage value, fixed at the first attempt so that a re-staged file gives the same rows.
    package var loadedAt: String
    /// The files staged, in insert order.
    package var files: [StagedFile]
    /// Lineage values that only this load's rows carry (`_sluice_load_id`, or the single file's `_correlation_id`),
    /// for `verifyCommitted`; empty when the table has no such column.
    package var verifyLineage: [String: String]
    /// The protocol's state.
    package var ledger: StagedLoadLedger

    package init(
        stagedLoadID: String, target: TableReference, loadedAt: String, files: [StagedFile], verifyLineage: [String: String],
        ledger: StagedLoadLedger
    ) {
        self.stagedLoadID = stagedLoadID
        self.target = target
        self.loadedAt = loadedAt
        self.files = files
        self.verifyLineage = verifyLineage
        self.ledger = ledger
    }

    /// One file of the load.
    package struct StagedFile: Codable, Sendable, Hashable {
        /// The journal entry.
        package var entryID: Int64
        /// Its correlation id.
        package var correlationID: String
        /// The object.
        package var bucket: String
        package var key: String
        /// `v:<version id>` or `e:<etag>`.
        package var version: String
        /// The version id the reads are pinned to, if the bucket is versioned.
        package var versionID: String?
        /// The ETag the reads are pinned to (`If-Match`).
        package var eTag: String
        /// The object's size.
        package var size: Int64
        /// The key's Hive partition path (`ds=2025-09-10/hour=01`), whose values fill columns of those names.
        package var partition: String?
        /// Rows staged from the file (known once sealed).
        package var rows: Int64?

        package init(
            entryID: Int64, correlationID: String, bucket: String, key: String, version: String, versionID: String?, eTag: String,
            size: Int64, partition: String?, rows: Int64?
        ) {
            self.entryID = entryID
            self.correlationID = correlationID
            self.bucket = bucket
            self.key = key
            self.version = version
            self.versionID = versionID
            self.eTag = eTag
            self.size = size
            self.partition = partition
            self.rows = rows
        }
    }

    /// Whether the load may still be reset (nothing sealed or committed, no commit issued).
    package var isResettable: Bool {
        ledger.manifest == nil && ledger.committed.isEmpty && ledger.intents.isEmpty
    }

    /// The JSON stored in the journal.
    package func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Reads a stored record; `nil` when the bytes are not a record of a known format.
    package static func decode(_ bytes: [UInt8]) -> LoadProgressRecord? {
        guard let record = try? JSONDecoder().decode(LoadProgressRecord.self, from: Data(bytes)), record.format == 1 else { return nil }
        return record
    }

    /// The staged load id for a journal load id and the correlation id of its first entry: `<load id>_<16 hex digits>`.
    package static func stagedLoadID(loadID: String, token: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (loadID + "/" + token).utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        let safe = String(loadID.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }.prefix(40))
        return "\(safe.isEmpty ? "load" : safe)_" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
