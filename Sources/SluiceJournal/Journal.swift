public import Logging
public import SluiceCore
public import SluiceIntake
public import ServiceLifecycle
import Foundation
import GRDB
import Synchronization

/// The durable, bounded priority queue of accepted files, with their history and the dead-letter store.
///
/// One `Journal` owns one SQLite file (WAL mode, `synchronous=FULL`). Intake writes go through a group
/// commit: requests that arrive while a transaction is being written wait and are committed together in
/// the next one, so each request is acknowledged only after its rows are fsynced, while throughput stays
/// high. The writer loop is the journal's ``run()``; it is a `Service` and must be running for
/// ``enqueue(_:)`` and ``recordInvalid(_:)`` to complete.
public final class Journal: Service, Sendable {
    public let configuration: JournalConfiguration
    let pool: DatabasePool
    let logger: Logger
    let clock: @Sendable () -> Int64
    private let state: Mutex<WriterState>
    private let counters: Mutex<Counters>
    let roundRobin = Mutex(WeightedRoundRobin())
    private let lock: JournalLock

    struct Counters {
        var pendingByDomain: [String: Int] = [:]
        var total: Int { pendingByDomain.values.reduce(0, +) }
    }

    enum Request {
        case enqueue([QueuedFile], domainLimits: [String: Int], CheckedContinuation<Result<EnqueueResult, JournalError>, Never>)
        case invalid(InvalidPayload, CheckedContinuation<Result<Int64, JournalError>, Never>)
    }

    struct WriterState {
        var pending: [Request] = []
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
        var lastWriteError: String?
    }

