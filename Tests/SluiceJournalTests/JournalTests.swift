import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceJournal
import Testing

@Suite("Journal")
struct JournalTests {
    @Test func enqueueIsDurableAndDuplicatesAreDetected() async throws {
        let path = temporaryJournalPath()
        let a = file("market/prices/ds=1/a.parquet", correlationID: "cid-a")
        try await withJournal(path: path) { journal in
            let first = try await journal.enqueue([a])
            #expect(first == .accepted([.queued(correlationID: "cid-a", entryID: 1)]))
            var again = a
            again.correlationID = "cid-a2"
            let second = try await journal.enqueue([again])
            #expect(second == .accepted([.duplicate(correlationID: "cid-a2", existingCorrelationID: "cid-a", state: .queued)]))
        }
        // Reopen: still there, once.
        try await withJournal(path: path) { journal in
            let entries = try await journal.entries(EntryFilter())
            #expect(entries.map(\.correlationID) == ["cid-a"])
            #expect(entries[0].state == .queued)
            let (entry, history) = try #require(try await journal.entry(correlationID: "cid-a"))
            #expect(entry.key == "market/prices/ds=1/a.parquet")
            #expect(entry.partition == "ds=1")
            #expect(history.map(\.to) == [.queued])
        }
    }

    @Test func duplicateInsideOneRequest() async throws {
        try await withJournal { journal in
            let a = file("market/prices/ds=1/a.parquet", correlationID: "x1")
            var b = a
            b.correlationID = "x2"
            let result = try await journal.enqueue([a, b])
            #expect(result == .accepted([
                .queued(correlationID: "x1", entryID: 1),
                .duplicate(correlationID: "x2", existingCorrelationID: "x1", state: .queued),
            ]))
            #expect(journal.pendingCounts.total == 1)
        }
    }

    @Test func capacityIsAllOrNothing() async throws {
        try await withJournal(maxPending: 3) { journal in
            _ = try await journal.enqueue([file("market/p/a1.parquet"), file("market/p/a2.parquet")])
            let tooMany = try await journal.enqueue([file("market/p/b1.parquet"), file("market/p/b2.parquet")])
            guard case .full(let reason) = tooMany else {
                Issue.record("accepted beyond capacity")
                return
            }
            #expect(reason.contains("limit is 3"))
            #expect(journal.pendingCounts.total == 2)
            // Duplicates do not need room.
            let dup = try await journal.enqueue([file("market/p/a1.parquet")])
            guard case .accepted = dup else {
                Issue.record("duplicate refused")
                return
            }
            let one = try await journal.enqueue([file("market/p/b1.parquet")])
            guard case .accepted = one else {
                Issue.record("refused within capacity")
                return
            }
            #expect(journal.pendingCounts.total == 3)
        }
    }

    @Test func domainBudget() async throws {
        try await withJournal { journal in
            _ = try await journal.enqueue([file("product/p/a.parquet", domain: "product", priority: .low)], domainLimits: ["product": 1])
            let r = try await journal.enqueue([file("product/p/b.parquet", domain: "product", priority: .low)], domainLimits: ["product": 1])
            guard case .full(let reason) = r else {
                Issue.record("budget not enforced")
                return
            }
            #expect(reason.contains("domain product"))
            let other = try await journal.enqueue([file("market/p/b.parquet")], domainLimits: ["product": 1])
            guard case .accepted = other else {
                Issue.record("other domain refused")
                return
            }
        }
    }

    @Test func concurrentRequestsAreGroupCommitted() async throws {
        try await withJournal { journal in
            try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                for i in 0..<200 {
                    group.addTask { try await journal.enqueue([file("market/p/f\(i).parquet")]) }
                }
                var queued = 0
                for try await result in group {
                    if case .accepted(let outcomes) = result, case .queued = outcomes[0] { queued += 1 }
                }
                #expect(queued == 200)
            }
            #expect(journal.pendingCounts.total == 200)
            #expect(try await journal.entries(EntryFilter(limit: 1000)).count == 200)
        }
    }

    @Test func priorityOrderIsWeightedAndFIFOWithinAClass() async throws {
        try await withJournal { journal in
            for i in 0..<10 { _ = try await journal.enqueue([file("product/t/l\(i).parquet", domain: "product", priority: .low)]) }
            for i in 0..<10 { _ = try await journal.enqueue([file("customer/t/m\(i).parquet", domain: "customer", priority: .medium)]) }
            for i in 0..<10 { _ = try await journal.enqueue([file("market/t/h\(i).parquet", domain: "market", priority: .high)]) }
            var order: [String] = []
            for _ in 0..<10 {
                let batch = try #require(try await journal.claimNext())
                order.append(batch.entries[0].key)
            }
            let classes = order.map { String($0.split(separator: "/")[0]) }
            #expect(classes.filter { $0 == "market" }.count == 6)
            #expect(classes.filter { $0 == "customer" }.count == 3)
            #expect(classes.filter { $0 == "product" }.count == 1)
            let highs = order.filter { $0.hasPrefix("market/") }
            #expect(highs == (0..<6).map { "market/t/h\($0).parquet" })
        }
    }

    @Test func batchesTakeOneTableOfOneDomain() async throws {
        try await withJournal { journal in
            for i in 0..<4 { _ = try await journal.enqueue([file("market/prices/a\(i).parquet")]) }
            _ = try await journal.enqueue([file("market/trades/b.parquet")])
            let batch = try #require(try await journal.claimNext(maxFiles: ["market": 3]))
            #expect(batch.entries.map(\.key) == ["market/prices/a0.parquet", "market/prices/a1.parquet", "market/prices/a2.parquet"])
            #expect(batch.target == TableReference(database: "market", table: "prices"))
            let excluded = try #require(try await journal.claimNext(maxFiles: ["market": 3], excluding: [TableReference(database: "market", table: "prices")]))
            #expect(excluded.entries.map(\.key) == ["market/trades/b.parquet"])
        }
    }

    @Test func retryWaitsForBackoffThenDeadLetters() async throws {
        let clock = TestClock()
        try await withJournal(clock: clock) { journal in
            _ = try await journal.enqueue([file("market/p/a.parquet", correlationID: "r1")])
            let batch = try #require(try await journal.claimNext())
            let id = batch.entries[0].id
            try await journal.markFailed(ids: [id], error: SluiceError(.connection, "refused"), retryAt: clock.now + 2000)
            #expect(try await journal.claimNext() == nil)
            clock.advance(ms: 2000)
            let again = try #require(try await journal.claimNext())
            #expect(again.entries[0].attempts == 2)
            try await journal.markFailed(ids: [id], error: SluiceError(.parseFailure, "bad column", field: "price"), retryAt: nil)
            #expect(journal.pendingCounts.total == 0)
            let dead = try await journal.deadLetters()
            #expect(dead.count == 1)
            #expect(dead[0].code == "E003")
            #expect(dead[0].correlationID == "r1")
            let (entry, history) = try #require(try await journal.entry(correlationID: "r1"))
            #expect(entry.state == .deadLettered)
            #expect(history.map(\.to) == [.queued, .loading, .retrying, .loading, .deadLettered])
        }
    }

    @Test func loadedEntriesCannotBeClaimedAgain() async throws {
        try await withJournal { journal in
            _ = try await journal.enqueue([file("market/p/a.parquet")])
            let batch = try #require(try await journal.claimNext())
            try await journal.markLoaded(ids: [batch.entries[0].id], rows: [batch.entries[0].id: 10])
            #expect(try await journal.claimNext() == nil)
            await #expect(throws: JournalError.self) { try await journal.markLoaded(ids: [batch.entries[0].id]) }
        }
    }

    @Test func interruptedLoadsReturnToTheQueueOnRestart() async throws {
        let path = temporaryJournalPath()
        try await withJournal(path: path) { journal in
            _ = try await journal.enqueue([file("market/p/a.parquet", correlationID: "i1")])
            _ = try #require(try await journal.claimNext())
        }
        try await withJournal(path: path) { journal in
            let (entry, history) = try #require(try await journal.entry(correlationID: "i1"))
            #expect(entry.state == .queued)
            #expect(history.last?.event == "release")
            #expect(journal.pendingCounts.total == 1)
        }
    }

    @Test func invalidPayloadsAreKeptAndBounded() async throws {
        let path = temporaryJournalPath()
        let journal = try Journal(configuration: JournalConfiguration(path: path, invalidPayloadLimit: 3), logger: Logger(label: "t"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await journal.run() }
            for i in 0..<5 {
                try await journal.recordInvalid(InvalidPayload(
                    correlationID: "bad-\(i)", error: .invalidEvent("missing key", field: "detail.object.key"), source: "events", payload: "{\"n\":\(i)}"
                ))
            }
            let dead = try await journal.deadLetters(code: "E001")
            #expect(dead.map(\.correlationID) == ["bad-4", "bad-3", "bad-2"])
            #expect(dead[0].field == "detail.object.key")
            #expect(dead[0].payload == "{\"n\":4}")
            journal.close()
            try await group.waitForAll()
        }
    }

    @Test func closedJournalRefuses() async throws {
        try await withJournal { journal in
            journal.close()
            await #expect(throws: JournalError.self) { try await journal.enqueue([file("market/p/a.parquet")]) }
        }
    }

    @Test func damagedFileIsRefusedAndKept() throws {
        let path = temporaryJournalPath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let garbage = Data(repeating: 0x5A, count: 8192)
        try garbage.write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try Journal(configuration: JournalConfiguration(path: path), logger: Logger(label: "t"))
        } throws: { error in
            guard let e = error as? JournalError else { return false }
            return e.kind == .corrupt && e.message.contains(path)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }
}

@Suite("Journal lock")
struct JournalLockTests {
    @Test func oneProcessPerJournal() throws {
        let path = temporaryJournalPath()
        let first = try Journal(configuration: JournalConfiguration(path: path), logger: Logger(label: "t"))
        #expect {
            _ = try Journal(configuration: JournalConfiguration(path: path), logger: Logger(label: "t"))
        } throws: { error in
            (error as? JournalError)?.message.contains("another Sluice process") == true
        }
        _ = first
    }
}
