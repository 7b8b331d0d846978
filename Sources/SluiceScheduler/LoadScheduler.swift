public import Logging
public import SluiceCore
public import SluiceIntake
public import SluiceJournal
public import SluiceMetrics
public import ServiceLifecycle
import Foundation
import Synchronization

/// The loader pool: `loader.workers` workers drain the journal in priority order, a table at a time up to
/// `loader.table_concurrency`, within `loader.memory_budget_bytes`, each batch within
/// `loader.processing_timeout_s`, applying the retry policy to every failure.
///
/// On graceful shutdown the workers stop claiming; running loads get `loader.shutdown_grace_s` to finish,
/// then are cancelled and their entries parked back to `queued` (the exactly-once protocol resumes them on
/// the next start).
public final class LoadScheduler: Service, Sendable {
    let journal: Journal
    let loader: any BatchLoading
    let configuration: LoaderConfiguration
    let policy: RetryPolicy
    let batchPolicy: BatchPolicy
    let domains: [String: DomainConfiguration]
    let metrics: SluiceMetrics
    let logger: Logger
    let forwarder: (any DeadLetterForwarding)?
    let now: @Sendable () -> Int64
    private let state = Mutex(State())
    private let wakeUps = WakeUp()
    private let batchObserver = Mutex<(@Sendable () -> Void)?>(nil)
    /// Claims happen one at a time, so the per-table cap is checked and taken in one step.
    private let claimLock = AsyncLock()

    struct State {
        var runningPerTable: [TableReference: Int] = [:]
        var memoryInUse: Int64 = 0
        var stopping = false
        var running: [Int: RunningLoad] = [:]
        var nextLoad = 0
        var lastPurge: Int64 = 0
        var lastMaintenance: Int64 = 0
    }

    struct RunningLoad {
        var batch: ClaimedBatch
        var task: Task<BatchLoadResult, Never>
    }

    public init(
        journal: Journal,
        loader: any BatchLoading,
        configuration: LoaderConfiguration,
        domains: [DomainConfiguration],
        metrics: SluiceMetrics,
        logger: Logger,
        forwarder: (any DeadLetterForwarding)? = nil,
        now: @escaping @Sendable () -> Int64 = WallClock.milliseconds
    ) {
        self.journal = journal
        self.loader = loader
        self.configuration = configuration
        self.policy = configuration.retryPolicy
        self.domains = Dictionary(uniqueKeysWithValues: domains.map { ($0.name, $0) })
        self.batchPolicy = BatchPolicy(
            maxFiles: Dictionary(uniqueKeysWithValues: domains.map { ($0.name, $0.batchMax) }),
            minFiles: Dictionary(uniqueKeysWithValues: domains.map { ($0.name, $0.batchMin) }),
            maxWaitMilliseconds: Int64(configuration.batchWaitSeconds * 1000),
            maxBytes: configuration.batchMaxBytes
        )
        self.metrics = metrics
        self.logger = logger
        self.forwarder = forwarder
        self.now = now
    }

    // MARK: - Service

    public func run() async throws {
        guard configuration.workers > 0 else {
            logger.notice("loading is disabled (loader.workers is 0): intake only")
            try? await gracefulShutdown()
            return
        }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<self.configuration.workers {
                    group.addTask { await self.workerLoop(worker) }
                }
                group.addTask { await self.housekeepingLoop() }
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
    }

    /// Wakes idle workers (called when intake queued something).
    public func wake() {
        wakeUps.signal()
    }

    /// Called after every batch's outcome is recorded (the SQS consumer deletes the messages of what committed).
    public func onBatchFinished(_ observer: @escaping @Sendable () -> Void) {
        batchObserver.withLock { $0 = observer }
    }

