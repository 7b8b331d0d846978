import ClickHouse
import Foundation
import Logging
import ParquetClickHouse
import SluiceCore
import SluiceIntake
import SluiceJournal
import Synchronization

/// One call of ``BatchLoader/load(_:progress:)``: the batch, the outcomes found so far and the load's state.
struct BatchLoadRun {
    let loader: BatchLoader
    let batch: ClaimedBatch
    let progress: (@Sendable (LoadProgress) -> Void)?
    let tableName: TableName
    var logger: Logger
    var results: [Int64: FileResult] = [:]
    var batchFailure: SluiceError?
    /// The table schema was read again during this call (it is refreshed at most once per reason).
    var schemaRefreshed = false
    let saves = SaveCounter()

    init(loader: BatchLoader, batch: ClaimedBatch, logger: Logger, progress: (@Sendable (LoadProgress) -> Void)?) {
        self.loader = loader
        self.batch = batch
        self.progress = progress
        self.tableName = TableName(database: batch.target.database, table: batch.target.table)
        var logger = logger
        logger[metadataKey: "load_id"] = "\(batch.loadID)"
        logger[metadataKey: "correlation_id"] = "\(batch.entries.map(\.correlationID).joined(separator: ","))"
        logger[metadataKey: "table"] = "\(batch.target)"
        self.logger = logger
    }

    mutating func execute() async {
        guard loader.inFlight.begin(loadID: batch.loadID) else {
            // Two runs of one load would share its staging table and its progress record.
            fail(SluiceError(category: .timeout, "load \(batch.loadID) is still running in this process (an earlier attempt has not ended yet)"))
            return
        }
        defer { loader.inFlight.release(loadID: batch.loadID) }
        do {
            try await executeThrowing()
        } catch let failure as BatchFailure {
            fail(failure.error)
        } catch {
            fail(LoadErrorClassification.classify(error))
        }
    }

    func outcome(duration: Duration) -> BatchOutcome {
        BatchOutcome(
            loadID: batch.loadID, target: batch.target,
            files: batch.entries.map { entry in
                FileOutcome(
                    entryID: entry.id, correlationID: entry.correlationID,
                    result: results[entry.id] ?? .failed(SluiceError(category: .databaseUnavailable, "the load ended without an outcome"), detached: false))
            },
            batchFailure: batchFailure, duration: duration)
    }

    /// Every entry without an outcome fails with `error` and keeps the batch's load id.
    mutating func fail(_ error: SluiceError) {
        batchFailure = error
        for entry in batch.entries where results[entry.id] == nil {
            results[entry.id] = .failed(error, detached: false)
        }
        logger.error("batch failed", metadata: [
            "code": "\(error.code.rawValue)", "category": "\(error.category.rawValue)", "error": "\(error.message)",
        ])
    }

    mutating func executeThrowing() async throws {
        guard let first = batch.entries.first else { return }
        var previous: LoadProgressRecord?
        if let bytes = try await loader.journal.loadProgress(loadID: batch.loadID) {
            guard let record = LoadProgressRecord.decode(bytes) else {
                throw BatchFailure(error: SluiceError(
                    .databaseUnavailable,
                    "the saved progress of load \(batch.loadID) cannot be read; whether its rows reached \(batch.target) is unknown, check the table",
                    category: .schema))
            }
            previous = record
        }
        if let previous, !previous.isResettable || previous.ledger.done {
            try await resume(previous)
            return
        }
        try await fresh(previous: previous, token: first.correlationID)
    }

    // MARK: A load that has not sealed anything yet

