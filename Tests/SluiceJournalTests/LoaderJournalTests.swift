import SluiceCore
import SluiceIntake
import SluiceJournal
import Testing

@Suite("Journal functions of the loader")
struct LoaderJournalTests {
    @Test func oneEntryIsClaimedAloneWhateverElseWaits() async throws {
        try await withJournal { journal in
            _ = try await journal.enqueue([file("market/prices/older.parquet", correlationID: "older")])
            guard case .accepted(let outcomes) = try await journal.enqueue([file("product/items/mine.parquet", domain: "product", priority: .low, correlationID: "mine")]),
                case .queued(_, let id)? = outcomes.first
            else {
                Issue.record("not queued")
                return
            }
            let batch = try #require(try await journal.claim(entryID: id))
            #expect(batch.entries.map(\.correlationID) == ["mine"])
            #expect(batch.loadID.hasPrefix("b\(id)x"))
            #expect(batch.priority == .low)
            #expect(batch.target == TableReference(database: "product", table: "items"))
            #expect(batch.entries[0].state == .loading)
            #expect(batch.entries[0].attempts == 1)
            #expect(batch.entries[0].loadID == batch.loadID)
            #expect(try await journal.claim(entryID: id) == nil, "already loading")
            #expect(try await journal.claim(entryID: 999_999) == nil)
            let other = try #require(try await journal.claimNext())
            #expect(other.entries.map(\.correlationID) == ["older"])
        }
    }

    @Test func aRetriedEntryKeepsItsLoadID() async throws {
        let clock = TestClock()
        try await withJournal(clock: clock) { journal in
            _ = try await journal.enqueue([file("market/prices/a.parquet", correlationID: "a"), file("market/prices/b.parquet", correlationID: "b")])
            let batch = try #require(try await journal.claimNext(maxFiles: ["market": 2]))
            #expect(batch.entries.count == 2)
            try await journal.markFailed(ids: [batch.entries[1].id], error: SluiceError(category: .connection, "refused"), retryAt: clock.now + 1000)
            #expect(try await journal.claim(entryID: batch.entries[1].id) == nil, "backoff not over")
            clock.advance(ms: 1000)
            let again = try #require(try await journal.claim(entryID: batch.entries[1].id))
            #expect(again.loadID == batch.loadID)
        }
    }

    @Test func pendingLoadIDsAreThoseWithAPendingEntry() async throws {
        try await withJournal { journal in
            _ = try await journal.enqueue([file("market/prices/a.parquet"), file("market/trades/b.parquet")])
            #expect(try await journal.pendingLoadIDs().isEmpty, "no load before a claim")
            let first = try #require(try await journal.claimNext())
            let second = try #require(try await journal.claimNext())
            #expect(try await journal.pendingLoadIDs() == [first.loadID, second.loadID])
            try await journal.markFailed(ids: first.entries.map(\.id), error: SluiceError(category: .schema, "no such column"), retryAt: nil)
            #expect(try await journal.pendingLoadIDs() == [second.loadID])
            try await journal.completeLoad(
                loadID: second.loadID, target: second.target,
                files: [LoadedFile(entryID: second.entries[0].id, version: "e:x", rows: 1, bytes: 1)])
            #expect(try await journal.pendingLoadIDs().isEmpty)
        }
    }
}
