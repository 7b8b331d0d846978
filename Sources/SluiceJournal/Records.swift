public import SluiceCore
public import SluiceIntake

/// A journal entry as read back: one accepted file and where it stands.
public struct JournalEntry: Sendable, Hashable {
    public var id: Int64
    public var correlationID: String
    public var source: String
    public var bucket: String
    public var key: String
    public var size: Int64?
    public var etag: String?
    public var versionID: String?
    public var sequencer: String?
    public var eventTime: String?
    public var eventID: String?
    public var domain: String
    public var tableName: String
    public var partition: String
    public var target: TableReference
    public var priority: Priority
    public var state: EntryState
    /// Claims so far (including loads a restart interrupted).
    public var attempts: Int
    /// Failed attempts so far: what the retry policy counts.
    public var failures: Int
    /// Milliseconds since 1970.
    public var receivedAt: Int64
    public var updatedAt: Int64
    public var nextAttemptAt: Int64?
    public var lastErrorCode: String?
    public var lastErrorMessage: String?
    public var rowsLoaded: Int64?
    public var bytesLoaded: Int64?
    public var payload: String
    /// The batch this entry belongs to, once claimed.
    public var loadID: String?
    /// The object version resolved from S3 (`v:<version id>` or `e:<etag>`), once known.
    public var objectVersion: String?
    /// See ``QueuedFile/redelivered``.
    public var redelivered: Bool
}

/// One state change of an entry.
public struct HistoryRecord: Sendable, Hashable {
    public var at: Int64
    public var from: EntryState?
    public var to: EntryState
    public var event: String
    public var code: String?
    public var message: String?
}

/// A dead letter: an invalid payload (E001), or an entry that failed for good.
public struct DeadLetter: Sendable, Hashable {
    public var id: Int64
    public var entryID: Int64?
    public var correlationID: String
    public var code: String
    public var category: String
    public var message: String
    public var field: String?
    public var source: String?
    public var domain: String?
    public var tableName: String?
    public var payload: String?
    public var createdAt: Int64
    public var replayedAt: Int64?
}

/// An input Sluice refused (E001), to be kept for manual review.
public struct InvalidPayload: Sendable, Hashable {
    public var correlationID: String
    public var error: SluiceError
    public var source: String
    public var payload: String

    public init(correlationID: String, error: SluiceError, source: String, payload: String) {
        self.correlationID = correlationID
        self.error = error
        self.source = source
        self.payload = payload
    }
}

/// What the journal did with one file of an enqueue request.
public enum EnqueueOutcome: Sendable, Hashable {
    /// Newly queued, durably.
    case queued(correlationID: String, entryID: Int64)
    /// The same object version is already in the journal.
    case duplicate(correlationID: String, existingCorrelationID: String, state: EntryState)
}

/// The answer to an enqueue request.
public enum EnqueueResult: Sendable, Hashable {
    /// Every file is either queued or a duplicate; all of it is on disk.
    case accepted([EnqueueOutcome])
    /// Nothing was queued: the journal or a domain's budget is full.
    case full(reason: String)
}

/// Filters for listing entries.
public struct EntryFilter: Sendable, Hashable {
    public var states: [EntryState]
    public var domain: String?
    public var table: String?
    public var limit: Int
    /// Only entries with an id below this one (for paging backwards).
    public var beforeID: Int64?

    public init(states: [EntryState] = [], domain: String? = nil, table: String? = nil, limit: Int = 100, beforeID: Int64? = nil) {
        self.states = states
        self.domain = domain
        self.table = table
        self.limit = limit
        self.beforeID = beforeID
    }
}

/// Counts of pending entries, for metrics and back-pressure.
public struct QueueDepth: Sendable, Hashable {
    /// Pending entries per domain and state.
    public var byDomainAndState: [String: [EntryState: Int]]
    /// All pending entries.
    public var total: Int
    /// The receive time of the oldest pending entry, if any (ms since 1970).
    public var oldestPendingAt: Int64?
}