    mutating func fresh(previous: LoadProgressRecord?, token: String) async throws {
        let stagedLoadID = previous?.stagedLoadID ?? LoadProgressRecord.stagedLoadID(loadID: batch.loadID, token: token)
        let loadedAt = previous?.loadedAt ?? LoadChecks.timestamp(loader.now())
        logger[metadataKey: "staged_load_id"] = "\(stagedLoadID)"
        var schema = try await tableSchema(refresh: false)

        var files: [PreparedFile] = []
        var seen: [String: String] = [:]
        var detach: [Int64] = []
        do {
            for entry in batch.entries {
                let planned = schemaRefreshed
                switch try await prepare(entry, schema: &schema, stagedLoadID: stagedLoadID, loadedAt: loadedAt, seen: &seen) {
                case .ready(let file):
                    files.append(file)
                    if !planned, schemaRefreshed { files = replan(files, schema: schema, detach: &detach) }
                case .settled(let result):
                    results[entry.id] = result
                    if case .failed = result { detach.append(entry.id) }
                }
            }
        } catch {
            // The files that already failed on their own leave the batch even though the batch stops here.
            try? await loader.journal.detachFromLoad(entryIDs: detach)
            throw error
        }
        try await loader.journal.detachFromLoad(entryIDs: detach)

        var pendingDetach: [Int64] = []
        var retriedAfterSchemaError = false
        var saved = previous != nil
        while true {
            guard !files.isEmpty else {
                if saved { await abandon(stagedLoadID: stagedLoadID) }
                logger.notice("batch has no file left to load", metadata: ["outcomes": "\(results.values.map(\.label).sorted())"])
                return
            }
            var record = LoadProgressRecord(
                stagedLoadID: stagedLoadID, target: batch.target, loadedAt: loadedAt, files: files.map(\.staged),
                verifyLineage: Self.verificationLineage(files, stagedLoadID: stagedLoadID), ledger: StagedLoadLedger())
            try await save(record)
            saved = true
            try await loader.journal.detachFromLoad(entryIDs: pendingDetach)
            pendingDetach = []
            do {
                let current = files
                try await stage(&record) { current }
                try await complete(record)
                return
            } catch let failure as FileDataFailure {
                guard record.isResettable, !LoadErrorClassification.isBatchWide(failure.error) else {
                    throw BatchFailure(error: record.isResettable ? failure.error : Self.frozen(record, failure.error))
                }
                let bad = files.remove(at: failure.index)
                results[bad.entryID] = .failed(failure.error, detached: true)
                pendingDetach = [bad.entryID]
                logger.warning("file failed during the insert; staging the batch again without it", metadata: [
                    "object": "\(bad.uri)", "failed_correlation_id": "\(bad.correlationID)", "code": "\(failure.error.code.rawValue)",
                    "error": "\(failure.error.message)",
                ])
            } catch let error as ClickHouseError where error.category == .schema && record.isResettable && !retriedAfterSchemaError {
                // The table may have changed since its schema was cached: read it again once and plan every file again.
                retriedAfterSchemaError = true
                logger.notice("schema error from the server; reading the table schema again", metadata: ["error": "\(error)"])
                schema = try await tableSchema(refresh: true)
                files = replan(files, schema: schema, detach: &pendingDetach)
            } catch {
                let classified = (error as? BatchFailure)?.error ?? LoadErrorClassification.classify(error)
                if record.isResettable, !LoadErrorClassification.isBatchWide(classified) {
                    // Nothing reached the target and the batch goes to the dead-letter store: no staging table stays.
                    await abandon(stagedLoadID: stagedLoadID)
                }
                if let reason = record.ledger.failure { throw BatchFailure(error: Self.ambiguous(record, reason)) }
                throw BatchFailure(error: classified)
            }
        }
    }

    /// Plans every file again after the schema was refreshed; files that no longer fit fail on their own.
    mutating func replan(_ files: [PreparedFile], schema: TableSchema, detach: inout [Int64]) -> [PreparedFile] {
        var kept: [PreparedFile] = []
        for var file in files {
            do {
                file.plan = try makePlan(file.parquet, schema: schema, partitionValues: file.partitionValues, lineage: file.lineage)
                kept.append(file)
            } catch {
                let classified = LoadErrorClassification.classify(error, file: file.uri)
                results[file.entryID] = .failed(classified, detached: true)
                detach.append(file.entryID)
            }
        }
        return kept
    }

    // MARK: A load whose file set is frozen

