package import SluiceCore
package import SluiceIntake

/// What ``BatchLoader/load(_:progress:)`` did with one claimed batch: exactly one ``FileOutcome`` per entry of the
/// batch, in the batch's order.
///
/// The journal already holds the result of every entry except the failed ones:
///
/// | result | journal state when `load` returns | the scheduler's part |
/// |---|---|---|
/// | ``FileResult/loaded(rows:bytes:version:)`` | `loaded`, ledger row written (`completeLoad`) | metrics only |
/// | ``FileResult/duplicate(of:)`` | `loaded` (`markSkipped`, reason in the history) | metrics only |
/// | ``FileResult/skipped(reason:)`` | `loaded` (`markSkipped`) | metrics only |
/// | ``FileResult/failed(_:detached:)`` | still `loading` | `markFailed(ids:error:retryAt:)` by the error's category |
///
/// A failure of the whole batch (the connection, the server, memory, an unknown table) gives every entry that was not
/// settled the same `.failed(error, detached: false)`, and sets ``batchFailure``. Those entries keep the batch's load
/// id, so the retry resumes the same load. A file that failed on its own is `detached: true`: it left the batch, whose
/// other files went on without it.
package struct BatchOutcome: Sendable, Hashable {
    /// The journal's load id of the batch.
    package var loadID: String
    /// The table the batch was for.
    package var target: TableReference
    /// One outcome per entry, in batch order.
    package var files: [FileOutcome]
    /// Set when the batch as a whole failed.
    package var batchFailure: SluiceError?
    /// How long the load took.
    package var duration: Duration

    package init(loadID: String, target: TableReference, files: [FileOutcome], batchFailure: SluiceError?, duration: Duration) {
        self.loadID = loadID
        self.target = target
        self.files = files
        self.batchFailure = batchFailure
        self.duration = duration
    }

    /// The entries that need `markFailed`, grouped by their error (one call per distinct error).
    package var failures: [(error: SluiceError, entryIDs: [Int64])] {
        var groups: [(error: SluiceError, entryIDs: [Int64])] = []
        for file in files {
            guard case .failed(let error, _) = file.result else { continue }
            if let index = groups.firstIndex(where: { $0.error == error }) {
                groups[index].entryIDs.append(file.entryID)
            } else {
                groups.append((error, [file.entryID]))
            }
        }
        return groups
    }

    /// Rows inserted by this load.
    package var rowsLoaded: Int64 {
        files.reduce(0) { total, file in
            if case .loaded(let rows, _, _) = file.result { return total + rows }
            return total
        }
    }

    /// Object bytes loaded by this load.
    package var bytesLoaded: Int64 {
        files.reduce(0) { total, file in
            if case .loaded(_, let bytes, _) = file.result { return total + bytes }
            return total
        }
    }
}

/// The outcome of one entry of a batch.
package struct FileOutcome: Sendable, Hashable {
    /// The journal entry.
    package var entryID: Int64
    /// Its correlation id.
    package var correlationID: String
    /// What happened.
    package var result: FileResult

    package init(entryID: Int64, correlationID: String, result: FileResult) {
        self.entryID = entryID
        self.correlationID = correlationID
        self.result = result
    }
}

/// What happened to one file.
package enum FileResult: Sendable, Hashable {
    /// Its rows are in the table, exactly once; `version` is the loaded object version (`v:<id>` or `e:<etag>`).
    case loaded(rows: Int64, bytes: Int64, version: String)
    /// This object version was already loaded (by the entry with this correlation id); nothing was inserted.
    case duplicate(of: String)
    /// Nothing was inserted on purpose (`ledger.on_new_version: skip`, an object not larger than `intake.min_size`,
    /// an object replaced since its event).
    case skipped(reason: String)
    /// Not loaded. `detached`: the file failed on its own and left the batch; otherwise the whole batch failed.
    case failed(SluiceError, detached: Bool)

    /// The error, when failed.
    package var error: SluiceError? {
        if case .failed(let error, _) = self { return error }
        return nil
    }

    /// A short name for logs and metrics: `loaded`, `duplicate`, `skipped`, `failed`.
    package var label: String {
        switch self {
        case .loaded: "loaded"
        case .duplicate: "duplicate"
        case .skipped: "skipped"
        case .failed: "failed"
        }
    }
}
