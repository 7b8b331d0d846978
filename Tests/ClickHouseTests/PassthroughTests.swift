@testable import ClickHouse
import ClickHouseNative
import Foundation
import NIOCore
import Testing

@Suite("Parquet passthrough into the staging table", .enabled(if: LiveServers.enabled, LiveServers.reason))
struct PassthroughTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ParquetClickHouseTests/Fixtures/types.parquet")

    /// The file in pieces of 4 KiB, as an object store would stream it.
    struct Pieces: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let bytes: [UInt8]
        struct AsyncIterator: AsyncIteratorProtocol {
            let bytes: [UInt8]
            var offset = 0
            mutating func next() async throws -> ByteBuffer? {
                guard offset < bytes.count else { return nil }
                defer { offset += 4096 }
                return ByteBuffer(bytes: bytes[offset..<Swift.min(bytes.count, offset + 4096)])
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes) }
    }

    @Test(arguments: LiveServers.names)
    func serverDecodedParquetCommitsExactlyOnce(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            try await client.execute("""
                CREATE TABLE \(database).t (id Int64, s Nullable(String), l Array(Nullable(Int32)), ds Date, _source_key String)
                ENGINE = MergeTree PARTITION BY ds ORDER BY id
                """)
            let target = TableName(database: database, table: "t")
            let load = try StagedLoad(client: client, target: target, loadID: "passthrough")
            try await load.prepare()
            let bytes = try [UInt8](Data(contentsOf: Self.fixture))
            let insert = {
                try await load.insertParquet(
                    fileColumns: ["id", "s", "l"], constants: ["ds": "2025-09-10", "_source_key": "b/types.parquet"], body: Pieces(bytes: bytes))
            }
            guard server != "18.16" else {
                await #expect(throws: ClickHouseError.self) { try await insert() }
                try await load.cleanup()
                return
            }
            try await insert()
            let manifest = try await load.seal()
            #expect(manifest.rows == 7)
            for partition in manifest.partitions {
                try await load.commit(try await load.beginCommit(partition: partition.id))
            }
            try await load.cleanup()
            let rows = try await client.query("SELECT id, s, l, ds, _source_key FROM \(target.sql) ORDER BY id LIMIT 2")
            #expect(rows == [
                ["0", "tab\there", "[1,NULL,3]", "2025-09-10", "b/types.parquet"],
                ["1", "\\N", "[]", "2025-09-10", "b/types.parquet"],
            ])
            #expect(try await client.query("SELECT count() FROM \(target.sql)") == [["7"]])
        }
    }
}