    mutating func resume(_ saved: LoadProgressRecord) async throws {
        logger[metadataKey: "staged_load_id"] = "\(saved.stagedLoadID)"
        if case .failed(let reason) = saved.ledger.nextStep { throw BatchFailure(error: Self.ambiguous(saved, reason)) }
        logger.notice("resuming a load from its saved progress", metadata: [
            "committed": "\(saved.ledger.committed.sorted().joined(separator: ","))", "sealed": "\(saved.ledger.manifest != nil)",
            "done": "\(saved.ledger.done)",
        ])
        let staged = Set(saved.files.map(\.entryID))
        var strangers: [Int64] = []
        for entry in batch.entries where !staged.contains(entry.id) {
            // Not possible through the journal's claims; handled so that such an entry is loaded again on its own.
            results[entry.id] = .failed(
                SluiceError(category: .timeout, "the entry is not part of the staged data of load \(saved.stagedLoadID); it is loaded again in a new load"),
                detached: true)
            strangers.append(entry.id)
        }
        try await loader.journal.detachFromLoad(entryIDs: strangers)
        loader.inFlight.register(saved.files.map { "\($0.bucket.utf8.count):\($0.bucket)/\($0.key.utf8.count):\($0.key)/\($0.version)" }, by: batch.loadID)
        var record = saved
        if !record.ledger.done {
            let frozen = record
            do {
                try await stage(&record) {
                    let schema = try await loader.clickhouse.tableSchema(tableName)
                    var files: [PreparedFile] = []
                    for file in frozen.files {
                        files.append(try await reopen(file, schema: schema, record: frozen))
                    }
                    return files
                }
            } catch let failure as FileDataFailure {
                throw BatchFailure(error: LoadErrorClassification.isBatchWide(failure.error) ? failure.error : Self.frozen(record, failure.error))
            } catch let failure as BatchFailure {
                throw failure
            } catch {
                if let reason = record.ledger.failure { throw BatchFailure(error: Self.ambiguous(record, reason)) }
                throw BatchFailure(error: LoadErrorClassification.classify(error))
            }
        }
        try await complete(record)
    }

    // MARK: Steps

    /// Runs the staged protocol from the record's ledger to the end, saving the record after every step.
    func stage(_ record: inout LoadProgressRecord, files: () async throws -> [PreparedFile]) async throws {
        let load: StagedLoad
        do {
            load = try StagedLoad(client: loader.clickhouse, target: tableName, loadID: record.stagedLoadID)
        } catch {
            throw BatchFailure(error: LoadErrorClassification.classify(error))
        }
        let counters = StageCounters()
        var ledger = record.ledger
        var snapshot = record
        defer {
            snapshot.ledger = ledger
            record = snapshot
        }
        let this = self
        try await load.run(
            ledger: &ledger, lineage: record.verifyLineage,
            insert: { load in
                let prepared = try await files()
                try await this.insert(prepared, into: load, counters: counters)
            },
            persist: { ledger in
                snapshot.ledger = ledger
                counters.fill(&snapshot.files)
                try await this.save(snapshot)
            })
    }

    /// Marks the staged entries of this batch loaded, with their ledger rows, in one transaction.
    mutating func complete(_ record: LoadProgressRecord) async throws {
        let staged = Dictionary(record.files.map { ($0.entryID, $0) }, uniquingKeysWith: { a, _ in a })
        var loaded: [LoadedFile] = []
        for entry in batch.entries where results[entry.id] == nil {
            guard let file = staged[entry.id] else { continue }
            if file.rows == nil { logger.warning("the row count of a staged file was not recorded", metadata: ["entry_id": "\(entry.id)"]) }
            loaded.append(LoadedFile(entryID: entry.id, version: file.version, rows: file.rows ?? 0, bytes: file.size))
        }
        if let faults = loader.faults { try await faults(.beforeComplete) }
        try await loader.journal.completeLoad(loadID: batch.loadID, target: batch.target, files: loaded)
        for file in loaded {
            results[file.entryID] = .loaded(rows: file.rows, bytes: file.bytes, version: file.version)
            var log = logger
            log[metadataKey: "correlation_id"] = "\(staged[file.entryID]?.correlationID ?? "")"
            log.info("file loaded", metadata: ["rows": "\(file.rows)", "bytes": "\(file.bytes)", "version": "\(file.version)"])
        }
        logger.info("batch loaded", metadata: [
            "files": "\(loaded.count)", "rows": "\(loaded.reduce(0) { $0 + $1.rows })", "bytes": "\(loaded.reduce(0) { $0 + $1.bytes })",
        ])
    }

