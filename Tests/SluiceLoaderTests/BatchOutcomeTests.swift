import SluiceCore
import SluiceIntake
import SluiceLoader
import SluiceScheduler
import Testing

@Suite("Batch outcome")
struct BatchOutcomeTests {
    static let schema = SluiceError(category: .schema, "E003 schema mismatch in 1 column: v")
    static let network = SluiceError(category: .network, "s3 GetObject failed with NetworkError")

    func outcome(_ results: [FileResult], batchFailure: SluiceError? = nil) -> BatchOutcome {
        BatchOutcome(
            loadID: "b1", target: TableReference(database: "market", table: "prices"),
            files: results.enumerated().map { FileOutcome(entryID: Int64($0.offset + 1), correlationID: "c\($0.offset + 1)", result: $0.element) },
            batchFailure: batchFailure, duration: .milliseconds(5))
    }

    @Test func theSchedulerSeesLoadedSkippedAndFailedFiles() {
        let result = outcome([
            .loaded(rows: 10, bytes: 1771, version: "e:a"), .duplicate(of: "c0"), .skipped(reason: "ledger.on_new_version is skip"),
            .failed(Self.schema, detached: true),
        ]).schedulerResult
        #expect(result.loaded == [1: .init(rows: 10, bytes: 1771)])
        #expect(result.skipped == [2: "duplicate of c0", 3: "ledger.on_new_version is skip"])
        #expect(result.failed == [4: Self.schema])
        #expect(result.batchError == nil)
    }

    @Test func aBatchFailureCoversTheFilesThatDidNotFailOnTheirOwn() {
        let value = outcome(
            [.failed(Self.schema, detached: true), .failed(Self.network, detached: false), .failed(Self.network, detached: false), .duplicate(of: "c0")],
            batchFailure: Self.network)
        let result = value.schedulerResult
        #expect(result.batchError == Self.network)
        #expect(result.failed == [1: Self.schema], "only the detached file is listed; the batch error covers the rest")
        #expect(result.skipped == [4: "duplicate of c0"])
        let groups = value.failures
        #expect(groups.count == 2)
        #expect(groups.first { $0.error == Self.network }?.entryIDs == [2, 3])
        #expect(groups.first { $0.error == Self.schema }?.entryIDs == [1])
    }

    @Test func totals() {
        let value = outcome([.loaded(rows: 10, bytes: 100, version: "e:a"), .loaded(rows: 5, bytes: 50, version: "v:b"), .skipped(reason: "x")])
        #expect(value.rowsLoaded == 15)
        #expect(value.bytesLoaded == 150)
        #expect(value.files.map(\.result.label) == ["loaded", "loaded", "skipped"])
    }
}
