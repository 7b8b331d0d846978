import ClickHouse
import ClickHouseNative
import Foundation
import Logging
import Parquet
import ParquetClickHouse
import Testing

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

enum Servers {
    static let environment = ProcessInfo.processInfo.environment
    static let urls: [String: String] = [
        "18.16": environment["SLUICE_TEST_CH18_URL"], "26.9": environment["SLUICE_TEST_CH26_URL"],
    ].compactMapValues { $0?.isEmpty == false ? $0 : nil }
    static let enabled = environment["SLUICE_REQUIRE_SERVERS"] == "1" || urls.count == 2
    static let reason: Comment = "set SLUICE_TEST_CH18_URL and SLUICE_TEST_CH26_URL (scripts/servers/ch18.sh, chdb.sh)"

    static func client(_ name: String) throws -> ClickHouseClient {
        let url = try #require(urls[name], "no URL for ClickHouse \(name)")
        return ClickHouseClient(configuration: try ClickHouseConfiguration(url: url), logger: Logger(label: "test"))
    }

    /// Runs `body` with a client and a fresh database, dropping both afterwards whatever happens.
    static func withDatabase(_ name: String, _ body: (ClickHouseClient, String) async throws -> Void) async throws {
        let client = try client(name)
        let database = "sluice_test_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        do {
            try await client.execute("CREATE DATABASE \(database)")
            try await body(client, database)
        } catch {
            try? await client.execute("DROP DATABASE IF EXISTS \(database)")
            try? await client.shutdown()
            throw error
        }
        try await client.execute("DROP DATABASE IF EXISTS \(database)")
        try await client.shutdown()
    }
}

extension TargetColumn {
    /// The transcoder's view of a `system.columns` row.
    init(_ column: TableColumn) {
        let fill: TargetColumn.Fill
        switch column.defaultKind {
        case .none: fill = .required
        case .default: fill = .hasDefault
        default: fill = .computed
        }
        self.init(name: column.name, typeName: column.typeName, type: try? column.type.get(), fill: fill)
    }
}

/// Loads `path` into `table` through the transcoder and the Native writer (the loader's path, without staging).
func load(
    path: String, into table: TableName, client: ClickHouseClient, options: MappingOptions, blockRows: Int = 3, minimumBlocks: Int = 3
) async throws -> TranscodePlan {
    let file = try await ParquetFile.open(path: path)
    let schema = try await client.tableSchema(table, refresh: true)
    let plan = try TranscodePlan(parquet: file.schema, table: schema.columns.map(TargetColumn.init), options: options)
    let transcoder = ParquetNativeTranscoder(plan: plan)
    var body: [UInt8] = []
    var blocks = 0
    try await transcoder.transcode(file: file, blockRows: blockRows) { columns in
        var writer = NativeBlockWriter()
        try writer.writeBlock(columns)
        body += writer.bytes
        blocks += 1
    }
    #expect(blocks >= minimumBlocks, "blocks of at most \(blockRows) rows")
    let bytes = body
    try await client.insert("INSERT INTO \(table.sql) FORMAT Native") { writer in try await writer.write(bytes) }
    return plan
}

@Suite("Parquet to Native on the real servers", .enabled(if: Servers.enabled, Servers.reason))
struct TranscodeLiveTests {
    static let modernTable = """
        id Int64, i8 Int8, i16 Int16, i32 Nullable(Int32), u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64, widen Int64,
        f32 Float32, f64 Nullable(Float64), s Nullable(String), b String, fsb FixedString(4), dict LowCardinality(String),
        dec Decimal(10, 2), dec38 Decimal(38, 10), dsmall Decimal(5, 2), d Date32, ts_ms DateTime64(3, 'UTC'),
        ts_us Nullable(DateTime64(6, 'UTC')), ts_ns DateTime64(9, 'UTC'), ts_s DateTime('UTC'), bo Bool, u UUID,
        l Array(Nullable(Int32)), ll Array(Array(String)), m Map(String, Nullable(Int64)),
        st Tuple(a Nullable(Int32), b Nullable(String)), ls Array(Tuple(x Nullable(Int32), y Array(String)))
        """

    static let oldTable = """
        id Int64, i8 Int8, i16 Int16, i32 Nullable(Int32), u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64, widen Int64,
        f32 Float32, f64 Nullable(Float64), s Nullable(String), b String, fsb FixedString(4), dict LowCardinality(String),
        dec Decimal(10, 2), dec38 Decimal(38, 10), dsmall Decimal(5, 2), d Date, ts_s DateTime('UTC'), bo UInt8, u UUID,
        l Array(Nullable(Int32)), ll Array(Array(String)), st Tuple(Nullable(Int32), Nullable(String)),
        ls Array(Tuple(Nullable(Int32), Array(String)))
        """

