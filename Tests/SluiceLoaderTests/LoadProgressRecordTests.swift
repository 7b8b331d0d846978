import ClickHouse
import Foundation
import Logging
import SluiceCore
import SluiceIntake
import SluiceLoader
import Testing

@Suite("Load progress record and checks")
struct LoadProgressRecordTests {
    func record() -> LoadProgressRecord {
        LoadProgressRecord(
            stagedLoadID: "b7_0123456789abcdef", target: TableReference(database: "market", table: "prices"), loadedAt: "2025-09-10 12:00:00",
            files: [
                .init(entryID: 7, correlationID: "c7", bucket: "b", key: "market/prices/a.parquet", version: "e:abc", versionID: nil, eTag: "\"abc\"",
                      size: 2048, partition: "ds=2025-09-10", rows: nil),
            ],
            verifyLineage: ["_sluice_load_id": "b7_0123456789abcdef"], ledger: StagedLoadLedger())
    }

    @Test func roundTripsThroughTheJournalsBytes() throws {
        var original = record()
        original.files[0].rows = 42
        let decoded = try #require(LoadProgressRecord.decode(try original.encoded()))
        #expect(decoded == original)
        #expect(decoded.isResettable)
    }

    @Test func unreadableBytesAreNotARecord() {
        #expect(LoadProgressRecord.decode(Array("not json".utf8)) == nil)
        #expect(LoadProgressRecord.decode(Array("{\"format\":2}".utf8)) == nil)
        var future = record()
        future.format = 2
        #expect(LoadProgressRecord.decode((try? future.encoded()) ?? []) == nil)
    }

    @Test func aSealedOrCommittedLoadIsFrozen() throws {
        var record = record()
        var ledger = StagedLoadLedger()
        ledger.recordCommitted("202509")
        record.ledger = ledger
        #expect(!record.isResettable)
    }

    @Test func stagedLoadIDsAreValidStableAndDistinctPerJournal() throws {
        let a = LoadProgressRecord.stagedLoadID(loadID: "b12", token: "550e8400-e29b-41d4-a716-446655440000")
        let b = LoadProgressRecord.stagedLoadID(loadID: "b12", token: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")
        #expect(a == LoadProgressRecord.stagedLoadID(loadID: "b12", token: "550e8400-e29b-41d4-a716-446655440000"))
        #expect(a != b, "the same journal load id from two journals names two staging tables")
        #expect(a.hasPrefix("b12_"))
        for id in [a, b, LoadProgressRecord.stagedLoadID(loadID: String(repeating: "x", count: 200), token: "t"),
                   LoadProgressRecord.stagedLoadID(loadID: "weird id/with ☃", token: "t")]
        {
            #expect(id.utf8.count <= 64)
            #expect(id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }, "\(id)")
            _ = try StagedLoadIDCheck.validate(id)
        }
    }

    @Test func timestampsAreUTCSeconds() {
        #expect(LoadChecks.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00")
        #expect(LoadChecks.timestamp(Date(timeIntervalSince1970: 1_757_507_696.9)) == "2025-09-10 12:34:56")
        #expect(LoadChecks.timestamp(Date(timeIntervalSince1970: 951_825_600)) == "2000-02-29 12:00:00")
        #expect(LoadChecks.timestamp(Date(timeIntervalSince1970: 4_107_542_399)) == "2100-02-28 23:59:59")
    }

    @Test func partitionValuesAreUnescaped() {
        #expect(LoadChecks.partitionValues("") == [:])
        #expect(LoadChecks.partitionValues("ds=2025-09-10/hour=01") == ["ds": "2025-09-10", "hour": "01"])
        #expect(LoadChecks.partitionValues("region=eu%2Dwest/path=a%2Fb") == ["region": "eu-west", "path": "a/b"])
    }

    @Test func tablesTheProtocolCannotLoadAreRefused() throws {
        try LoadChecks.checkTable(table: "m.t", engine: "MergeTree", partitionKey: "toYYYYMM(ds)")
        try LoadChecks.checkTable(table: "m.t", engine: "ReplacingMergeTree", partitionKey: "")
        try LoadChecks.checkTable(table: "m.t", engine: "MergeTree", partitionKey: "(snowflake_id, known_at)")
        for key in ["rand()", "toYYYYMM(now())", "intDiv(rand64(), 10)", "toDate(now64(3))", "generateUUIDv4()", "(ds, today())"] {
            #expect(throws: SluiceError.self, "\(key)") { try LoadChecks.checkTable(table: "m.t", engine: "MergeTree", partitionKey: key) }
        }
        do {
            try LoadChecks.checkTable(table: "m.t", engine: "Memory", partitionKey: "")
            Issue.record("Memory tables cannot be staged")
        } catch {
            #expect(error.category == .schema)
            #expect(error.message.contains("MergeTree"))
        }
    }
}

/// StagedLoad's own check of a load id (through its initializer, which sends nothing).
enum StagedLoadIDCheck {
    static func validate(_ id: String) throws {
        let client = ClickHouseClient(configuration: try ClickHouseConfiguration(url: "http://127.0.0.1:1"), logger: .init(label: "test"))
        defer { Task { try? await client.shutdown() } }
        _ = try StagedLoad(client: client, target: TableName(database: "d", table: "t"), loadID: id)
    }
}