    /// Opens (creating if needed) the journal file, checks it, migrates it, and returns entries that were
    /// `loading` when the previous process stopped to `queued`.
    ///
    /// - Parameter clock: milliseconds since 1970; injectable for tests.
    public init(
        configuration: JournalConfiguration,
        logger: Logger,
        clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        let url = URL(fileURLWithPath: configuration.path)
        let directory = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JournalError(.unavailable, "cannot create journal directory \(directory): \(error.localizedDescription)")
        }
        self.lock = try JournalLock(path: configuration.path + ".lock")
        try Journal.checkBeforeOpening(path: configuration.path)
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: configuration.path, configuration: config)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw JournalError(.corrupt, "\(configuration.path) is not a usable SQLite journal (\(error.resultCode)); the file was left as it is")
        } catch {
            throw JournalError(.unavailable, "cannot open \(configuration.path): \(Journal.describe(error))")
        }
        // DatabasePool turns its writer to synchronous=NORMAL when it enables WAL, after prepareDatabase ran.
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        self.pool = pool
        self.state = Mutex(WriterState())
        self.counters = Mutex(Counters())
        try Journal.check(pool, path: configuration.path)
        do {
            try JournalSchema.migrator.migrate(pool)
        } catch {
            throw JournalError(.unavailable, "cannot migrate \(configuration.path): \(Journal.describe(error))")
        }
        try recoverAfterRestart()
        try loadCounters()
    }

    /// Checks an existing journal read-only before the writer opens it: opening for writing a WAL database without
    /// its `-wal` file (the state after a clean shutdown) writes to the file straight away, and a damaged file must
    /// be left exactly as it is. With a `-wal` file present (after a crash) the writer's recovery needs write access,
    /// and ``check(_:path:)`` runs after opening instead.
    static func checkBeforeOpening(path: String) throws {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attributes?[.size] as? Int, size > 0 else { return }
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int
        guard wal == nil || wal == 0 else { return }
        var config = Configuration()
        config.readonly = true
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            try queue.read { db in try quickCheck(db, path: path) }
            try queue.close()
        } catch let error as JournalError {
            throw error
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw unreadable(path, error)
        } catch {
            // Not a verdict on the file (permissions, a read-only directory): the writer's open reports it.
        }
    }

    static func check(_ pool: DatabasePool, path: String) throws {
        do {
            try pool.read { db in try quickCheck(db, path: path) }
        } catch let error as JournalError {
            throw error
        } catch {
            throw unreadable(path, error)
        }
    }

    /// `PRAGMA quick_check`; anything but `ok` is a damaged journal.
    private static func quickCheck(_ db: Database, path: String) throws {
        let result = try String.fetchAll(db, sql: "PRAGMA quick_check")
        if result != ["ok"] {
            throw JournalError(.corrupt, "\(path) failed its integrity check: \(result.prefix(3).joined(separator: "; ")); the file was left as it is")
        }
    }

    private static func unreadable(_ path: String, _ error: any Error) -> JournalError {
        JournalError(.corrupt, "\(path) cannot be read as a journal: \(describe(error)); the file was left as it is")
    }

    static func describe(_ error: any Error) -> String {
        if let db = error as? DatabaseError {
            return "SQLite \(db.resultCode): \(db.message ?? "")"
        }
        return "\(error)"
    }

    private func recoverAfterRestart() throws {
        let now = clock()
        let released = try pool.write { db -> Int in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM entries WHERE state = 'loading'")
            for id in ids {
                try Journal.transition(db, id: id, event: .release, at: now, code: nil, message: "the previous process stopped during the load")
            }
            return ids.count
        }
        if released > 0 {
            logger.notice("returned interrupted loads to the queue", metadata: ["count": "\(released)"])
        }
    }

    private func loadCounters() throws {
        let rows = try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT domain, COUNT(*) AS n FROM entries WHERE state IN ('received','queued','loading','retrying') GROUP BY domain")
        }
        counters.withLock { c in
            c.pendingByDomain = [:]
            for row in rows { c.pendingByDomain[row["domain"]] = row["n"] }
        }
    }

    // MARK: - Service

    /// The group-commit writer loop. Returns after graceful shutdown once every request already received
    /// has been committed or failed.
    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                while let batch = await self.nextBatch() {
                    await self.commit(batch)
                }
                self.checkpoint()
            } onGracefulShutdown: {
                self.close()
            }
        } onCancel: {
            self.close()
        }
    }

    /// Copies the WAL into the database file and truncates it, so a stopped journal is one self-contained file.
    /// Runs when the writer loop ends (the journal is the last service to stop); a failure only leaves the WAL for
    /// the next start to replay.
    func checkpoint() {
        do {
            try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        } catch {
            logger.warning("journal checkpoint at shutdown failed; the next start replays the WAL", metadata: ["error": "\(Journal.describe(error))"])
        }
    }

    /// Stops accepting requests. Requests already waiting are still committed by the writer loop.
    public func close() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Whether the journal accepts writes, and the last write error if it does not.
    public var writeStatus: (open: Bool, lastError: String?) {
        state.withLock { ($0.closed == false, $0.lastWriteError) }
    }

    private func nextBatch() async -> [Request]? {
        while true {
            let taken: [Request]? = state.withLock { s in
                if s.pending.isEmpty { return s.closed ? [] : nil }
                let n = min(s.pending.count, configuration.maxGroupCommit)
                let batch = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                return batch
            }
            if let taken { return taken.isEmpty ? nil : taken }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if !s.pending.isEmpty || s.closed { return true }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        }
    }

    private func submit(_ request: Request) -> Bool {
        let (accepted, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?) in
            if s.closed { return (false, nil) }
            s.pending.append(request)
            defer { s.waiter = nil }
            return (true, s.waiter)
        }
        waiter?.resume()
        return accepted
    }

    // MARK: - Intake writes

    /// Durably queues files, all or nothing: either every file is queued or found to be a duplicate and
    /// the result is on disk when this returns, or (when the journal or a domain's budget has no room for
    /// the new files) nothing is written.
    ///
    /// - Parameter domainLimits: the budget of each domain that has one (`domains.<name>.max_pending`).
    public func enqueue(_ files: [QueuedFile], domainLimits: [String: Int] = [:]) async throws(JournalError) -> EnqueueResult {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<EnqueueResult, JournalError>, Never>) in
            if !submit(.enqueue(files, domainLimits: domainLimits, c)) {
                c.resume(returning: .failure(JournalError(.closed, "the journal is shutting down")))
            }
        }
        return try result.get()
    }

    /// Durably records an input Sluice refused (E001) in the dead-letter store, for manual review.
    @discardableResult
    public func recordInvalid(_ invalid: InvalidPayload) async throws(JournalError) -> Int64 {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<Int64, JournalError>, Never>) in
            if !submit(.invalid(invalid, c)) {
                c.resume(returning: .failure(JournalError(.closed, "the journal is shutting down")))
            }
        }
        return try result.get()
    }

    private enum Prepared {
        case enqueue(EnqueueResult, added: [String: Int])
        case invalid(Int64)
    }

    private func commit(_ batch: [Request]) async {
        let now = clock()
        let base = counters.withLock { $0.pendingByDomain }
        let maxPending = configuration.maxPending
        let payloadLimit = configuration.invalidPayloadLimit
        let outcome: Result<[Prepared], JournalError>
        do {
            let prepared = try await pool.write { db -> [Prepared] in
                var running = base
                var out: [Prepared] = []
                out.reserveCapacity(batch.count)
                var invalidAdded = false
                for request in batch {
                    switch request {
                    case .enqueue(let files, let limits, _):
                        let r = try Journal.insert(db, files: files, now: now, pending: &running, maxPending: maxPending, domainLimits: limits)
                        out.append(.enqueue(r.0, added: r.1))
                    case .invalid(let invalid, _):
                        out.append(.invalid(try Journal.insertInvalid(db, invalid, now: now)))
                        invalidAdded = true
                    }
                }
                if invalidAdded { try Journal.trimInvalid(db, keep: payloadLimit) }
                return out
            }
            outcome = .success(prepared)
        } catch {
            outcome = .failure(JournalError(.unavailable, "cannot write \(configuration.path): \(Journal.describe(error))"))
        }
        switch outcome {
        case .success(let prepared):
            state.withLock { $0.lastWriteError = nil }
            counters.withLock { c in
                for case .enqueue(_, let added) in prepared {
                    for (domain, n) in added { c.pendingByDomain[domain, default: 0] += n }
                }
            }
            for (request, result) in zip(batch, prepared) {
                switch (request, result) {
                case (.enqueue(_, _, let c), .enqueue(let r, _)): c.resume(returning: .success(r))
                case (.invalid(_, let c), .invalid(let id)): c.resume(returning: .success(id))
                default: preconditionFailure("group commit results out of order")
                }
            }
        case .failure(let error):
            state.withLock { $0.lastWriteError = error.message }
            logger.error("journal write failed", metadata: ["error": "\(error.message)", "requests": "\(batch.count)"])
            for request in batch {
                switch request {
                case .enqueue(_, _, let c): c.resume(returning: .failure(error))
                case .invalid(_, let c): c.resume(returning: .failure(error))
                }
            }
        }
    }

    private static func insert(
        _ db: Database, files: [QueuedFile], now: Int64, pending: inout [String: Int], maxPending: Int, domainLimits: [String: Int]
    ) throws -> (EnqueueResult, [String: Int]) {
        var requested: [String: Int] = [:]
        for f in files { requested[f.domain, default: 0] += 1 }
        let total = pending.values.reduce(0, +)
        let roomForAll = total + files.count <= maxPending
            && requested.allSatisfy { domain, n in domainLimits[domain].map { pending[domain, default: 0] + n <= $0 } ?? true }
        // Near a limit, duplicates (which need no room) must be known before deciding; otherwise insert at once
        // and let the unique indexes find the duplicates.
        let fresh = roomForAll ? Array(files.indices) : try freshIndices(db, files)
        var added: [String: Int] = [:]
        for i in fresh { added[files[i].domain, default: 0] += 1 }
        if !roomForAll {
            if !fresh.isEmpty, total + fresh.count > maxPending {
                return (.full(reason: "the journal holds \(total) pending entries; its limit is \(maxPending)"), [:])
            }
            for (domain, n) in added {
                if let limit = domainLimits[domain], pending[domain, default: 0] + n > limit {
                    return (.full(reason: "domain \(domain) has \(pending[domain, default: 0]) pending entries; its budget is \(limit)"), [:])
                }
            }
        }
        let statement = try db.cachedStatement(sql: """
            INSERT INTO entries (correlation_id, delivery_key, source, bucket, object_key, size, etag, version_id,
                sequencer, event_time, event_id, domain, table_name, partition, target_database, target_table,
                priority, state, attempts, received_at, updated_at, payload, redelivered)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING RETURNING id
            """)
        var outcomes: [EnqueueOutcome?] = Array(repeating: nil, count: files.count)
        var inserted: [String: Int] = [:]
        for i in fresh {
            let f = files[i]
            statement.setUncheckedArguments([
                f.correlationID, f.deliveryKey, f.source.rawValue, f.bucket, f.key, f.size, f.etag, f.versionID,
                f.sequencer, f.eventTime, f.eventID, f.domain, f.parsedKey.table, f.parsedKey.partitionPath,
                f.target.database, f.target.table, f.priority.rank, now, now, f.payload, f.redelivered,
            ])
            if let id = try Int64.fetchOne(statement) {
                outcomes[i] = .queued(correlationID: f.correlationID, entryID: id)
                inserted[f.domain, default: 0] += 1
            }
        }
        for i in files.indices where outcomes[i] == nil {
            outcomes[i] = try existing(db, files[i])
        }
        for (domain, n) in inserted { pending[domain, default: 0] += n }
        return (.accepted(outcomes.map { $0! }), inserted)
    }

    /// The files of a request that are not already in the journal (nor repeated earlier in the request).
    private static func freshIndices(_ db: Database, _ files: [QueuedFile]) throws -> [Int] {
        var fresh: [Int] = []
        var seen = Set<String>()
        var seenIDs = Set<String>()
        for (i, file) in files.enumerated() {
            if let key = file.deliveryKey {
                guard seen.insert(key).inserted,
                    try Int.fetchOne(db, sql: "SELECT 1 FROM entries WHERE delivery_key = ?", arguments: [key]) == nil
                else { continue }
            }
            guard seenIDs.insert(file.correlationID).inserted,
                try Int.fetchOne(db, sql: "SELECT 1 FROM entries WHERE correlation_id = ?", arguments: [file.correlationID]) == nil
            else { continue }
            fresh.append(i)
        }
        return fresh
    }

    /// The entry a file duplicates: the same object version, or the same correlation id.
    private static func existing(_ db: Database, _ file: QueuedFile) throws -> EnqueueOutcome {
        var row: Row?
        if let key = file.deliveryKey {
            row = try Row.fetchOne(db, sql: "SELECT correlation_id, state FROM entries WHERE delivery_key = ?", arguments: [key])
        }
        if row == nil {
            row = try Row.fetchOne(db, sql: "SELECT correlation_id, state FROM entries WHERE correlation_id = ?", arguments: [file.correlationID])
        }
        guard let row else {
            throw JournalError(.corrupt, "entry \(file.correlationID) was neither inserted nor found")
        }
        return .duplicate(
            correlationID: file.correlationID,
            existingCorrelationID: row["correlation_id"],
            state: EntryState(rawValue: row["state"]) ?? .queued
        )
    }

    private static func insertInvalid(_ db: Database, _ invalid: InvalidPayload, now: Int64) throws -> Int64 {
        try db.execute(
            sql: """
                INSERT INTO dead_letters (entry_id, correlation_id, code, category, message, field, source, payload, created_at)
                VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                invalid.correlationID, invalid.error.code.rawValue, invalid.error.category.rawValue, invalid.error.message,
                invalid.error.field, invalid.source, invalid.payload, now,
            ]
        )
        return db.lastInsertedRowID
    }

    private static func trimInvalid(_ db: Database, keep: Int) throws {
        try db.execute(
            sql: """
                DELETE FROM dead_letters WHERE entry_id IS NULL AND id <= (
                    SELECT id FROM dead_letters WHERE entry_id IS NULL ORDER BY id DESC LIMIT 1 OFFSET ?)
                """,
            arguments: [keep]
        )
    }

    // MARK: - Transitions

    /// Applies a state machine event to an entry inside a transaction, recording it in the history.
    @discardableResult
    static func transition(
        _ db: Database, id: Int64, event: EntryEvent, at now: Int64, code: String?, message: String?,
        nextAttemptAt: Int64? = nil
    ) throws -> (from: EntryState, to: EntryState, domain: String) {
        guard let row = try Row.fetchOne(db, sql: "SELECT state, domain FROM entries WHERE id = ?", arguments: [id]) else {
            throw JournalError(.notFound, "entry \(id) does not exist")
        }
        let raw: String = row["state"]
        guard let from = EntryState(rawValue: raw) else {
            throw JournalError(.corrupt, "entry \(id) has unknown state \(raw)")
        }
        guard let to = EntryStateMachine.next(from, event) else {
            throw JournalError(.illegalTransition, "entry \(id) cannot \(event.rawValue) while \(from.rawValue)")
        }
        try db.execute(
            sql: """
                UPDATE entries SET state = :to, updated_at = :now, next_attempt_at = :next,
                    attempts = attempts + (CASE WHEN :event = 'claim' THEN 1 ELSE 0 END),
                    failures = failures + (CASE WHEN :event IN ('fail_retryable', 'fail_permanent') AND state = 'loading' THEN 1 ELSE 0 END),
                    last_error_code = COALESCE(:code, last_error_code), last_error_message = COALESCE(:message, last_error_message)
                WHERE id = :id
                """,
            arguments: ["to": to.rawValue, "now": now, "next": nextAttemptAt, "event": event.rawValue, "code": code, "message": message, "id": id]
        )
        try db.execute(
            sql: "INSERT INTO history (entry_id, at, from_state, to_state, event, code, message) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [id, now, from.rawValue, to.rawValue, event.rawValue, code, message]
        )
        return (from, to, row["domain"])
    }

    /// Adjusts the pending counters after a committed transition.
    func account(_ change: (from: EntryState, to: EntryState, domain: String)) {
        guard change.from.isPending != change.to.isPending else { return }
        counters.withLock { c in
            c.pendingByDomain[change.domain, default: 0] += change.to.isPending ? 1 : -1
        }
    }

    /// Pending entries in total and per domain, as the capacity check sees them.
    public var pendingCounts: (total: Int, byDomain: [String: Int]) {
        counters.withLock { ($0.total, $0.pendingByDomain) }
    }
}
