public import SluiceCore

/// Where the journal lives and how much it may hold.
public struct JournalConfiguration: Sendable {
    /// `journal.path`: the SQLite file (default `./data/sluice.db`). Its directory is created if missing.
    public var path: String
    /// `journal.max_pending`: the most entries that may wait (queued, loading or retrying); beyond it intake
    /// answers 429 (default 10000).
    public var maxPending: Int
    /// `journal.max_batch`: the most requests committed together in one transaction (default 512).
    public var maxGroupCommit: Int
    /// `journal.dead_letter_payload_limit`: how many E001 payloads the dead-letter store keeps; the oldest go
    /// first (default 10000).
    public var invalidPayloadLimit: Int

    public init(path: String = "./data/sluice.db", maxPending: Int = 10_000, maxGroupCommit: Int = 512, invalidPayloadLimit: Int = 10_000) {
        self.path = path
        self.maxPending = maxPending
        self.maxGroupCommit = maxGroupCommit
        self.invalidPayloadLimit = invalidPayloadLimit
    }

    /// Reads the `journal.*` keys.
    ///
    /// ## Configuration keys
    /// - `journal.path` (string, default `./data/sluice.db`)
    /// - `journal.max_pending` (int, default `10000`)
    /// - `journal.max_batch` (int, default `512`): requests per group commit.
    /// - `journal.dead_letter_payload_limit` (int, default `10000`)
    public init(values: ConfigValues) {
        let j = values.scoped("journal")
        path = j.string("path", default: "./data/sluice.db")
        if path.isEmpty { j.problem("path", "must not be empty") }
        maxPending = j.int("max_pending", default: 10_000, range: 1...100_000_000)
        maxGroupCommit = j.int("max_batch", default: 512, range: 1...100_000)
        invalidPayloadLimit = j.int("dead_letter_payload_limit", default: 10_000, range: 0...10_000_000)
    }
}