    /// Saves the record in the journal (then calls the fault hook).
    func save(_ record: LoadProgressRecord) async throws {
        try await loader.journal.saveLoadProgress(loadID: batch.loadID, target: batch.target, progress: try record.encoded())
        let count = saves.next()
        if let faults = loader.faults { try await faults(.progressSaved(count)) }
    }

    /// Drops the staging table and forgets the progress of a load that committed nothing and will not go on.
    func abandon(stagedLoadID: String) async {
        do {
            let load = try StagedLoad(client: loader.clickhouse, target: tableName, loadID: stagedLoadID)
            try await load.cleanup()
            try await loader.journal.discardLoadProgress(loadID: batch.loadID)
        } catch {
            logger.warning("could not drop the staging table of an abandoned load", metadata: ["error": "\(error)"])
        }
    }

    func tableSchema(refresh: Bool) async throws -> TableSchema {
        let schema: TableSchema
        do {
            schema = try await loader.clickhouse.tableSchema(tableName, refresh: refresh)
        } catch {
            throw BatchFailure(error: LoadErrorClassification.classify(error))
        }
        do {
            try LoadChecks.checkTable(schema)
        } catch {
            throw BatchFailure(error: error)
        }
        return schema
    }

    // MARK: Messages and values

    /// Lineage that only this load's rows carry, for `verifyCommitted`: `_sluice_load_id` when every file fills it, or
    /// `_correlation_id` of a single-file load. Other lineage columns may repeat across loads of the same file.
    static func verificationLineage(_ files: [PreparedFile], stagedLoadID: String) -> [String: String] {
        if let column = files.first.flatMap({ lineageColumn($0, "_sluice_load_id") }),
            files.allSatisfy({ lineageColumn($0, "_sluice_load_id") == column })
        {
            return [column: stagedLoadID]
        }
        if files.count == 1, let file = files.first, let column = lineageColumn(file, "_correlation_id") {
            return [column: file.correlationID]
        }
        return [:]
    }

    /// Lineage that every load of this file version writes, whichever replica or load: the object (`_source_uri`, or
    /// `_source_key` and, when the table has it, `_source_bucket`) and its version (`_source_version`, else
    /// `_source_etag`). `nil` when the table lacks either part.
    static func versionLineage(_ file: PreparedFile) -> [String: String]? {
        var values: [String: String] = [:]
        func take(_ name: String) -> Bool {
            guard let column = lineageColumn(file, name), let value = file.lineage[name] else { return false }
            values[column] = value
            return true
        }
        var object = take("_source_uri")
        if !object, take("_source_key") {
            object = true
            _ = take("_source_bucket")
        }
        let version = take("_source_version") || take("_source_etag")
        return object && version ? values : nil
    }

    /// The table column (its own spelling) that the plan fills with the lineage value `name`.
    static func lineageColumn(_ file: PreparedFile, _ name: String) -> String? {
        for column in file.plan.columns where column.name.lowercased() == name {
            if case .constant(_, let origin) = column.source, origin == "lineage value" { return column.name }
        }
        return nil
    }

    static func ambiguous(_ record: LoadProgressRecord, _ reason: String) -> SluiceError {
        SluiceError(
            .databaseUnavailable,
            "load \(record.stagedLoadID) into \(record.target) stopped and will not commit again: \(reason). Partitions committed: "
                + "[\(record.ledger.committed.sorted().joined(separator: ", "))]; files: \(record.files.map { "s3://\($0.bucket)/\($0.key)" }.joined(separator: ", ")). "
                + "Check the table for this load's rows before replaying",
            category: .schema)
    }

    static func frozen(_ record: LoadProgressRecord, _ error: SluiceError) -> SluiceError {
        SluiceError(
            error.code,
            "load \(record.stagedLoadID) into \(record.target) has committed partitions [\(record.ledger.committed.sorted().joined(separator: ", "))] "
                + "and cannot drop a file any more: \(error.message)",
            category: error.category)
    }
}

/// Counts the progress saves of one `load` call.
final class SaveCounter: Sendable {
    private let count = Mutex(0)
    func next() -> Int { count.withLock { $0 += 1; return $0 } }
}
