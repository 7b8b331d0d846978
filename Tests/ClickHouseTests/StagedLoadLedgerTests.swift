@testable import ClickHouse
import Foundation
import Testing

@Suite("Staged load ledger (pure state machine)")
struct StagedLoadLedgerTests {
    static func part(_ partition: String) -> StagedPart {
        StagedPart(
            partitionID: partition, name: "\(partition)_1_1_0", rows: 10, bytesOnDisk: 1, compressedBytes: 1, uncompressedBytes: 1,
            marksBytes: 1, hashOfAllFiles: nil, contentHash: nil)
    }

    static func manifest(_ partitions: [String]) -> StageManifest {
        StageManifest(
            loadID: "l", target: "db.t", stage: "db._sluice_stage_l", method: .attach, engine: "MergeTree",
            partitions: partitions.map { StagedPartition(id: $0, rows: 10, parts: [part($0)]) }, oldPartsLifetimeSeconds: 480)
    }

    static func intent(_ partition: String, attempt: Int = 1) -> CommitIntent {
        CommitIntent(
            loadID: "l", partitionID: partition, attempt: attempt, method: .attach, queryID: "l-commit-\(partition)-\(attempt)",
            serverTime: 1000, serverStartedAt: 10, rows: 10, parts: [part(partition)])
    }

    @Test func theHappyPathInOrder() {
        var ledger = StagedLoadLedger()
        #expect(ledger.nextStep == .stage(alreadyCommitted: []))
        ledger.recordSealed(Self.manifest(["a", "b"]))
        #expect(ledger.nextStep == .commit(partition: "a", attempt: 1))
        ledger.recordIntent(Self.intent("a"))
        #expect(ledger.nextStep == .verify(Self.intent("a")), "an unrecorded outcome is verified, never re-sent")
        ledger.recordCommitted("a")
        #expect(ledger.nextStep == .commit(partition: "b", attempt: 1))
        ledger.recordIntent(Self.intent("b"))
        ledger.recordCommitted("b")
        #expect(ledger.nextStep == .cleanup)
        ledger.recordDone()
        #expect(ledger.nextStep == .finished)
    }

    @Test func verdictsDecideTheNextStep() {
        var ledger = StagedLoadLedger()
        ledger.recordSealed(Self.manifest(["a"]))
        ledger.recordIntent(Self.intent("a"))
        ledger.recordVerdict(.inProgress, for: Self.intent("a"))
        #expect(ledger.nextStep == .verify(Self.intent("a")))
        ledger.recordVerdict(.notCommitted(evidence: "x"), for: Self.intent("a"))
        #expect(ledger.nextStep == .commit(partition: "a", attempt: 2))
        ledger.recordIntent(Self.intent("a", attempt: 2))
        ledger.recordVerdict(.committed(evidence: "y"), for: Self.intent("a", attempt: 2))
        #expect(ledger.nextStep == .cleanup)

        var stuck = StagedLoadLedger()
        stuck.recordSealed(Self.manifest(["a"]))
        stuck.recordIntent(Self.intent("a"))
        stuck.recordVerdict(.ambiguous(reason: "check by hand"), for: Self.intent("a"))
        #expect(stuck.nextStep == .failed("check by hand"))
    }

    @Test func aLostStageIsStagedAgainWithoutCommittedPartitions() {
        var ledger = StagedLoadLedger()
        ledger.recordSealed(Self.manifest(["a", "b", "c"]))
        ledger.recordIntent(Self.intent("a"))
        ledger.recordCommitted("a")
        ledger.recordStageLost()
        #expect(ledger.nextStep == .stage(alreadyCommitted: ["a"]))
        ledger.recordSealed(Self.manifest(["b", "c"]))
        #expect(ledger.nextStep == .commit(partition: "b", attempt: 1))
    }

    @Test func theLedgerRoundTripsThroughJSON() throws {
        var ledger = StagedLoadLedger()
        ledger.recordSealed(Self.manifest(["a", "b"]))
        ledger.recordIntent(Self.intent("a"))
        let data = try JSONEncoder().encode(ledger)
        #expect(try JSONDecoder().decode(StagedLoadLedger.self, from: data) == ledger)
    }
}
