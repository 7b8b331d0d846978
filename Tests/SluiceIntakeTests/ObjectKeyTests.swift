import SluiceCore
import SluiceIntake
import Testing

@Suite("Object key parsing")
struct ObjectKeyTests {
    @Test func seedExample() throws {
        let k = try ParsedKey.parse("market/prices/ds=2025-09-10/part-001.parquet")
        #expect(k.domain == "market")
        #expect(k.table == "prices")
        #expect(k.partitions == [.init(name: "ds", value: "2025-09-10")])
        #expect(k.partitionPath == "ds=2025-09-10")
        #expect(k.fileName == "part-001.parquet")
    }

    @Test func multiLevelPartitionsAreDecoded() throws {
        let k = try ParsedKey.parse("analytics/events/ds=2025-09-10/hour=07/region=eu%2Fwest%20a/part-7.parquet")
        #expect(k.partitions.map(\.name) == ["ds", "hour", "region"])
        #expect(k.partitions[2].value == "eu/west a")
        #expect(k.partitionPath == "ds=2025-09-10/hour=07/region=eu%2Fwest a")
    }

    @Test func noPartitions() throws {
        let k = try ParsedKey.parse("product/catalog/part-0.parquet")
        #expect(k.table == "catalog")
        #expect(k.partitions.isEmpty)
        #expect(k.partitionPath == "")
    }

    @Test func customPrefix() throws {
        let k = try ParsedKey.parse("curated/v2/market/prices/ds=1/a.parquet", domain: "market", prefix: "curated/v2/market/")
        #expect(k.domain == "market")
        #expect(k.table == "prices")
    }

    @Test(arguments: [
        ("market/part.parquet", "does not have the layout"),
        ("market/pri-ces/ds=1/a.parquet", "is not a valid table name"),
        ("market/prices/2025/a.parquet", "is not a k=v partition"),
        ("market/prices//a.parquet", "empty segment"),
        ("market/prices/=x/a.parquet", "is not a k=v partition"),
        ("market/prices/ds=1/ds=2/a.parquet", "appears twice"),
        ("market/prices/d-s=1/a.parquet", "is not a valid column name"),
        ("market/1prices/a.parquet", "is not a valid table name"),
    ])
    func badLayoutsAreE001(key: String, fragment: String) {
        do {
            _ = try ParsedKey.parse(key, field: "detail.object.key")
            Issue.record("\(key) was accepted")
        } catch {
            #expect(error.code == .invalidEvent)
            #expect(error.field == "detail.object.key")
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test func formDecoding() {
        #expect(FormDecoding.decode("market/prices/ds%3D2025-09-10/my+file.parquet") == "market/prices/ds=2025-09-10/my file.parquet")
        #expect(FormDecoding.decode("a%2Bb") == "a+b")
        #expect(FormDecoding.decode("%E6%97%A5%E6%9C%AC") == "日本")
        #expect(FormDecoding.decode("bad%2") == nil)
        #expect(FormDecoding.decode("bad%zz") == nil)
        #expect(FormDecoding.decode("%FF%FE") == nil)
    }

    @Test func hiveEscapingRoundTrips() {
        for value in ["2025-09-10", "a/b", "x=y", "50%", "日本 語", "a:b"] {
            #expect(HiveEscaping.unescape(HiveEscaping.escape(value)) == value)
        }
        #expect(HiveEscaping.escape("a/b:c") == "a%2Fb%3Ac")
        #expect(HiveEscaping.unescape("100%") == "100%")
    }

    @Test func identifiers() {
        #expect(Identifier.isValid("prices_v2"))
        #expect(Identifier.isValid("_x"))
        #expect(!Identifier.isValid("2x"))
        #expect(!Identifier.isValid("a.b"))
        #expect(!Identifier.isValid("a`b"))
        #expect(!Identifier.isValid(""))
        #expect(!Identifier.isValid(String(repeating: "a", count: 129)))
    }

    @Test func tableTargets() {
        let market = DomainConfiguration.seedDefaults[0]
        #expect(market.target(tableName: "prices") == TableReference(database: "market", table: "prices"))
        var custom = market
        custom.tablePattern = "warehouse.{domain}_{table_name}"
        #expect(custom.target(tableName: "prices") == TableReference(database: "warehouse", table: "market_prices"))
    }
}

@Suite("Object keys with combining marks")
struct CombiningMarkKeyTests {
    /// "=" or "/" followed by a combining mark is one grapheme cluster, but S3 and the pattern see the scalars.
    @Test func separatorsAreFoundByScalar() throws {
        let k = try ParsedKey.parse("market/prices/ds=\u{301}2025/part.parquet")
        #expect(k.partitions == [.init(name: "ds", value: "\u{301}2025")])
        let slash = try ParsedKey.parse("market/prices/\u{301}x.parquet")
        #expect(slash.fileName == "\u{301}x.parquet")
        let intake = IntakeConfiguration(bucket: "b-1")
        #expect(intake.domain(forKey: "market/\u{301}prices/a.parquet")?.name == "market")
    }
}
