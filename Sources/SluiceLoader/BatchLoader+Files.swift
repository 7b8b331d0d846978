import AWS
import ClickHouse
import ClickHouseNative
import Foundation
import Logging
import Parquet
import ParquetClickHouse
import SluiceCore
import SluiceIntake
import SluiceJournal

/// One file that passed its checks and will be staged.
struct PreparedFile: Sendable {
    /// The journal entry.
    let entryID: Int64
    /// Its correlation id.
    let correlationID: String
    /// `s3://bucket/key`, for messages.
    let uri: String
    /// The object's byte source (counting reads and keeping the last read failure).
    let source: RecordingSource
    /// The opened file (footer only).
    let parquet: ParquetFile
    /// The mapping onto the table.
    var plan: TranscodePlan
    /// Hive partition values from the key.
    let partitionValues: [String: String]
    /// Lineage values offered to the table.
    let lineage: [String: String]
    /// What the progress record keeps about the file.
    var staged: LoadProgressRecord.StagedFile

    /// The columns and constants of a passthrough insert, or `nil` when the file needs the Native path (a column matched
    /// by another name: case-insensitive matching, flattened Nested members).
    func passthrough(caseInsensitive: Bool) -> (fileColumns: [String], constants: [String: String])? {
        var fileColumns: [String] = []
        var constants: [String: String] = [:]
        for column in plan.columns {
            switch column.source {
            case .file(let field, _, _):
                guard field == column.name, !column.name.contains(".") else { return nil }
                fileColumns.append(field)
            case .constant:
                guard let text = constantText(column.name, caseInsensitive: caseInsensitive) else { return nil }
                constants[column.name] = text
            }
        }
        return (fileColumns, constants)
    }

    /// The text of the constant that fills table column `name`: its Hive partition value, else its lineage value.
    func constantText(_ name: String, caseInsensitive: Bool) -> String? {
        func find(_ values: [String: String]) -> String? {
            values[name] ?? (caseInsensitive ? values.first { $0.key.lowercased() == name.lowercased() }?.value : nil)
        }
        return find(partitionValues) ?? find(lineage)
    }
}

/// What the checks of one file decided.
enum FilePreparation: Sendable {
    case ready(PreparedFile)
    case settled(FileResult)
}

/// The whole batch must stop with this error.
struct BatchFailure: Error {
    var error: SluiceError
}

/// File `index` of the staged set failed while its data was being inserted.
struct FileDataFailure: Error {
    var index: Int
    var error: SluiceError
}

