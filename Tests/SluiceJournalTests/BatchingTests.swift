import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceJournal
import Testing

@Suite("Batching and final backoff")
struct BatchingTests {
    @Test func batchWaitsForItsMinimumOrItsDeadline() async throws {
        let clock = TestClock()
        try await withJournal(clock: clock) { journal in
            for i in 0..<2 { _ = try await journal.enqueue([file("market/prices/a\(i).parquet")]) }
            let policy = BatchPolicy(maxFiles: ["market": 10], minFiles: ["market": 3], maxWaitMilliseconds: 5000)
            #expect(try await journal.claimNext(policy) == nil)
            clock.advance(ms: 5000)
            let batch = try #require(try await journal.claimNext(policy))
            #expect(batch.entries.count == 2)
            for i in 0..<4 { _ = try await journal.enqueue([file("market/prices/b\(i).parquet")]) }
            let full = try #require(try await journal.claimNext(policy))
            #expect(full.entries.count == 4)
        }
    }

    /// A claim reads a window of the oldest ready entries (512 per class): with a larger backlog, batches still
    /// come out oldest first, and a table whose files lie beyond the window is claimed once its files are reached.
    @Test func aBacklogLargerThanTheClaimWindowIsClaimedInOrder() async throws {
        let clock = TestClock()
        try await withJournal(clock: clock) { journal in
            // 600 lone files of 600 tables, then 3 files of one more table: every table below batch_min 3.
            for i in 0..<600 { _ = try await journal.enqueue([file("market/t\(i)/a.parquet")]) }
            for i in 0..<3 { _ = try await journal.enqueue([file("market/late/b\(i).parquet")]) }
            let policy = BatchPolicy(maxFiles: ["market": 10], minFiles: ["market": 3], maxWaitMilliseconds: 5000)
            // Within the window no table has 3 files and none has waited; `late` lies beyond the window.
            #expect(try await journal.claimNext(policy) == nil)
            clock.advance(ms: 5000)
            var tables: [String] = []
            while let batch = try await journal.claimNext(policy) {
                tables.append(batch.target.table)
                #expect(batch.entries.count == (batch.target.table == "late" ? 3 : 1))
            }
            #expect(tables.count == 601)
            #expect(tables.first == "t0")
            #expect(tables.last == "late")
            #expect(tables.dropLast() == (0..<600).map { "t\($0)" }[...])
        }
    }

    @Test func byteCapKeepsAtLeastOneFile() async throws {
        try await withJournal { journal in
            for i in 0..<5 { _ = try await journal.enqueue([file("market/prices/a\(i).parquet")]) }
            let batch = try #require(try await journal.claimNext(BatchPolicy(maxFiles: ["market": 10], maxBytes: 5000)))
            #expect(batch.entries.count == 2)  // 2048 bytes each
            let tiny = try #require(try await journal.claimNext(BatchPolicy(maxFiles: ["market": 10], maxBytes: 10)))
            #expect(tiny.entries.count == 1)
        }
    }

    @Test func aRetriedBatchKeepsItsFilesAndLoadID() async throws {
        let clock = TestClock()
        try await withJournal(clock: clock) { journal in
            for i in 0..<3 { _ = try await journal.enqueue([file("market/prices/a\(i).parquet")]) }
            let first = try #require(try await journal.claimNext(maxFiles: ["market": 3]))
            try await journal.markFailed(ids: first.entries.map(\.id), error: SluiceError(.connection, "reset"), retryAt: clock.now + 2000)
            for i in 3..<6 { _ = try await journal.enqueue([file("market/prices/a\(i).parquet")]) }
            clock.advance(ms: 2000)
            // The retried batch is older, so it comes first, with the same files.
            let again = try #require(try await journal.claimNext(maxFiles: ["market": 10]))
            #expect(again.loadID == first.loadID)
            #expect(again.entries.map(\.id) == first.entries.map(\.id))
            let fresh = try #require(try await journal.claimNext(maxFiles: ["market": 10]))
            #expect(fresh.loadID != first.loadID)
            #expect(fresh.entries.count == 3)
        }
    }

    @Test func exhaustedEntriesWaitTheirLastBackoffThenDeadLetter() async throws {
        let clock = TestClock()
        try await withJournal(clock: clock) { journal in
            _ = try await journal.enqueue([file("market/prices/a.parquet", correlationID: "x")])
            let batch = try #require(try await journal.claimNext())
            try await journal.markFailed(ids: [batch.entries[0].id], error: SluiceError(.connection, "refused"), retryAt: clock.now + 8000, deadLetterWhenDue: true)
            clock.advance(ms: 7999)
            #expect(try await journal.deadLetterDue().isEmpty)
            #expect(try await journal.claimNext() == nil)
            clock.advance(ms: 1)
            #expect(try await journal.claimNext() == nil)
            let dead = try await journal.deadLetterDue()
            #expect(dead.map(\.correlationID) == ["x"])
            #expect(try await journal.deadLetters().first?.code == "E004")
            #expect(journal.pendingCounts.total == 0)
        }
    }
}

@Suite("Replay")
struct ReplayTests {
    @Test func replayResumesTheSameLoadUnlessRestarted() async throws {
        try await withJournal { journal in
            _ = try await journal.enqueue([file("market/prices/a.parquet", correlationID: "r1"), file("market/prices/b.parquet", correlationID: "r2")])
            let batch = try #require(try await journal.claimNext(maxFiles: ["market": 1]))
            try await journal.saveLoadProgress(loadID: batch.loadID, target: batch.target, progress: [1, 2, 3])
            try await journal.markFailed(ids: batch.entries.map(\.id), error: SluiceError(.databaseUnavailable, "ambiguous commit"), retryAt: nil)
            let letter = try #require(try await journal.deadLetters().first)
            #expect(try await journal.replay(deadLetterID: letter.id) == .queued(correlationID: "r1"))
            let resumed = try #require(try await journal.claimNext(maxFiles: ["market": 1]))
            #expect(resumed.loadID == batch.loadID)
            #expect(try await journal.loadProgress(loadID: batch.loadID) == [1, 2, 3])

            try await journal.markFailed(ids: resumed.entries.map(\.id), error: SluiceError(.databaseUnavailable, "ambiguous commit"), retryAt: nil)
            let again = try #require(try await journal.deadLetters().first)
            #expect(try await journal.replay(deadLetterID: again.id, restart: true) == .queued(correlationID: "r1"))
            #expect(try await journal.loadProgress(loadID: batch.loadID) == nil)
            let fresh = try #require(try await journal.claimNext(maxFiles: ["market": 1]))
            #expect(fresh.entries.map(\.correlationID) == ["r1"])
            #expect(fresh.loadID != batch.loadID)
        }
    }
}
