import Foundation
import Logging
import SluiceIntake
import SluiceJournal
import Synchronization

/// A manual clock in milliseconds.
final class TestClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64 = 1_757_462_400_000) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func advance(ms: Int64) { value.withLock { $0 += ms } }
    var closure: @Sendable () -> Int64 { { self.now } }
}

func temporaryJournalPath() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-journal-\(UUID().uuidString)")
    return dir.appendingPathComponent("journal.db").path
}

/// Opens a journal, runs its writer loop while `body` runs, then shuts it down.
func withJournal<T: Sendable>(
    path: String = temporaryJournalPath(),
    maxPending: Int = 10_000,
    clock: TestClock = TestClock(),
    _ body: @Sendable (Journal) async throws -> T
) async throws -> T {
    let journal = try Journal(
        configuration: JournalConfiguration(path: path, maxPending: maxPending),
        logger: Logger(label: "test"),
        clock: clock.closure
    )
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await journal.run()
            return nil
        }
        defer {
            journal.close()
        }
        let result = try await body(journal)
        journal.close()
        while let next = try await group.next() { if let r = next { return r } }
        return result
    }
}

func file(
    _ key: String,
    domain: String = "market",
    priority: Priority = .high,
    etag: String? = nil,
    correlationID: String = UUID().uuidString.lowercased()
) -> QueuedFile {
    let parsed = try! ParsedKey.parse(key)
    return QueuedFile(
        correlationID: correlationID, source: .eventBridge, bucket: "curated", key: key, size: 2048,
        etag: etag ?? "etag-\(key)", versionID: nil, sequencer: nil, versionIdentity: "e:" + (etag ?? "etag-\(key)"),
        eventTime: nil, eventID: nil, domain: domain, parsedKey: parsed,
        target: TableReference(database: domain, table: parsed.table), priority: priority, payload: "{}"
    )
}