    private func beginShutdown() {
        state.withLock { $0.stopping = true }
        wakeUps.signal()
        let grace = configuration.shutdownGraceSeconds
        Task {
            try? await Task.sleep(for: .milliseconds(Int(grace * 1000)))
            let tasks = self.state.withLock { s in s.running.values.map(\.task) }
            if !tasks.isEmpty {
                self.logger.notice("shutdown grace over: stopping running loads", metadata: ["loads": "\(tasks.count)"])
            }
            for t in tasks { t.cancel() }
        }
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func workerLoop(_ worker: Int) async {
        while !stopping {
            let didWork: Bool
            do {
                didWork = try await runOnce()
            } catch {
                logger.error("loader could not claim work", metadata: ["error": "\(error)", "worker": "\(worker)"])
                didWork = false
            }
            if !didWork {
                await wakeUps.wait(timeoutMilliseconds: configuration.pollIntervalMilliseconds)
            }
        }
    }

    private func housekeepingLoop() async {
        while !stopping {
            await housekeeping()
            await wakeUps.wait(timeoutMilliseconds: max(configuration.pollIntervalMilliseconds, 250))
        }
    }

    // MARK: - One step at a time (also driven directly by tests)

    /// Dead-letters entries whose final backoff is over, purges what the retention has passed, and lets the
    /// load step tidy up.
    public func housekeeping() async {
        do {
            for entry in try await journal.deadLetterDue() {
                metrics.loadEnded(domain: entry.domain, table: entry.target.description, outcome: "failure")
                logger.error(
                    "load failed for good: dead-lettered",
                    metadata: ["correlation_id": "\(entry.correlationID)", "code": "\(entry.lastErrorCode ?? "")", "error": "\(entry.lastErrorMessage ?? "")"]
                )
                await forward(entryID: entry.id, entry: entry)
            }
        } catch {
            logger.error("could not move exhausted entries to the dead-letter store", metadata: ["error": "\(error)"])
        }
        let current = now()
        let (purgeDue, maintenanceDue) = state.withLock { s -> (Bool, Bool) in
            let purge = current - s.lastPurge >= 3_600_000
            let maintenance = current - s.lastMaintenance >= 300_000
            if purge { s.lastPurge = current }
            if maintenance { s.lastMaintenance = current }
            return (purge, maintenance)
        }
        if purgeDue {
            let cutoff = current - Int64(configuration.retentionDays) * 86_400_000
            do {
                let removed = try await journal.purge(olderThanMilliseconds: cutoff)
                if removed > 0 { logger.info("purged ledger rows past retention", metadata: ["rows": "\(removed)"]) }
            } catch {
                logger.error("ledger purge failed", metadata: ["error": "\(error)"])
            }
        }
        if maintenanceDue { await loader.maintenance(logger: logger) }
    }

    /// Claims one batch (if the caps allow and one is ready), loads it and applies the outcome.
    ///
    /// - Returns: whether a batch was processed.
    @discardableResult
    public func runOnce() async throws -> Bool {
        let claimed: (ClaimedBatch, Int)? = try await claimLock.withLock {
            let excluded = state.withLock { s in
                Set(s.runningPerTable.filter { $0.value >= configuration.tableConcurrency }.keys)
            }
            guard !stopping, let batch = try await journal.claimNext(batchPolicy, excluding: excluded) else { return nil }
            let id = state.withLock { s -> Int in
                s.runningPerTable[batch.target, default: 0] += 1
                s.nextLoad += 1
                return s.nextLoad
            }
            return (batch, id)
        }
        guard let (batch, id) = claimed else { return false }
        let estimate = min(max(batch.entries.reduce(Int64(0)) { $0 + ($1.size ?? 0) }, 16 << 20), configuration.memoryBudgetBytes)
        await reserveMemory(estimate)
        metrics.loadsInFlight(domain: batch.entries[0].domain, delta: 1)
        defer {
            metrics.loadsInFlight(domain: batch.entries[0].domain, delta: -1)
            state.withLock { s in
                s.runningPerTable[batch.target, default: 1] -= 1
                if s.runningPerTable[batch.target] == 0 { s.runningPerTable[batch.target] = nil }
                s.memoryInUse -= estimate
                s.running[id] = nil
            }
            wakeUps.signal()
        }
        let logger = batchLogger(batch)
        logger.info("load started", metadata: ["files": "\(batch.entries.count)", "attempt": "\(batch.entries.map(\.attempts).max() ?? 1)"])
        let started = ContinuousClock.now
        let (result, outcome) = await runWithTimeout(batch, id: id, logger: logger)
        if outcome == .stoppedForShutdown {
            // Parked, not failed: the next start resumes the load from its saved progress.
            let unfinished = batch.entries.map(\.id).filter { result.loaded[$0] == nil && result.skipped[$0] == nil }
            try await journal.release(ids: unfinished, reason: "Sluice shut down during the load")
            logger.notice("load parked for shutdown", metadata: ["files": "\(unfinished.count)"])
            var done = result
            done.failed = [:]
            done.batchError = nil
            try await apply(done, to: ClaimedBatch(loadID: batch.loadID, entries: batch.entries.filter { !unfinished.contains($0.id) }, priority: batch.priority, target: batch.target), logger: logger, elapsed: ContinuousClock.now - started)
            return true
        }
        try await apply(result, to: batch, logger: logger, elapsed: ContinuousClock.now - started)
        batchObserver.withLock { $0 }?()
        return true
    }

    private func batchLogger(_ batch: ClaimedBatch) -> Logger {
        var l = logger
        l[metadataKey: "load_id"] = "\(batch.loadID)"
        l[metadataKey: "table"] = "\(batch.target)"
        l[metadataKey: "correlation_id"] = "\(batch.entries.map(\.correlationID).joined(separator: ","))"
        return l
    }

    private func reserveMemory(_ bytes: Int64) async {
        while true {
            let ok = state.withLock { s -> Bool in
                guard s.memoryInUse == 0 || s.memoryInUse + bytes <= configuration.memoryBudgetBytes else { return false }
                s.memoryInUse += bytes
                return true
            }
            if ok { return }
            await wakeUps.wait(timeoutMilliseconds: configuration.pollIntervalMilliseconds)
        }
    }

    enum RunOutcome {
        case finished
        case timedOut
        case stoppedForShutdown
    }

    private func runWithTimeout(_ batch: ClaimedBatch, id: Int, logger: Logger) async -> (BatchLoadResult, RunOutcome) {
        let loader = self.loader
        let task = Task { await loader.load(batch, logger: logger) }
        state.withLock { $0.running[id] = RunningLoad(batch: batch, task: task) }
        let timeout = configuration.processingTimeoutSeconds
        let timedOut = Mutex(false)
        let watchdog = Task {
            try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
            timedOut.withLock { $0 = true }
            task.cancel()
        }
        let result = await task.value
        watchdog.cancel()
        if timedOut.withLock({ $0 }) {
            var r = result
            r.batchError = SluiceError(category: .timeout, "the batch did not finish within loader.processing_timeout_s (\(Int(timeout)) s)")
            return (r, .timedOut)
        }
        if task.isCancelled, stopping {
            return (result, .stoppedForShutdown)
        }
        return (result, .finished)
    }

    /// Applies a batch's result: metrics for what loaded, and the retry policy for what failed.
    func apply(_ result: BatchLoadResult, to batch: ClaimedBatch, logger: Logger, elapsed: Duration) async throws {
        guard let domain = batch.entries.first?.domain else { return }
        let table = batch.target.description
        let current = now()
        if !result.loaded.isEmpty {
            let rows = result.loaded.values.reduce(Int64(0)) { $0 + $1.rows }
            let bytes = result.loaded.values.reduce(Int64(0)) { $0 + $1.bytes }
            for entry in batch.entries where result.loaded[entry.id] != nil {
                let sinceEvent = entry.eventTime.flatMap(Self.parseISO8601).map { Duration.milliseconds(max(0, current - $0)) }
                metrics.loadCommitted(
                    domain: domain, table: table, sinceEvent: sinceEvent, sinceIntake: .milliseconds(max(0, current - entry.receivedAt)),
                    rows: result.loaded[entry.id]!.rows, bytes: result.loaded[entry.id]!.bytes, files: 1
                )
            }
            logger.info("load committed", metadata: ["files": "\(result.loaded.count)", "rows": "\(rows)", "bytes": "\(bytes)", "seconds": "\(elapsed.seconds)"])
        }
        for (id, reason) in result.skipped {
            metrics.loadEnded(domain: domain, table: table, outcome: "duplicate")
            logger.info("file skipped", metadata: ["entry": "\(id)", "reason": "\(reason)"])
        }
        var failures: [(JournalEntry, SluiceError)] = []
        for entry in batch.entries where result.loaded[entry.id] == nil && result.skipped[entry.id] == nil {
            if let error = result.failed[entry.id] ?? result.batchError {
                failures.append((entry, error))
            } else {
                // Neither loaded, skipped nor failed: should not happen; park it rather than leave it loading.
                logger.warning("load step gave no outcome for a file; returning it to the queue", metadata: ["entry": "\(entry.id)"])
                try await journal.release(ids: [entry.id], reason: "the load step gave no outcome")
            }
        }
        for (entry, error) in failures {
            let attempt = entry.failures + 1
            let decision = policy.decision(for: error.category, attempt: attempt)
            let fileLogger = logger.with(correlationID: entry.correlationID)
            switch decision {
            case .retry(let seconds):
                metrics.loadAttemptFailed(domain: domain, table: table, code: error.code.rawValue, willRetry: true)
                try await journal.markFailed(ids: [entry.id], error: error, retryAt: current + Int64(seconds * 1000))
                fileLogger.warning(
                    "load attempt failed; will retry",
                    metadata: ["code": "\(error.code.rawValue)", "category": "\(error.category.rawValue)", "attempt": "\(attempt)", "retry_in_s": "\(seconds)", "error": "\(error.message)"]
                )
            case .deadLetterAfter(let seconds):
                metrics.loadAttemptFailed(domain: domain, table: table, code: error.code.rawValue, willRetry: false)
                try await journal.markFailed(ids: [entry.id], error: error, retryAt: current + Int64(seconds * 1000), deadLetterWhenDue: true)
                fileLogger.warning(
                    "load attempts used up; dead-lettering after the last backoff",
                    metadata: ["code": "\(error.code.rawValue)", "attempt": "\(attempt)", "in_s": "\(seconds)", "error": "\(error.message)"]
                )
            case .deadLetterNow:
                metrics.loadAttemptFailed(domain: domain, table: table, code: error.code.rawValue, willRetry: false)
                metrics.loadEnded(domain: domain, table: table, outcome: "failure")
                try await journal.markFailed(ids: [entry.id], error: error, retryAt: nil)
                fileLogger.error(
                    "load failed: dead-lettered",
                    metadata: ["code": "\(error.code.rawValue)", "category": "\(error.category.rawValue)", "error": "\(error.message)"]
                )
                await forward(entryID: entry.id, entry: entry)
            }
        }
    }

    private func forward(entryID: Int64, entry: JournalEntry) async {
        guard let forwarder else { return }
        do {
            guard let letter = try await journal.deadLetters(entryID: entryID).first else { return }
            try await forwarder.forward(letter, entry: entry)
        } catch {
            logger.error("could not forward a dead letter", metadata: ["correlation_id": "\(entry.correlationID)", "error": "\(error)"])
        }
    }

    static func parseISO8601(_ text: String) -> Int64? {
        if let d = try? Date(text, strategy: .iso8601) { return Int64(d.timeIntervalSince1970 * 1000) }
        if let d = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return Int64(d.timeIntervalSince1970 * 1000)
        }
        return nil
    }
}

