import ClickHouse
import Testing

@Suite("Lineage lookup against the real servers", .enabled(if: LiveServers.enabled, LiveServers.reason))
struct LineageLookupTests {
    /// Counts per partition; a narrowing value excludes the parts that cannot hold the rows; a narrowing value the
    /// server cannot convert falls back to the lookup without it instead of failing.
    @Test(arguments: LiveServers.names)
    func rowsWithLineageCountsPerPartitionAndNarrows(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let table = TableName(database: database, table: "t")
            try await client.execute("""
                CREATE TABLE \(table.sql) (id UInt64, ds Date, _source_key String, _source_etag String)
                ENGINE = MergeTree PARTITION BY toYYYYMM(ds) ORDER BY id
                """)
            try await client.execute("""
                INSERT INTO \(table.sql) SELECT number, if(number < 3, toDate('2025-09-10'), toDate('2025-10-01')),
                if(number < 5, 'a/b.parquet', 'a/c.parquet'), 'e1' FROM system.numbers LIMIT 8
                """)
            let lineage = ["_source_key": "a/b.parquet", "_source_etag": "e1"]
            #expect(try await client.rowsWithLineage(table, values: lineage) == ["202509": 3, "202510": 2])
            #expect(try await client.rowsWithLineage(table, values: ["_source_key": "a/b.parquet", "_source_etag": "e2"]).isEmpty)

            let september = ColumnValue(column: "ds", type: "Date", value: "2025-09-10")
            #expect(try await client.rowsWithLineage(table, values: lineage, narrowedBy: [september]) == ["202509": 3])
            let elsewhere = ColumnValue(column: "ds", type: "Date", value: "2024-01-01")
            #expect(try await client.rowsWithLineage(table, values: lineage, narrowedBy: [elsewhere]).isEmpty)
            let unreadable = ColumnValue(column: "ds", type: "Date", value: "next tuesday")
            #expect(try await client.rowsWithLineage(table, values: lineage, narrowedBy: [unreadable]) == ["202509": 3, "202510": 2])
        }
    }
}
