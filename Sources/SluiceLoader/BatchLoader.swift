package import ClickHouse
package import Foundation
package import Logging
package import SluiceJournal
import Synchronization

/// Loads one claimed batch of the journal into its ClickHouse table, exactly once, and says what happened to each
/// file (see ``BatchOutcome``). It neither retries nor waits for backoffs: the scheduler decides that from the
/// outcome.
///
/// For each file: HeadObject (size above `intake.min_size`, at most `s3.max_object_bytes`; the version it resolves to
/// pins every read and is recorded with `setObjectVersion`), the ledger (an already loaded version is a `duplicate`; a
/// new version of a loaded key follows `ledger.on_new_version`), the Parquet footer over ranged reads, and the
/// mapping onto the table's schema (Hive partition values and lineage columns included). A file that fails any of
/// these on its own is detached from the batch and reported; the others go on.
///
/// The remaining files then go through the staged protocol of `docs/exactly-once.md` as one load: one staging table,
/// one streaming insert of bounded Native blocks (or, with `clickhouse.parquet_passthrough` on a server that can,
/// one `input() FORMAT Parquet` insert per file), seal, commit partition by partition, cleanup. The journal stores
/// the protocol's ledger (``LoadProgressRecord``) after every step, so that a batch claimed again after a crash or a
/// failed attempt resumes exactly where it stopped. `completeLoad` then marks the entries loaded and writes the
/// ledger rows in one transaction.
///
/// **A data error in the middle of the insert** (a corrupt page or a value out of range in file 3 of 5): the insert
/// is abandoned (its staging table never commits a partial file), the file is detached and reported, and the batch
/// is staged again from scratch without it, under the same load id. This happens only while nothing of the load was
/// committed: once the staging table is sealed, the file set is frozen, and an error that appears later (when a lost
/// staging table is staged again) fails the whole batch for a person to check.
///
/// **Memory** stays at about one decoded row group per file being transcoded plus one Native block: files are
/// transcoded one after the other, row group by row group, and nothing holds a whole file.
package struct BatchLoader: Sendable {
    /// The loader's settings.
    package let configuration: LoadConfiguration
    /// `intake.min_size`: objects of this size or smaller are skipped.
    package let minimumObjectBytes: Int64
    /// The journal: progress, ledger and the entries' states.
    package let journal: Journal
    /// Where objects are read from.
    package let objects: any LoadObjectStore
    /// The ClickHouse server.
    package let clickhouse: ClickHouseClient
    let logger: Logger
    let now: @Sendable () -> Date
    let inFlight: InFlightVersions
    /// Called at the points of ``LoadFaultPoint`` (tests simulate a crash by throwing from it).
    package var faults: (@Sendable (LoadFaultPoint) async throws -> Void)?

    /// Creates a loader. Share one between all workers of a process (it keeps the set of versions being loaded).
    ///
    /// - Parameters:
    ///   - minimumObjectBytes: `intake.min_size`.
    ///   - now: the clock of the `_loaded_at` lineage value.
    package init(
        configuration: LoadConfiguration, minimumObjectBytes: Int64, journal: Journal, objects: any LoadObjectStore,
        clickhouse: ClickHouseClient, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.minimumObjectBytes = minimumObjectBytes
        self.journal = journal
        self.objects = objects
        self.clickhouse = clickhouse
        self.logger = logger
        self.now = now
        self.inFlight = InFlightVersions()
        self.faults = nil
    }

    /// Loads `batch` and returns one outcome per entry. Never throws: every failure is in the outcome.
    ///
    /// - Parameters:
    ///   - logger: the logger of this load (default: the loader's); every line carries `load_id` and
    ///     `correlation_id`.
    ///   - progress: called after each row group (and each passthrough file) with the totals so far.
    package func load(
        _ batch: ClaimedBatch, logger: Logger? = nil, progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) async -> BatchOutcome {
        let started = ContinuousClock.now
        var run = BatchLoadRun(loader: self, batch: batch, logger: logger ?? self.logger, progress: progress)
        await run.execute()
        return run.outcome(duration: ContinuousClock.now - started)
    }

    /// Drops `_sluice_stage_*` tables in `databases` whose load is over: tables older than `olderThan` whose load has
    /// no pending entry in the journal and no commit whose outcome is still to be verified (verification may need the
    /// staging table). A load that is replayed later stages its files again.
    ///
    /// - Returns: the dropped tables.
    package func discardOrphanedStaging(databases: [String], olderThan: Duration) async throws -> [TableName] {
        let pending = try await journal.pendingLoadIDs()
        var active = Set<String>()
        for load in try await journal.unfinishedLoads() {
            guard let bytes = load.progress, let record = LoadProgressRecord.decode(bytes) else { continue }
            if pending.contains(load.loadID) || !record.ledger.intents.isEmpty { active.insert(record.stagedLoadID) }
        }
        return try await StagedLoad.discardOrphanedStaging(
            client: clickhouse, databases: databases, olderThan: olderThan, activeLoadIDs: active)
    }
}

/// Where ``BatchLoader/faults`` is called.
package enum LoadFaultPoint: Sendable, Hashable {
    /// Right after the n-th `saveLoadProgress` of this `load` call (1, 2, ...).
    case progressSaved(Int)
    /// In the middle of the Native insert, after the first block was sent.
    case midInsert
    /// After the load committed, before `completeLoad`.
    case beforeComplete
}

/// How far a load got, for a progress display.
package struct LoadProgress: Sendable, Hashable {
    /// Files in the load.
    package var files: Int
    /// Row groups in those files.
    package var rowGroups: Int
    /// Row groups sent so far.
    package var rowGroupsDone: Int
    /// Rows sent so far.
    package var rows: Int64
    /// Object bytes read so far.
    package var bytesRead: Int64
    /// The files' total size.
    package var bytes: Int64
}

/// The loads running in this process and the object versions they hold, so that two concurrent batches never load
/// the same version twice (the ledger only knows a version once its load completed), and one load never runs twice
/// at once (a cancelled attempt may still be unwinding when its batch is claimed again).
final class InFlightVersions: Sendable {
    private let held = Mutex<[String: String]>([:])
    private let running = Mutex<Set<String>>([])

    /// Marks `loadID` running; `false` when it already is.
    func begin(loadID: String) -> Bool {
        running.withLock { $0.insert(loadID).inserted }
    }

    /// Claims `version` for `loadID`; the load id holding it when it is taken by another load.
    func claim(_ version: String, by loadID: String) -> String? {
        held.withLock { held in
            if let owner = held[version], owner != loadID { return owner }
            held[version] = loadID
            return nil
        }
    }

    /// Registers versions of a load that is resumed (its file set is frozen whatever else runs).
    func register(_ versions: [String], by loadID: String) {
        held.withLock { held in for version in versions { held[version] = loadID } }
    }

    /// Releases every version `loadID` holds, and the load itself.
    func release(loadID: String) {
        held.withLock { held in held = held.filter { $0.value != loadID } }
        _ = running.withLock { $0.remove(loadID) }
    }
}