extension BatchLoadRun {
    /// HeadObject, size limits, version, ledger, footer and mapping of one entry. Marks the entry skipped in the
    /// journal when it is a duplicate or skipped; throws ``BatchFailure`` for a failure that concerns the whole batch
    /// (network); returns `.settled(.failed)` for the file's own failure (the caller detaches it).
    mutating func prepare(
        _ entry: JournalEntry, schema: inout TableSchema, stagedLoadID: String, loadedAt: String, seen: inout [String: String]
    ) async throws -> FilePreparation {
        let uri = "s3://\(entry.bucket)/\(entry.key)"
        var log = logger
        log[metadataKey: "correlation_id"] = "\(entry.correlationID)"
        log[metadataKey: "object"] = "\(uri)"

        func failed(_ error: SluiceError) -> FilePreparation {
            log.warning("file refused", metadata: ["code": "\(error.code.rawValue)", "category": "\(error.category.rawValue)", "error": "\(error.message)"])
            return .settled(.failed(error, detached: true))
        }

        let versionID = entry.versionID.flatMap { $0.isEmpty || $0 == "null" ? nil : $0 }
        let eventETag = entry.etag.flatMap { $0.isEmpty ? nil : $0 }
        let object: LoadObject
        do {
            object = try await loader.objects.open(
                bucket: entry.bucket, key: entry.key, pin: S3ObjectPin(versionID: versionID, eTag: versionID == nil ? eventETag : nil),
                logger: log)
        } catch let error as AWSError where error.code == AWSError.Code.preconditionFailed && versionID == nil && eventETag != nil {
            let reason = "the object was replaced after its event (ETag \(eventETag ?? "")); the new version is loaded by its own event"
            try await loader.journal.markSkipped(entryID: entry.id, reason: reason)
            log.notice("file skipped", metadata: ["reason": "\(reason)"])
            return .settled(.skipped(reason: reason))
        } catch {
            let classified = LoadErrorClassification.classify(error, file: uri)
            if LoadErrorClassification.isBatchWide(classified) { throw BatchFailure(error: classified) }
            return failed(classified)
        }

        if object.info.size <= loader.minimumObjectBytes {
            let reason = "the object has \(object.info.size) bytes, not more than intake.min_size (\(loader.minimumObjectBytes))"
            try await loader.journal.markSkipped(entryID: entry.id, reason: reason)
            log.notice("file skipped", metadata: ["reason": "\(reason)"])
            return .settled(.skipped(reason: reason))
        }
        let version = object.version
        try await loader.journal.setObjectVersion(entryID: entry.id, version: version)
        log[metadataKey: "version"] = "\(version)"

        let identity = "\(entry.bucket.utf8.count):\(entry.bucket)/\(entry.key.utf8.count):\(entry.key)/\(version)"
        if let first = seen[identity] {
            try await loader.journal.markSkipped(entryID: entry.id, reason: "duplicate of \(first)")
            log.notice("file is a duplicate", metadata: ["of": "\(first)"])
            return .settled(.duplicate(of: first))
        }
        if let record = try await loader.journal.ledgerRecord(bucket: entry.bucket, key: entry.key, version: version) {
            try await loader.journal.markSkipped(entryID: entry.id, reason: "duplicate of \(record.correlationID)")
            log.notice("file is a duplicate", metadata: ["of": "\(record.correlationID)", "loaded_into": "\(record.target)"])
            return .settled(.duplicate(of: record.correlationID))
        }
        if loader.configuration.onNewVersion == .skip,
            let previous = try await loader.journal.ledgerRecords(bucket: entry.bucket, key: entry.key).first
        {
            let reason = "version \(previous.version) of this key was loaded before (correlation id \(previous.correlationID)); "
                + "ledger.on_new_version is skip"
            try await loader.journal.markSkipped(entryID: entry.id, reason: reason)
            log.notice("file skipped", metadata: ["reason": "\(reason)"])
            return .settled(.skipped(reason: reason))
        }
        if let owner = loader.inFlight.claim(identity, by: batch.loadID) {
            return failed(SluiceError(
                category: .timeout,
                "\(uri) version \(version) is being loaded by load \(owner) in this process; it is retried after that load ends"))
        }
        seen[identity] = entry.correlationID

        let source = RecordingSource(object.source)
        let parquet: ParquetFile
        do {
            parquet = try await ParquetFile.open(source: source, options: loader.configuration.parquetOptions)
        } catch {
            let classified = Self.classifyRead(error, source: source, uri: uri)
            if LoadErrorClassification.isBatchWide(classified) { throw BatchFailure(error: classified) }
            return failed(classified)
        }

        let partitionValues = LoadChecks.partitionValues(entry.partition)
        var lineage: [String: String] = [
            "_source_key": entry.key, "_source_bucket": entry.bucket, "_source_uri": uri,
            "_source_etag": LoadObject.unquoted(object.info.eTag), "_source_version": version,
            "_correlation_id": entry.correlationID, "_loaded_at": loadedAt, "_sluice_load_id": stagedLoadID,
        ]
        lineage["_source_size"] = String(object.info.size)
        let plan: TranscodePlan
        do {
            plan = try makePlan(parquet, schema: schema, partitionValues: partitionValues, lineage: lineage)
        } catch {
            // The cached schema may be stale: read it again once per load and retry.
            guard !schemaRefreshed else { return failed(LoadErrorClassification.classify(error, file: uri)) }
            schemaRefreshed = true
            schema = try await loader.clickhouse.tableSchema(tableName, refresh: true)
            do {
                plan = try makePlan(parquet, schema: schema, partitionValues: partitionValues, lineage: lineage)
            } catch {
                return failed(LoadErrorClassification.classify(error, file: uri))
            }
        }
        let staged = LoadProgressRecord.StagedFile(
            entryID: entry.id, correlationID: entry.correlationID, bucket: entry.bucket, key: entry.key, version: version,
            versionID: object.info.versionID, eTag: object.info.eTag, size: object.info.size, partition: entry.partition, rows: nil)
        let file = PreparedFile(
            entryID: entry.id, correlationID: entry.correlationID, uri: uri, source: source, parquet: parquet, plan: plan,
            partitionValues: partitionValues, lineage: lineage, staged: staged)
        if entry.redelivered, let settled = try await foundInTable(file, schema: schema, log: log) { return settled }
        log.debug("file ready", metadata: [
            "size": "\(object.info.size)", "rows": "\(parquet.numRows)", "row_groups": "\(parquet.rowGroups.count)",
            "unused_columns": "\(plan.unusedFileColumns.joined(separator: ","))",
        ])
        return .ready(file)
    }