extension Logger {
    func with(correlationID: String) -> Logger {
        var l = self
        l[metadataKey: "correlation_id"] = "\(correlationID)"
        return l
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}

/// A mutual-exclusion lock that can be held across `await`.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func withLock<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if s.locked {
                    s.waiters.append(c)
                    return false
                }
                s.locked = true
                return true
            }
            if acquired { c.resume() }
        }
    }

    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.locked = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// Wakes waiting workers early; otherwise they wait for their poll interval.
final class WakeUp: Sendable {
    private struct State {
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waits that ended (timer, cancellation) before their continuation was registered.
        var ended: Set<UInt64> = []
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Ends every current wait.
    func signal() {
        let all = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for c in all { c.resume() }
    }

    private func end(_ key: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let c = s.waiters.removeValue(forKey: key) { return c }
            s.ended.insert(key)
            return nil
        }
        c?.resume()
    }

    /// Waits for a signal, the timeout, or cancellation, whichever comes first.
    func wait(timeoutMilliseconds: Int) async {
        let key = state.withLock { s -> UInt64 in
            s.next += 1
            return s.next
        }
        let timer = Task {
            guard (try? await Task.sleep(for: .milliseconds(timeoutMilliseconds))) != nil else { return }
            self.end(key)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.ended.remove(key) != nil { return true }
                    s.waiters[key] = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            self.end(key)
        }
        timer.cancel()
        state.withLock { _ = $0.ended.remove(key) }
    }
}
