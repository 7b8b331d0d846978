import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceMetrics
import SluiceScheduler
import Synchronization

final class ManualClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64 = 1_757_462_400_000) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func advance(seconds: Double) { value.withLock { $0 += Int64(seconds * 1000) } }
    var closure: @Sendable () -> Int64 { { self.now } }
}

/// A load step that answers from a script and records every call with the clock's time.
final class ScriptedLoader: BatchLoading {
    typealias Script = @Sendable (ClaimedBatch, Int) async -> BatchLoadResult
    private let script: Script
    private let clock: ManualClock
    let calls = Mutex<[(at: Int64, loadID: String, entries: [Int64])]>([])
    let concurrent = Mutex((now: 0, max: 0))

    init(clock: ManualClock, script: @escaping Script) {
        self.clock = clock
        self.script = script
    }

    func load(_ batch: ClaimedBatch, logger: Logger) async -> BatchLoadResult {
        let n = calls.withLock { c -> Int in
            c.append((clock.now, batch.loadID, batch.entries.map(\.id)))
            return c.count
        }
        concurrent.withLock { c in
            c.now += 1
            c.max = max(c.max, c.now)
        }
        defer { concurrent.withLock { $0.now -= 1 } }
        return await script(batch, n)
    }

    var callTimes: [Int64] { calls.withLock { $0.map(\.at) } }
}

func temporaryPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("sluice-scheduler-\(UUID().uuidString)/journal.db").path
}

func makeFile(_ key: String, domain: String = "market", priority: Priority = .high, correlationID: String? = nil) -> QueuedFile {
    let parsed = try! ParsedKey.parse(key)
    return QueuedFile(
        correlationID: correlationID ?? UUID().uuidString.lowercased(), source: .eventBridge, bucket: "curated", key: key, size: 4096,
        etag: "etag-\(key)", versionID: nil, sequencer: nil, versionIdentity: "e:etag-\(key)", eventTime: "2025-09-10T00:00:00Z",
        eventID: nil, domain: domain, parsedKey: parsed, target: TableReference(database: domain, table: parsed.table),
        priority: priority, payload: "{}"
    )
}

/// A journal (writer running) and a scheduler over it, for `body`.
func withScheduler<T: Sendable>(
    clock: ManualClock,
    configuration: LoaderConfiguration = LoaderConfiguration(batchWaitSeconds: 0),
    loader: ScriptedLoader,
    _ body: @Sendable (Journal, LoadScheduler) async throws -> T
) async throws -> T {
    let journal = try Journal(configuration: JournalConfiguration(path: temporaryPath()), logger: Logger(label: "t"), clock: clock.closure)
    let scheduler = LoadScheduler(
        journal: journal, loader: loader, configuration: configuration, domains: DomainConfiguration.seedDefaults,
        metrics: SluiceMetrics(), logger: Logger(label: "t"), now: clock.closure
    )
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await journal.run()
            return nil
        }
        defer { journal.close() }
        let result = try await body(journal, scheduler)
        journal.close()
        while let r = try await group.next() { if let r { return r } }
        return result
    }
}

extension BatchLoadResult {
    static func allFailed(_ batch: ClaimedBatch, _ error: SluiceError) -> BatchLoadResult {
        BatchLoadResult(batchError: error)
    }
}