    /// For an SQS message that had been received before this replica journaled it: another consumer of the queue may
    /// have committed the file and stopped before deleting the message. When the table has lineage columns that
    /// identify the version (``versionLineage(_:)``), rows carrying them mean the file is in the table: the entry is
    /// recorded as loaded (with its ledger row) and nothing is inserted. On a plain MergeTree, fewer rows than the file
    /// has mean the other consumer committed some of the file's partitions and has not finished: the file fails for a
    /// person to check (loading it would duplicate the committed part). Without such columns the file is loaded.
    ///
    /// The lookup reads the lineage columns of the parts that can hold the file: those whose Hive partition columns
    /// (filled from the key) hold the key's values.
    func foundInTable(_ file: PreparedFile, schema: TableSchema, log: Logger) async throws -> FilePreparation? {
        guard let lineage = Self.versionLineage(file) else {
            log.warning(
                """
                redelivered SQS message for a file version this replica has not loaded, and the table has no lineage columns \
                (_source_uri or _source_key, and _source_version or _source_etag) to find out whether another replica loaded it; loading it
                """)
            return nil
        }
        let narrowing = file.plan.columns.compactMap { column -> ColumnValue? in
            guard case .constant(_, let origin) = column.source, origin == "partition value", Self.castsLikeTheLoader(column.type),
                let text = file.constantText(column.name, caseInsensitive: loader.configuration.matchCaseInsensitive),
                let typeName = schema.column(named: column.name)?.typeName
            else { return nil }
            return ColumnValue(column: column.name, type: typeName, value: text)
        }
        let found: [String: Int]
        do {
            found = try await loader.clickhouse.rowsWithLineage(tableName, values: lineage, narrowedBy: narrowing)
        } catch {
            throw BatchFailure(error: LoadErrorClassification.classify(error))
        }
        let columns = lineage.keys.sorted().joined(separator: ", ")
        guard !found.isEmpty else {
            log.info("redelivered SQS message: no rows of this version in the table; loading it", metadata: ["lineage_columns": "\(columns)"])
            return nil
        }
        let rows = Int64(found.values.reduce(0, +))
        let partitions = found.keys.sorted().joined(separator: ", ")
        if schema.mergesKeepEveryRow, rows < file.parquet.numRows {
            let error = SluiceError(
                .databaseUnavailable,
                "\(file.uri): \(rows) of its \(file.parquet.numRows) rows are already in \(batch.target) (lineage \(columns), partitions "
                    + "[\(partitions)]): another consumer of the queue committed part of the file and has not finished; it finishes "
                    + "when it restarts with its journal. Loading the file again would duplicate those rows; check the table before replaying",
                category: .schema)
            log.error("redelivered file is partly in the table", metadata: ["code": "\(error.code.rawValue)", "error": "\(error.message)"])
            return .settled(.failed(error, detached: true))
        }
        let reason = "already in \(batch.target): \(rows) rows with this version's lineage (\(columns)) in partitions "
            + "[\(partitions)]; loaded by another consumer of the queue"
        try await loader.journal.markFoundInTable(
            LoadedFile(entryID: file.entryID, version: file.staged.version, rows: rows, bytes: file.staged.size), target: batch.target,
            reason: reason)
        log.notice("file is already in the table", metadata: ["reason": "\(reason)"])
        return .settled(.duplicate(of: "the rows already in \(batch.target)"))
    }

