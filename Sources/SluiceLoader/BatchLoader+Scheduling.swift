package import Logging
package import SluiceJournal
package import SluiceScheduler
import ClickHouse
import SluiceIntake

extension BatchLoader: BatchLoading {
    /// The scheduler's entry point: ``load(_:logger:progress:)`` with the outcome in the scheduler's terms.
    package func load(_ batch: ClaimedBatch, logger: Logger) async -> BatchLoadResult {
        await load(batch, logger: logger, progress: nil).schedulerResult
    }

    /// Drops staging tables of loads that are over (see ``discardOrphanedStaging(databases:olderThan:)``), in the
    /// databases of the loads the journal knows, when they are older than ``orphanAge``.
    package func maintenance(logger: Logger) async {
        do {
            let databases = Set(try await journal.unfinishedLoads().map(\.target.database))
            let dropped = try await discardOrphanedStaging(databases: databases.sorted(), olderThan: Self.orphanAge)
            if !dropped.isEmpty {
                logger.notice("dropped staging tables of abandoned loads", metadata: ["tables": "\(dropped.map(\.description).joined(separator: ","))"])
            }
        } catch {
            logger.warning("could not sweep staging tables", metadata: ["error": "\(error)"])
        }
    }

    /// How old a staging table of a finished or abandoned load must be before the sweep drops it.
    package static let orphanAge: Duration = .seconds(900)
}

extension BatchOutcome {
    /// The outcome as the scheduler reads it: loaded and skipped files are already recorded in the journal; files
    /// that failed on their own are listed with their error; a batch failure covers every other file.
    package var schedulerResult: BatchLoadResult {
        var result = BatchLoadResult(batchError: batchFailure)
        for file in files {
            switch file.result {
            case .loaded(let rows, let bytes, _):
                result.loaded[file.entryID] = BatchLoadResult.FileStats(rows: rows, bytes: bytes)
            case .duplicate(let of):
                result.skipped[file.entryID] = "duplicate of \(of)"
            case .skipped(let reason):
                result.skipped[file.entryID] = reason
            case .failed(let error, let detached):
                if detached || batchFailure == nil { result.failed[file.entryID] = error }
            }
        }
        return result
    }
}
