import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceJournal
import SluiceScheduler
import Synchronization
import Testing

@Suite("Load scheduler with an injected clock")
struct SchedulerTests {
    /// Attempts at t = 0, 2, 6 s; dead letter at 14 s, no fourth attempt.
    @Test func connectionScheduleAndDLQ() async throws {
        let clock = ManualClock()
        let start = clock.now
        let loader = ScriptedLoader(clock: clock) { batch, _ in .allFailed(batch, SluiceError(.connection, "connection refused")) }
        try await withScheduler(clock: clock, loader: loader) { journal, scheduler in
            _ = try await journal.enqueue([makeFile("market/prices/ds=1/a.parquet", correlationID: "c1")])
            #expect(try await scheduler.runOnce())
            for step in [1.999, 0.001, 3.999, 0.001] {
                clock.advance(seconds: step)
                _ = try await scheduler.runOnce()
            }
            #expect(loader.callTimes.map { $0 - start } == [0, 2000, 6000])
            clock.advance(seconds: 7.999)
            await scheduler.housekeeping()
            #expect(try await journal.deadLetters().isEmpty)
            #expect(try await !scheduler.runOnce())
            clock.advance(seconds: 0.001)
            await scheduler.housekeeping()
            let dead = try await journal.deadLetters()
            #expect(dead.count == 1)
            #expect(dead[0].code == "E004")
            #expect(dead[0].correlationID == "c1")
            #expect(loader.callTimes.count == 3)
            let (entry, _) = try #require(try await journal.entry(correlationID: "c1"))
            #expect(entry.state == .deadLettered)
            #expect(entry.failures == 3)
        }
    }

    /// Attempts at t = 0, 5 s; dead letter at 15 s.
    @Test func memorySchedule() async throws {
        let clock = ManualClock()
        let start = clock.now
        let loader = ScriptedLoader(clock: clock) { batch, _ in .allFailed(batch, SluiceError(.memory, "Code: 241 memory limit exceeded")) }
        try await withScheduler(clock: clock, loader: loader) { journal, scheduler in
            _ = try await journal.enqueue([makeFile("market/prices/ds=1/a.parquet")])
            _ = try await scheduler.runOnce()
            clock.advance(seconds: 5)
            _ = try await scheduler.runOnce()
            clock.advance(seconds: 10)
            _ = try await scheduler.runOnce()
            await scheduler.housekeeping()
            #expect(loader.callTimes.map { $0 - start } == [0, 5000])
            #expect(try await journal.deadLetters().first?.code == "E006")
        }
    }

    @Test(arguments: [
        SluiceError(category: .schema, "column price: Parquet DOUBLE cannot be stored in String"),
        SluiceError(category: .permission, "Code: 516 authentication failed"),
        SluiceError(category: .parse, "corrupt page"),
        SluiceError(category: .unsupportedFormat, "not a Parquet file"),
    ])
    func permanentErrorsGoToTheDLQAtOnce(error: SluiceError) async throws {
        let clock = ManualClock()
        let loader = ScriptedLoader(clock: clock) { batch, _ in .allFailed(batch, error) }
        try await withScheduler(clock: clock, loader: loader) { journal, scheduler in
            _ = try await journal.enqueue([makeFile("market/prices/ds=1/a.parquet")])
            _ = try await scheduler.runOnce()
            clock.advance(seconds: 100)
            #expect(try await !scheduler.runOnce())
            #expect(loader.callTimes.count == 1)
            let dead = try await journal.deadLetters()
            #expect(dead.map(\.code) == [error.code.rawValue])
            #expect(dead.first?.message == error.message)
        }
    }

    @Test func processingTimeoutIsAFailedAttempt() async throws {
        let clock = ManualClock()
        let loader = ScriptedLoader(clock: clock) { _, _ in
            try? await Task.sleep(for: .seconds(30))
            return BatchLoadResult(batchError: SluiceError(category: .timeout, "cancelled"))
        }
        let config = LoaderConfiguration(processingTimeoutSeconds: 0.2, batchWaitSeconds: 0)
        try await withScheduler(clock: clock, configuration: config, loader: loader) { journal, scheduler in
            _ = try await journal.enqueue([makeFile("market/prices/ds=1/a.parquet", correlationID: "t1")])
            let started = ContinuousClock.now
            _ = try await scheduler.runOnce()
            #expect(ContinuousClock.now - started < .seconds(10))
            let (entry, _) = try #require(try await journal.entry(correlationID: "t1"))
            #expect(entry.state == .retrying)
            #expect(entry.lastErrorCode == "E004")
            #expect(entry.lastErrorMessage?.contains("processing_timeout_s") == true)
        }
    }

    @Test func individualFailuresDoNotFailTheBatch() async throws {
        let clock = ManualClock()
        let loader = ScriptedLoader(clock: clock) { batch, _ in
            var r = BatchLoadResult()
            for (i, e) in batch.entries.enumerated() {
                if i == 1 { r.failed[e.id] = SluiceError(.unsupportedFormat, "not Parquet") } else { r.loaded[e.id] = .init(rows: 10, bytes: 100) }
            }
            return r
        }
        try await withScheduler(clock: clock, loader: loader) { journal, scheduler in
            for i in 0..<3 { _ = try await journal.enqueue([makeFile("market/prices/ds=1/f\(i).parquet")]) }
            _ = try await scheduler.runOnce()
            #expect(try await journal.deadLetters().map(\.code) == ["E002"])
        }
    }

    @Test func oneTableAtATime() async throws {
        let clock = ManualClock()
        let journalBox = Mutex<Journal?>(nil)
        let loader = ScriptedLoader(clock: clock) { batch, _ in
            try? await Task.sleep(for: .milliseconds(50))
            let journal = journalBox.withLock { $0 }!
            for e in batch.entries { try? await journal.markSkipped(entryID: e.id, reason: "test") }
            return BatchLoadResult(skipped: Dictionary(uniqueKeysWithValues: batch.entries.map { ($0.id, "test") }))
        }
        try await withScheduler(clock: clock, loader: loader) { journal, scheduler in
            journalBox.withLock { $0 = journal }
            for i in 0..<6 {
                let batch = try await journal.enqueue([makeFile("product/catalog/ds=1/f\(i).parquet", domain: "product", priority: .low)])
                _ = batch
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while journal.pendingCounts.total > 0 {
                            if try await !scheduler.runOnce() { try await Task.sleep(for: .milliseconds(5)) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(loader.concurrent.withLock { $0.max } == 1)
            #expect(journal.pendingCounts.total == 0)
        }
    }
}