    /// The same rows as the server's own `INSERT ... FORMAT Parquet` of the file into a twin table (26.9), compared
    /// column by column; on 18.16, compared with 26.9's import of the same file.
    @Test(arguments: ["18.16", "26.9"])
    func everyTypeMatchesTheServersOwnParquetImport(server: String) async throws {
        let modern = try Servers.client("26.9")
        let client = try Servers.client(server)
        let database = "sluice_test_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        defer {
            Task {
                try? await client.execute("DROP DATABASE IF EXISTS \(database)")
                try? await modern.execute("DROP DATABASE IF EXISTS \(database)")
                try? await client.shutdown()
                try? await modern.shutdown()
            }
        }
        try await client.execute("CREATE DATABASE IF NOT EXISTS \(database)")
        try await modern.execute("CREATE DATABASE IF NOT EXISTS \(database)")
        let columns = server == "18.16" ? Self.oldTable : Self.modernTable
        try await client.execute(
            "CREATE TABLE \(database).t (\(columns), ds Date, _source_key String) ENGINE = MergeTree PARTITION BY ds ORDER BY id",
            settings: server == "18.16" ? ["allow_experimental_low_cardinality_type": "1"] : [:])
        try await modern.execute("""
            CREATE TABLE \(database).twin (\(Self.modernTable), ds Date DEFAULT '2025-09-10', _source_key String DEFAULT 'bucket/a.parquet')
            ENGINE = MergeTree ORDER BY id
            """)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path("types.parquet"))))
        try await modern.insert("INSERT INTO \(database).twin FORMAT Parquet") { writer in try await writer.write(bytes) }

        let plan = try await load(
            path: Fixtures.path("types.parquet"), into: TableName(database: database, table: "t"), client: client,
            options: MappingOptions(partitionValues: ["ds": "2025-09-10"], lineage: ["_source_key": "bucket/a.parquet"]))
        #expect(plan.unusedFileColumns.contains("unused"))

        let schema = try await client.tableSchema(TableName(database: database, table: "t"))
        let names = schema.columns.map(\.name)
        let ours = try await client.query("SELECT \(names.map { "`\($0)`" }.joined(separator: ", ")) FROM \(database).t ORDER BY id")
        // 18.16 stores Array(Tuple(...)) as Nested columns `ls.1`, `ls.2`, and has no Bool.
        let expressions = names.map { name -> String in
            if server == "18.16", name == "bo" { return "toUInt8(bo)" }
            if let dot = name.firstIndex(of: "."), let position = Int(name[name.index(after: dot)...]) {
                return "arrayMap(item -> tupleElement(item, \(position)), \(name[..<dot]))"
            }
            return name
        }
        let theirs = try await modern.query("SELECT \(expressions.joined(separator: ", ")) FROM \(database).twin ORDER BY id")
        #expect(ours.count == 7)
        #expect(theirs.count == 7)
        for (index, name) in names.enumerated() {
            let mine = ours.map { $0.count > index ? $0[index] : "<missing>" }
            let server26 = theirs.map { $0.count > index ? $0[index] : "<missing>" }
            #expect(mine == server26, "\(server) column \(name)")
        }
    }

    @Test(arguments: ["18.16", "26.9"])
    func dictionaryEncodedLowCardinalityReadsBack(server: String) async throws {
        try await Servers.withDatabase(server) { client, database in
        try await client.execute(
            "CREATE TABLE \(database).t (id Int64, c LowCardinality(Nullable(String)), u LowCardinality(String)) ENGINE = MergeTree ORDER BY id",
            settings: server == "18.16" ? ["allow_experimental_low_cardinality_type": "1"] : [:])
        _ = try await load(path: Fixtures.path("lowcardinality.parquet"), into: TableName(database: database, table: "t"), client: client,
                           options: .init(), blockRows: 100, minimumBlocks: 2)
        let rows = try await client.query("SELECT count(), countIf(c IS NULL), countIf(isNotNull(c) AND assumeNotNull(c) = 'red'), uniqExact(u), min(u) FROM \(database).t")
        #expect(rows == [["200", "50", "50", "200", "value 0"]])
        }
    }

    @Test(arguments: ["18.16", "26.9"])
    func aMismatchedFileIsOneSchemaErrorNamingEveryColumnAndInsertsNothing(server: String) async throws {
        try await Servers.withDatabase(server) { client, database in
        try await client.execute("""
            CREATE TABLE \(database).t (id Int32, name String, price Float32, tags String, amount Decimal(10, 2), region String,
            note String DEFAULT 'n', total UInt64 MATERIALIZED 1) ENGINE = MergeTree ORDER BY id
            """)
        do {
            _ = try await load(path: Fixtures.path("mismatch.parquet"), into: TableName(database: database, table: "t"), client: client, options: .init())
            Issue.record("the file does not fit")
        } catch let error as SchemaMismatchError {
            #expect(error.code == "E003")
            #expect(error.mismatches.map(\.column) == ["id", "price", "tags", "amount", "region"], "\(error)")
            #expect(error.description.contains("region (Parquet - -> ClickHouse String): the file has no such column"))
        }
        let rows = try await client.query("SELECT count() FROM \(database).t")
        #expect(rows == [["0"]])
        }
    }
}