    /// Types whose text the server's `CAST` reads exactly as the loader does (no time zone, no rounding), so that a
    /// narrowing condition on them can never miss the loader's rows.
    static func castsLikeTheLoader(_ type: ClickHouseType) -> Bool {
        switch type {
        case .nullable(let inner), .lowCardinality(let inner): castsLikeTheLoader(inner)
        case .string, .date, .date32, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64: true
        default: false
        }
    }

    /// Opens a staged file again (to stage a frozen load once more), pinned to the recorded version.
    /// - Throws: ``BatchFailure``: a frozen load cannot drop a file.
    func reopen(_ file: LoadProgressRecord.StagedFile, schema: TableSchema, record: LoadProgressRecord)
        async throws -> PreparedFile
    {
        let uri = "s3://\(file.bucket)/\(file.key)"
        func frozen(_ error: SluiceError) -> BatchFailure {
            BatchFailure(error: LoadErrorClassification.isBatchWide(error) ? error : SluiceError(
                error.code,
                "load \(record.stagedLoadID) into \(record.target) must stage \(uri) again (its staging table is gone), but: "
                    + "\(error.message); partitions already committed: \(record.ledger.committed.sorted().joined(separator: ", "))",
                category: error.category))
        }
        let source: RecordingSource
        let parquet: ParquetFile
        do {
            let object = try await loader.objects.open(
                bucket: file.bucket, key: file.key, pin: S3ObjectPin(versionID: file.versionID, eTag: file.eTag), logger: logger)
            source = RecordingSource(object.source)
            parquet = try await ParquetFile.open(source: source, options: loader.configuration.parquetOptions)
        } catch {
            throw frozen(LoadErrorClassification.classify(error, file: uri))
        }
        let partitionValues = LoadChecks.partitionValues(file.partition ?? "")
        var lineage: [String: String] = [
            "_source_key": file.key, "_source_bucket": file.bucket, "_source_uri": uri, "_source_etag": LoadObject.unquoted(file.eTag),
            "_source_version": file.version, "_correlation_id": file.correlationID, "_loaded_at": record.loadedAt,
            "_sluice_load_id": record.stagedLoadID,
        ]
        lineage["_source_size"] = String(file.size)
        let plan: TranscodePlan
        do {
            plan = try makePlan(parquet, schema: schema, partitionValues: partitionValues, lineage: lineage)
        } catch {
            throw frozen(LoadErrorClassification.classify(error, file: uri))
        }
        return PreparedFile(
            entryID: file.entryID, correlationID: file.correlationID, uri: uri, source: source, parquet: parquet, plan: plan, partitionValues: partitionValues, lineage: lineage,
            staged: file)
    }

    func makePlan(_ parquet: ParquetFile, schema: TableSchema, partitionValues: [String: String], lineage: [String: String]) throws
        -> TranscodePlan
    {
        try TranscodePlan(
            parquet: parquet.schema, table: schema.columns.map(TargetColumn.init(tableColumn:)),
            options: MappingOptions(
                caseInsensitive: loader.configuration.matchCaseInsensitive, partitionValues: partitionValues, lineage: lineage))
    }
}

extension TargetColumn {
    /// The transcoder's view of a `system.columns` row.
    init(tableColumn column: TableColumn) {
        let fill: TargetColumn.Fill
        switch column.defaultKind {
        case .none: fill = .required
        case .default: fill = .hasDefault
        default: fill = .computed
        }
        self.init(name: column.name, typeName: column.typeName, type: try? column.type.get(), fill: fill)
    }
}
