import ClickHouse
import ClickHouseNative
import Logging
import Parquet
import ParquetClickHouse
import SluiceCore
import Synchronization

extension BatchLoadRun {
    /// Writes the files into the staging table: one streaming Native insert of bounded blocks, or (passthrough) one
    /// `input() FORMAT Parquet` insert per file. Errors of a file's data are thrown as ``FileDataFailure`` with the
    /// file's position; errors of the connection or the server pass through unchanged.
    func insert(_ files: [PreparedFile], into load: StagedLoad, counters: StageCounters) async throws {
        counters.begin(files)
        let capabilities = try await loader.clickhouse.capabilities()
        if loader.configuration.parquetPassthrough, capabilities.hasParquetInputFunction {
            let plans = files.map { $0.passthrough(caseInsensitive: loader.configuration.matchCaseInsensitive) }
            if plans.allSatisfy({ $0 != nil }) {
                try await insertParquet(files, plans: plans.map { $0! }, into: load, counters: counters)
                return
            }
            logger.notice("a file needs column renaming; using the Native path instead of Parquet passthrough")
        }
        try await insertNative(files, into: load, counters: counters)
    }

    func insertNative(_ files: [PreparedFile], into load: StagedLoad, counters: StageCounters) async throws {
        let blockRows = loader.configuration.blockRows
        let blockBytes = loader.configuration.blockBytes
        let progress = self.progress
        let faults = loader.faults
        let queryID = "\(load.loadID)-insert-\(UInt32.random(in: 0...UInt32.max))"
        try await load.insert(queryID: queryID) { writer in
            var sentBlocks = 0
            for (index, file) in files.enumerated() {
                let transcoder = ParquetNativeTranscoder(plan: file.plan)
                let parquet = file.parquet
                for (rowGroup, info) in parquet.rowGroups.enumerated() {
                    let rows = Int(info.numRows)
                    guard rows > 0 else { continue }
                    let columns: [NativeColumn]
                    do {
                        columns = try await transcoder.transcode(rowGroup: rowGroup, rowCount: rows) { leaf in
                            try await parquet.readColumn(rowGroup: rowGroup, column: leaf)
                        }
                    } catch {
                        throw FileDataFailure(index: index, error: Self.classifyRead(error, source: file.source, uri: file.uri))
                    }
                    let step = Self.blockStep(columns, rows: rows, blockRows: blockRows, blockBytes: blockBytes)
                    var start = 0
                    while start < rows {
                        let end = min(rows, start + step)
                        let block = step >= rows ? columns : columns.map {
                            NativeColumn(name: $0.name, type: $0.type, data: $0.data.slice(start..<end))
                        }
                        var encoder = NativeBlockWriter()
                        do {
                            try encoder.writeBlock(block)
                        } catch {
                            throw FileDataFailure(index: index, error: LoadErrorClassification.classify(error, file: file.uri))
                        }
                        try await writer.write(encoder.bytes)
                        counters.add(rows: end - start, file: index)
                        sentBlocks += 1
                        if sentBlocks == 1, let faults { try await faults(.midInsert) }
                        start = end
                    }
                    counters.rowGroupDone()
                    progress?(counters.snapshot(bytesRead: files.reduce(0) { $0 + $1.source.bytesRead }))
                }
            }
        }
    }

    func insertParquet(
        _ files: [PreparedFile], plans: [(fileColumns: [String], constants: [String: String])], into load: StagedLoad,
        counters: StageCounters
    ) async throws {
        for (index, file) in files.enumerated() {
            let queryID = "\(load.loadID)-insert-\(index)-\(UInt32.random(in: 0...UInt32.max))"
            do {
                try await load.insertParquet(
                    fileColumns: plans[index].fileColumns, constants: plans[index].constants,
                    body: SourceBody(source: file.source, pieceBytes: 8 << 20), queryID: queryID)
            } catch let error as ClickHouseError where error.category == .schema {
                // The server could not read this file's data into the table: the file's own problem.
                throw FileDataFailure(index: index, error: LoadErrorClassification.classify(error))
            } catch let error as ClickHouseError {
                throw error
            } catch {
                throw FileDataFailure(index: index, error: Self.classifyRead(error, source: file.source, uri: file.uri))
            }
            counters.add(rows: Int(file.parquet.numRows), file: index)
            counters.rowGroupDone(count: file.parquet.rowGroups.count)
            progress?(counters.snapshot(bytesRead: files.reduce(0) { $0 + $1.source.bytesRead }))
        }
    }

    static func classifyRead(_ error: any Error, source: RecordingSource, uri: String) -> SluiceError {
        LoadErrorClassification.classifyRead(error, sourceFailure: source.lastFailure, file: uri)
    }

    /// Rows per block: at most `blockRows`, and about `blockBytes` judged from the row group's converted size.
    static func blockStep(_ columns: [NativeColumn], rows: Int, blockRows: Int, blockBytes: Int) -> Int {
        let bytes = max(1, columns.reduce(0) { $0 + $1.data.estimatedByteCount })
        let bySize = max(1, Int(Double(blockBytes) / Double(bytes) * Double(rows)))
        return max(1, min(blockRows, bySize))
    }
}

/// Rows staged per file and the progress of one insert attempt.
final class StageCounters: Sendable {
    private struct State {
        var rows: [Int: Int64] = [:]
        var files = 0
        var rowGroups = 0
        var rowGroupsDone = 0
        var totalRows: Int64 = 0
        var bytes: Int64 = 0
    }

    private let state = Mutex(State())

    func begin(_ files: [PreparedFile]) {
        state.withLock { state in
            state = State()
            state.files = files.count
            state.rowGroups = files.reduce(0) { $0 + $1.parquet.rowGroups.count }
            state.bytes = files.reduce(0) { $0 + $1.staged.size }
        }
    }

    func add(rows: Int, file: Int) {
        state.withLock { state in
            state.rows[file, default: 0] += Int64(rows)
            state.totalRows += Int64(rows)
        }
    }

    func rowGroupDone(count: Int = 1) {
        state.withLock { $0.rowGroupsDone += count }
    }

    func snapshot(bytesRead: Int64) -> LoadProgress {
        state.withLock { state in
            LoadProgress(
                files: state.files, rowGroups: state.rowGroups, rowGroupsDone: state.rowGroupsDone, rows: state.totalRows,
                bytesRead: bytesRead, bytes: state.bytes)
        }
    }

    /// Copies the counted rows into the record's files (after an insert of this attempt completed).
    func fill(_ files: inout [LoadProgressRecord.StagedFile]) {
        let rows = state.withLock { $0.rows }
        guard !rows.isEmpty else { return }
        for index in files.indices { files[index].rows = rows[index] ?? 0 }
    }
}
