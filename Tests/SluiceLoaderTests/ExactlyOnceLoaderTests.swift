import ClickHouse
import Foundation
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceLoader
import Synchronization
import Testing

/// The loader's exactly-once guarantee under process death: the loader dies after each progress save (the journal
/// write of every step of the protocol), in the middle of the insert, and after the commit but before
/// `completeLoad`. The "restart" closes the journal file, opens it again (entries that were loading return to the
/// queue), claims the batch again (same load id) and loads it with a new client and a new loader. Every file's rows
/// must then be in the table exactly once, on both servers.
@Suite("Exactly once through the loader, with crashes", .enabled(if: Live.enabled, Live.reason), .serialized)
struct ExactlyOnceLoaderTests {
    enum Crash: Hashable, Sendable, CustomStringConvertible {
        case none
        case afterSave(Int)
        case midInsert
        case beforeComplete

        var description: String {
            switch self {
            case .none: "no crash"
            case .afterSave(let n): "after progress save \(n)"
            case .midInsert: "in the middle of the insert"
            case .beforeComplete: "after the commit, before completeLoad"
            }
        }
    }

    static let files = 5
    static func key(_ n: Int) -> String { "market/events/ds=2025-09-10/part-\(n).parquet" }

    struct Run {
        var first: BatchOutcome
        var second: BatchOutcome?
        var saves: Int
    }

