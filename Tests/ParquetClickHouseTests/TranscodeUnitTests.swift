import ClickHouseNative
import Parquet
import ParquetClickHouse
import Testing

/// The plan and the conversions on fixture files, without a server.
@Suite("Parquet to Native mapping")
struct TranscodeUnitTests {
    static func columns(_ path: String, _ table: [(String, String)], options: MappingOptions = .init()) async throws -> [NativeColumn] {
        let file = try await ParquetFile.open(path: Fixtures.path(path))
        let plan = try TranscodePlan(parquet: file.schema, table: table.map { TargetColumn(name: $0.0, typeName: $0.1) }, options: options)
        var result: [NativeColumn] = []
        try await ParquetNativeTranscoder(plan: plan).transcode(file: file, blockRows: 1 << 20) { block in
            if result.isEmpty { result = block }  // the first row group
        }
        return result
    }

    static func plan(_ path: String, _ table: [TargetColumn], options: MappingOptions = .init()) async throws -> TranscodePlan {
        let file = try await ParquetFile.open(path: Fixtures.path(path))
        return try TranscodePlan(parquet: file.schema, table: table, options: options)
    }

    static func valueError(_ table: [(String, String)]) async throws -> TranscodeValueError? {
        do {
            _ = try await columns("values.parquet", table)
            return nil
        } catch let error as TranscodeValueError {
            return error
        }
    }

    @Test func listsMapsAndStructsBecomeArraysMapsAndTuples() async throws {
        let columns = try await Self.columns("types.parquet", [
            ("id", "Int64"), ("l", "Array(Nullable(Int32))"), ("m", "Map(String, Nullable(Int64))"),
            ("st", "Tuple(a Nullable(Int32), b Nullable(String))"),
        ])
        #expect(columns.map(\.name) == ["id", "l", "m", "st"])
        // The first row group: l = [1, NULL, 3], NULL, [], [4]  (a NULL list becomes an empty array)
        let expectedList = NativeColumnData.array(
            offsets: [3, 3, 3, 4], elements: .nullable(nullMap: [0, 1, 0, 0], values: .fixed(FixedWidthBuffer([1, 0, 3, 4] as [Int32]))))
        #expect(columns[1].data == expectedList)
        // m = {k: 1, n: NULL}, {}, NULL -> {}, {k: 1, n: NULL}
        guard case .map(let offsets, let keys, let values) = columns[2].data else {
            Issue.record("map data expected")
            return
        }
        #expect(offsets == [2, 2, 2, 4])
        #expect(keys == .strings(StringBuffer(["k", "n", "k", "n"])))
        #expect(values == .nullable(nullMap: [0, 1, 0, 1], values: .fixed(FixedWidthBuffer([1, 0, 1, 0] as [Int64]))))
        // st = (1, 'x'), NULL -> (NULL, NULL), (NULL, 'z'), (1, 'x')
        guard case .tuple(let members) = columns[3].data, members.count == 2 else {
            Issue.record("tuple data expected")
            return
        }
        #expect(members[0] == .nullable(nullMap: [0, 1, 1, 0], values: .fixed(FixedWidthBuffer([1, 0, 0, 1] as [Int32]))))
    }

