/// The durable state of one staged load: what the loader's ledger stores (as JSON, it is `Codable`) and what decides
/// the next step after any restart. A pure state machine: no I/O, tested on its own.
public struct StagedLoadLedger: Codable, Sendable, Hashable {
    /// The sealed staging table's content, once recorded.
    public private(set) var manifest: StageManifest?
    /// The latest commit intent of each partition that is not yet known to be committed.
    public private(set) var intents: [String: CommitIntent] = [:]
    /// Partitions whose rows are in the target.
    public private(set) var committed: Set<String> = []
    /// Commits issued per partition (the next intent's attempt number is one more).
    public private(set) var attempts: [String: Int] = [:]
    /// The staging table is dropped and the load is complete.
    public private(set) var done = false
    /// Why the load stopped without a safe way forward (an ambiguous verdict); a person must check the table.
    public private(set) var failure: String?

    /// A new load.
    public init() {}

    /// What to do next.
    public enum Step: Sendable, Hashable {
        /// (Re)create the staging table, insert the data, remove `alreadyCommitted` partitions from it, seal it.
        case stage(alreadyCommitted: [String])
        /// Find out whether the commit of `intent` happened.
        case verify(CommitIntent)
        /// Record an intent for `partition` with this attempt number, then commit it.
        case commit(partition: String, attempt: Int)
        /// Drop the staging table.
        case cleanup
        /// Nothing left to do.
        case finished
        /// Stopped; see ``StagedLoadLedger/failure``.
        case failed(String)
    }

    /// The next step, from the recorded state alone.
    public var nextStep: Step {
        if done { return .finished }
        if let failure { return .failed(failure) }
        guard let manifest else { return .stage(alreadyCommitted: committed.sorted()) }
        for partition in manifest.partitions where !committed.contains(partition.id) {
            if let intent = intents[partition.id] { return .verify(intent) }
            return .commit(partition: partition.id, attempt: (attempts[partition.id] ?? 0) + 1)
        }
        return .cleanup
    }

    /// The staging table was sealed with `manifest` (partitions already committed are not in it).
    public mutating func recordSealed(_ manifest: StageManifest) {
        self.manifest = manifest
    }

    /// A commit is about to be issued. Record (and persist) this before sending the ALTER.
    public mutating func recordIntent(_ intent: CommitIntent) {
        intents[intent.partitionID] = intent
        attempts[intent.partitionID] = max(attempts[intent.partitionID] ?? 0, intent.attempt)
    }

    /// The commit of `partition` succeeded.
    public mutating func recordCommitted(_ partition: String) {
        committed.insert(partition)
        intents.removeValue(forKey: partition)
    }

    /// The answer of ``StagedLoad/verifyCommitted(_:lineage:)`` for `intent`.
    public mutating func recordVerdict(_ verdict: CommitVerdict, for intent: CommitIntent) {
        switch verdict {
        case .committed:
            recordCommitted(intent.partitionID)
        case .notCommitted:
            intents.removeValue(forKey: intent.partitionID)
        case .inProgress:
            break
        case .ambiguous(let reason):
            failure = reason
        }
    }

    /// The staging table is gone before every partition was committed (dropped by hand or by the orphan sweep): the
    /// data must be staged again, without the partitions already committed.
    public mutating func recordStageLost() {
        manifest = nil
        intents = [:]
    }

    /// The staging table was dropped; the load is complete.
    public mutating func recordDone() {
        done = true
    }
}

extension StagedLoad {
    /// Drives a load from whatever state `ledger` holds to the end, recording every step.
    ///
    /// - Parameters:
    ///   - ledger: the recorded state; updated in place.
    ///   - lineage: lineage column values for verification (see ``verifyCommitted(_:lineage:)``).
    ///   - insert: writes the load's data into the staging table (for example ``insert(queryID:settings:writer:)``
    ///     with Native blocks, or ``insertParquet(fileColumns:constants:body:queryID:)``); called again after any
    ///     restart that finds the data not yet sealed.
    ///   - persist: stores the ledger durably; called after every change, and a commit is only sent after the
    ///     intent was persisted. If it throws, the run stops with that error (the next run resumes from what was
    ///     stored last).
    ///   - sleep: waits between checks of an ALTER that is still running.
    public func run(
        ledger: inout StagedLoadLedger, lineage: [String: String] = [:],
        insert: (StagedLoad) async throws -> Void,
        persist: (StagedLoadLedger) async throws -> Void,
        sleep: (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) async throws {
        while true {
            switch ledger.nextStep {
            case .finished:
                return
            case .failed(let reason):
                throw ClickHouseError(category: .server, message: "load \(loadID) into \(target) needs a manual check: \(reason)")
            case .stage(let alreadyCommitted):
                try await prepare()
                try await insert(self)
                if !alreadyCommitted.isEmpty { try await dropFromStage(partitions: alreadyCommitted) }
                ledger.recordSealed(try await seal())
                try await persist(ledger)
            case .verify(let intent):
                let verdict = try await verifyCommitted(intent, lineage: lineage)
                if verdict == .inProgress {
                    try await sleep(.milliseconds(500))
                    continue
                }
                ledger.recordVerdict(verdict, for: intent)
                try await persist(ledger)
            case .commit(let partition, let attempt):
                guard try await stageExists() else {
                    ledger.recordStageLost()
                    try await persist(ledger)
                    continue
                }
                let intent = try await beginCommit(partition: partition, attempt: attempt)
                ledger.recordIntent(intent)
                try await persist(ledger)
                try await commit(intent)
                ledger.recordCommitted(partition)
                try await persist(ledger)
            case .cleanup:
                try await cleanup()
                ledger.recordDone()
                try await persist(ledger)
            }
        }
    }

    /// Whether the staging table exists.
    public func stageExists() async throws(ClickHouseError) -> Bool {
        let rows = try await client.query(
            "SELECT count() FROM system.tables WHERE database = \(SQL.string(stage.database)) AND name = \(SQL.string(stage.table))")
        return rows.first?.first == "1"
    }
}