    /// Loads five files (five partitions), dying at `crash`; then restarts and loads the batch again.
    /// `betweenRuns` runs while the process is "down".
    static func crashAndRecover(
        _ h: LoadHarness, crash: Crash, betweenRuns: (LoadHarness) async throws -> Void = { _ in }
    ) async throws -> Run {
        try await h.createTable(BatchLoaderLiveTests.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
        for n in 1...files { try await h.put(key(n), try Fixtures.bytes("batch_\(n).parquet")) }

        let (batch, first, saves) = try await firstRun(h, crash: crash)
        guard crash != .none else { return Run(first: first, second: nil, saves: saves) }

        try await betweenRuns(h)

        let secondJournal = try RunningJournal(path: h.journalPath)
        let again = try #require(try await secondJournal.journal.claimNext(maxFiles: ["market": 100]), "the batch is claimable again")
        #expect(again.loadID == batch.loadID, "a batch keeps its load id across restarts")
        #expect(again.entries.map(\.id) == batch.entries.map(\.id))
        let secondClient = try Live.clickhouse(h.server)
        let second = await h.loader(secondJournal.journal, clickhouse: secondClient).load(again)
        try await secondClient.shutdown()
        for entry in batch.entries {
            let (stored, _) = try #require(try await secondJournal.journal.entry(correlationID: entry.correlationID))
            #expect(stored.state == .loaded, "\(crash): \(entry.key)")
            #expect(stored.rowsLoaded == 10, "\(crash): \(entry.key)")
        }
        #expect(try await secondJournal.journal.unfinishedLoads().isEmpty)
        await secondJournal.close()
        return Run(first: first, second: second, saves: saves)
    }

    /// The process that dies: its journal, client and loader are gone when this returns (the journal file is free).
    static func firstRun(_ h: LoadHarness, crash: Crash) async throws -> (ClaimedBatch, BatchOutcome, Int) {
        let saves = Mutex(0)
        let journal = try RunningJournal(path: h.journalPath)
        let batch = try await h.claim(journal.journal, keys: (1...files).map(key))
        let client = try Live.clickhouse(h.server)
        var loader = h.loader(journal.journal, configuration: BatchLoaderLiveTests.smallBlocks, clickhouse: client)
        loader.faults = { point in
            if case .progressSaved(let n) = point { saves.withLock { $0 = n } }
            switch (crash, point) {
            case (.afterSave(let k), .progressSaved(let n)) where k == n: throw SimulatedCrash()
            case (.midInsert, .midInsert), (.beforeComplete, .beforeComplete): throw SimulatedCrash()
            default: break
            }
        }
        let outcome = await loader.load(batch)
        try await client.shutdown()
        await journal.close()
        return (batch, outcome, saves.withLock { $0 })
    }

    static func expectExactlyOnce(_ h: LoadHarness, _ comment: String) async throws {
        let rows = try await h.query("SELECT id, v, s, ds, _source_key FROM \(h.database).events ORDER BY id")
        #expect(rows == (1...files).flatMap { expectedBatchRows($0, key: key($0)) }, "\(h.server) \(comment)")
        #expect(try await h.stagingTables().isEmpty, "\(h.server) \(comment): no staging table is left")
    }

    @Test(arguments: Live.servers)
    func aCrashAfterEveryProgressSaveStillLoadsEachRowOnce(server: String) async throws {
        var total = 0
        try await LoadHarness.with(server: server) { h in
            let clean = try await Self.crashAndRecover(h, crash: .none)
            #expect(clean.first.files.allSatisfy { $0.result.label == "loaded" }, "\(clean.first)")
            // staging, sealed, an intent and a commit for each of the five partitions, done.
            #expect(clean.saves == 2 + 2 * Self.files + 1)
            total = clean.saves
            try await Self.expectExactlyOnce(h, "without a crash")
        }
        for k in 1...total {
            try await LoadHarness.with(server: server) { h in
                let run = try await Self.crashAndRecover(h, crash: .afterSave(k))
                #expect(run.first.batchFailure != nil, "the first attempt died")
                #expect(run.second?.files.allSatisfy { $0.result.label == "loaded" } == true, "save \(k): \(String(describing: run.second))")
                #expect(run.second?.rowsLoaded == 50, "save \(k): rows from the recorded counts")
                try await Self.expectExactlyOnce(h, "crash after save \(k)")
            }
        }
    }

    @Test(arguments: Live.servers, [Crash.midInsert, Crash.beforeComplete])
    func aCrashDuringTheInsertOrBeforeCompletingLoadsEachRowOnce(server: String, crash: Crash) async throws {
        try await LoadHarness.with(server: server) { h in
            let run = try await Self.crashAndRecover(h, crash: crash)
            #expect(run.first.batchFailure != nil)
            if crash == .beforeComplete {
                // Committed but not completed: the rows are already there, once.
                #expect(try await h.query("SELECT count() FROM \(h.database).events") == [["50"]])
            }
            #expect(run.second?.rowsLoaded == 50)
            try await Self.expectExactlyOnce(h, "\(crash)")
        }
    }

    /// The staging table disappears while the process is down (dropped by hand or by the orphan sweep), once before
    /// any commit and once after the first partition was committed: the files are staged again (pinned to the
    /// recorded versions) without the committed partitions.
    @Test(arguments: Live.servers, [2, 4])
    func aLostStagingTableIsStagedAgainWithoutCommittedPartitions(server: String, crashAfterSave: Int) async throws {
        try await LoadHarness.with(server: server) { h in
            let run = try await Self.crashAndRecover(h, crash: .afterSave(crashAfterSave)) { h in
                let tables = try await h.stagingTables()
                #expect(tables.count == 1)
                for table in tables { try await h.clickhouse.execute("DROP TABLE \(h.database).\(table)") }
            }
            #expect(run.second?.rowsLoaded == 50)
            try await Self.expectExactlyOnce(h, "staging table lost after save \(crashAfterSave)")
        }
    }

    /// The orphan sweep keeps the staging table of a batch that is still pending, and drops it once the batch is dead
    /// and nothing of it was committed.
    @Test(arguments: ["26.9"])
    func theOrphanSweepKeepsStagingTablesOfLoadsThatMayGoOn(server: String) async throws {
        try await LoadHarness.with(server: server) { h in
            try await h.createTable(BatchLoaderLiveTests.batchTable, partitionBy: "intDiv(id, 100)", orderBy: "id")
            try await h.put(Self.key(1), try Fixtures.bytes("batch_1.parquet"))
            let running = try RunningJournal(path: h.journalPath)
            let batch = try await h.claim(running.journal, keys: [Self.key(1)])
            var loader = h.loader(running.journal)
            loader.faults = { point in if point == .progressSaved(2) { throw SimulatedCrash() } }
            _ = await loader.load(batch)
            #expect(try await h.stagingTables().count == 1)
            // The batch is still pending (loading): its staging table stays.
            let kept = try await loader.discardOrphanedStaging(databases: [h.database], olderThan: .zero)
            #expect(kept.isEmpty)
            #expect(try await h.stagingTables().count == 1)
            // Once its entries are dead letters and nothing was committed, the sweep drops it (the table must be at least
            // a second old by the server's clock).
            try await Task.sleep(for: .milliseconds(1100))
            try await running.journal.markFailed(ids: batch.entries.map(\.id), error: SluiceError(category: .schema, "test"), retryAt: nil)
            let dropped = try await loader.discardOrphanedStaging(databases: [h.database], olderThan: .zero)
            #expect(dropped.count == 1)
            #expect(try await h.stagingTables().isEmpty)
            await running.close()
        }
    }
}