    @Test func flattenedNestedColumnsTakeOneFieldOfTheListOfStructs() async throws {
        // ls = [{x: 1, y: [p]}, {x: NULL, y: []}], NULL, [{x: 2, y: NULL}], ...  as `ls.x`, `ls.y` (and by position `ls.2`)
        let columns = try await Self.columns("types.parquet", [("ls.x", "Array(Nullable(Int32))"), ("ls.2", "Array(Array(String))")])
        #expect(columns[0].data == .array(
            offsets: [2, 2, 3, 5], elements: .nullable(nullMap: [0, 1, 0, 0, 1], values: .fixed(FixedWidthBuffer([1, 0, 2, 1, 0] as [Int32])))))
        #expect(columns[1].data == .array(offsets: [2, 2, 3, 5], elements: .array(offsets: [1, 1, 1, 2, 2], elements: .strings(StringBuffer(["p", "p"])))))
    }

    @Test func fewDistinctStringsAreSentAsADictionary() async throws {
        let columns = try await Self.columns("lowcardinality.parquet", [
            ("c", "LowCardinality(Nullable(String))"), ("u", "LowCardinality(String)"), ("id", "Int64"),
        ])
        // Index 0 is the NULL placeholder; then the values in order of appearance.
        let indexes = (0..<200).map { UInt8([1, 2, 3, 0][$0 % 4]) }
        #expect(columns[0].data == .lowCardinality(dictionary: .strings(StringBuffer(["", "red", "green", "blue"])), indexes: FixedWidthBuffer(indexes)))
        #expect(columns[1].data == .strings(StringBuffer((0..<200).map { "value \($0)" })), "all distinct: plain")
        await #expect(throws: TranscodeValueError.self) { _ = try await Self.columns("lowcardinality.parquet", [("c", "LowCardinality(String)")]) }
    }

    @Test func partitionAndLineageValuesFillEveryRow() async throws {
        let columns = try await Self.columns(
            "values.parquet", [("i64", "Int64"), ("ds", "Date"), ("_source_key", "LowCardinality(String)"), ("_loaded_at", "DateTime64(3)")],
            options: MappingOptions(partitionValues: ["ds": "2025-09-10"], lineage: ["_source_key": "b/k.parquet", "_loaded_at": "2025-09-10 01:02:03"]))
        #expect(columns[1].data == .fixed(FixedWidthBuffer([20341, 20341, 20341] as [UInt16])))
        #expect(columns[2].data == .strings(StringBuffer(["b/k.parquet", "b/k.parquet", "b/k.parquet"])))
        #expect(columns[3].data == .fixed(FixedWidthBuffer(Array(repeating: Int64(1_757_466_123_000), count: 3))))
    }

    @Test func widenedAndConvertedValues() async throws {
        let columns = try await Self.columns("values.parquet", [
            ("u8", "Int16"), ("i64", "Decimal(22, 2)"), ("far_date", "Date32"), ("ts_frac", "DateTime64(6)"), ("e", "String"),
        ])
        #expect(columns[0].data == .fixed(FixedWidthBuffer([1, 2, 3] as [Int16])))
        var decimals = FixedWidthBuffer(width: 16)
        for value: Int128 in [100, 200, 300] { decimals.append(value) }
        #expect(columns[1].data == .fixed(decimals))
        #expect(columns[2].data == .fixed(FixedWidthBuffer([20089, 84006, -7305] as [Int32])))
        #expect(columns[3].data == .fixed(FixedWidthBuffer([0, 1_500_000, 2_000_000] as [Int64])))
    }

    @Test func nullStructsGiveDefaultsToRequiredFields() async throws {
        let columns = try await Self.columns("values.parquet", [("st", "Tuple(a Int32)")])
        #expect(columns[0].data == .tuple([.fixed(FixedWidthBuffer([1, 0, 3] as [Int32]))]))
    }

    @Test(arguments: [
        ("n", "Int32", "NULL in a column of the non-Nullable type Int32"),
        ("far_date", "Date", "date 84006 days from 1970-01-01 is outside the Date range 1970-01-01...2149-06-06"),
        ("ts_frac", "DateTime", "timestamp has a fraction of a second, which DateTime cannot hold"),
        ("ts_frac", "DateTime64(0)", "timestamp has more precision than DateTime64(0) holds"),
        ("long_s", "FixedString(3)", "a value of 6 bytes does not fit FixedString(3)"),
        ("e", "Enum8('a' = 1, 'b' = 2)", "\"z\" is not a value of the enum"),
    ] as [(String, String, String)])
    func valuesThatDoNotFitAreErrorsWithTheRow(_ column: String, _ type: String, _ reason: String) async throws {
        let error = try #require(try await Self.valueError([(column, type)]))
        #expect(error.column == column)
        #expect(error.reason == "\(column): \(reason)")
        #expect(error.code == "E003")
        #expect(error.row != nil)
    }

    @Test func everyMismatchIsListedOnce() async throws {
        do {
            _ = try await Self.plan("types.parquet", [
                TargetColumn(name: "id", typeName: "Int32"),  // int64 does not narrow
                TargetColumn(name: "f64", typeName: "Float32"),  // nor does double
                TargetColumn(name: "dec", typeName: "Decimal(10, 1)"),  // scale would shrink
                TargetColumn(name: "l", typeName: "Array(String)"),  // int32 items
                TargetColumn(name: "m", typeName: "Array(String)"),  // a map
                TargetColumn(name: "st", typeName: "Tuple(a Int32, c String)"),  // no field c
                TargetColumn(name: "agg", typeName: "AggregateFunction(sum, UInt64)"),  // not writable
                TargetColumn(name: "missing", typeName: "String"),  // not in the file
                TargetColumn(name: "fine", typeName: "String", fill: .hasDefault),  // the server fills it
                TargetColumn(name: "maybe", typeName: "Nullable(String)"),  // NULL
                TargetColumn(name: "u64", typeName: "UInt64"),  // fits
            ])
            Issue.record("mismatches expected")
        } catch let error as SchemaMismatchError {
            #expect(error.mismatches.map(\.column) == ["id", "f64", "dec", "l", "m", "st", "agg", "missing"])
            #expect(error.mismatches[0].parquetType == "INT64 (optional)")
            #expect(error.mismatches[0].reason == "INT64 (optional) does not fit Int32 for every value (only widening is lossless)")
            #expect(error.mismatches[3].reason == "element: INT32 (optional) does not fit String for every value (only widening is lossless)")
            #expect(error.mismatches[5].reason == "the struct has no field c")
            #expect(error.description.hasPrefix("E003 schema mismatch in 8 columns: "))
        }
    }

    @Test func caseInsensitiveMatchingIsOptIn() async throws {
        let table = [TargetColumn(name: "ID", typeName: "Int64")]
        await #expect(throws: SchemaMismatchError.self) { _ = try await Self.plan("types.parquet", table) }
        let plan = try await Self.plan("types.parquet", table, options: MappingOptions(caseInsensitive: true))
        #expect(plan.columns.map(\.name) == ["ID"])
        #expect(plan.leafColumns == [0])
    }

    @Test func blocksRespectRowAndByteLimits() async throws {
        let file = try await ParquetFile.open(path: Fixtures.path("types.parquet"))
        let plan = try TranscodePlan(parquet: file.schema, table: [TargetColumn(name: "id", typeName: "Int64"), TargetColumn(name: "s", typeName: "Nullable(String)")])
        var sizes: [Int] = []
        try await ParquetNativeTranscoder(plan: plan).transcode(file: file, blockRows: 3) { sizes.append($0[0].data.count) }
        #expect(sizes == [3, 1, 3])  // row groups of 4 and 3 rows
        sizes = []
        try await ParquetNativeTranscoder(plan: plan).transcode(file: file, blockRows: 100, blockBytes: 20) { sizes.append($0[0].data.count) }
        #expect(sizes.allSatisfy { $0 <= 2 } && sizes.reduce(0, +) == 7, "\(sizes)")
    }
}
