import ClickHouse
import ClickHouseNative
import NIOCore
import Testing

/// Every type of ClickHouseNative inserted with `FORMAT Native` into a real MergeTree table on both servers and read
/// back value by value.
@Suite("Native blocks through the real servers", .enabled(if: LiveServers.enabled, LiveServers.reason))
struct NativeRoundTripTests {
    struct Column {
        var name: String
        var type: String
        var data: NativeColumnData
        /// The TabSeparated text of each row as 18.16 and 26.9 print it.
        var expected18: [String]
        var expected26: [String]
        var modern = false

        init(_ name: String, _ type: String, _ data: NativeColumnData, _ expected: [String], new: [String]? = nil, modern: Bool = false) {
            self.name = name
            self.type = type
            self.data = data
            self.expected18 = expected
            self.expected26 = new ?? expected
            self.modern = modern
        }
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    static func fixed(width: Int, _ raw: [UInt8]) -> NativeColumnData {
        .fixed(try! FixedWidthBuffer(width: width, bytes: raw))
    }

    static var columns: [Column] {
        let uuid: [UInt8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
        let storedUUID = Array(uuid[0..<8].reversed()) + Array(uuid[8..<16].reversed())
        var strings2D = StringBuffer()
        strings2D.append("a")
        var nullableStrings = StringBuffer()
        nullableStrings.append("x")
        nullableStrings.appendEmpty()
        return [
            Column("id", "UInt32", .fixed(FixedWidthBuffer([1, 2] as [UInt32])), ["1", "2"]),
            Column("i8", "Int8", .fixed(FixedWidthBuffer([-128, 127] as [Int8])), ["-128", "127"]),
            Column("i16", "Int16", .fixed(FixedWidthBuffer([-32768, 32767] as [Int16])), ["-32768", "32767"]),
            Column("i32", "Int32", .fixed(FixedWidthBuffer([Int32.min, Int32.max])), ["-2147483648", "2147483647"]),
            Column("i64", "Int64", .fixed(FixedWidthBuffer([Int64.min, Int64.max])), ["-9223372036854775808", "9223372036854775807"]),
            Column("u8", "UInt8", .fixed(FixedWidthBuffer([255, 0] as [UInt8])), ["255", "0"]),
            Column("u16", "UInt16", .fixed(FixedWidthBuffer([65535, 0] as [UInt16])), ["65535", "0"]),
            Column("u64", "UInt64", .fixed(FixedWidthBuffer([UInt64.max, 0])), ["18446744073709551615", "0"]),
            Column("f32", "Float32", .fixed(FixedWidthBuffer(float32: [1.5, -0.25])), ["1.5", "-0.25"]),
            Column("f64", "Float64", .fixed(FixedWidthBuffer(float64: [-2.25, 3.5])), ["-2.25", "3.5"]),
            Column("s", "String", .strings(StringBuffer(["tab\there", "ü"])), ["tab\there", "ü"]),
            Column("fs", "FixedString(3)", .strings(StringBuffer(["ab", "xyz"])), ["ab\0", "xyz"]),
            Column("d", "Date", .fixed(FixedWidthBuffer([20341, 0] as [UInt16])), ["2025-09-10", "0000-00-00"], new: ["2025-09-10", "1970-01-01"]),
            Column("dt", "DateTime('UTC')", .fixed(FixedWidthBuffer([1_757_507_696, 0] as [UInt32])), ["2025-09-10 12:34:56", "0000-00-00 00:00:00"],
                new: ["2025-09-10 12:34:56", "1970-01-01 00:00:00"]),
            Column("dec9", "Decimal(9, 2)", .fixed(FixedWidthBuffer([-450, 1] as [Int32])), ["-4.50", "0.01"], new: ["-4.5", "0.01"]),
            Column("dec18", "Decimal(18, 4)", .fixed(FixedWidthBuffer([1_234_567, 0] as [Int64])), ["123.4567", "0.0000"], new: ["123.4567", "0"]),
            Column(
                "dec38", "Decimal(38, 10)", fixed(width: 16, bytes(Int128("-123456789012345678901234567891")!) + bytes(Int128(1))),
                ["-12345678901234567890.1234567891", "0.0000000001"]),
            Column("u", "UUID", fixed(width: 16, storedUUID + Array(repeating: 0, count: 16)), ["01234567-89ab-cdef-0123-456789abcdef", "00000000-0000-0000-0000-000000000000"]),
            Column("e8", "Enum8('a' = 1, 'b' = -2)", .fixed(FixedWidthBuffer([-2, 1] as [Int8])), ["b", "a"]),
            Column("e16", "Enum16('x' = 1000, 'y' = -1000)", .fixed(FixedWidthBuffer([1000, -1000] as [Int16])), ["x", "y"]),
            Column("ns", "Nullable(String)", .nullable(nullMap: [1, 0], values: .strings(StringBuffer(["", ""]))), ["\\N", ""]),
            Column("ni", "Nullable(Int32)", .fixed(FixedWidthBuffer([5, 6] as [Int32])), ["5", "6"]),
            Column("ai", "Array(Int32)", .array(offsets: [2, 2], elements: .fixed(FixedWidthBuffer([1, 2] as [Int32]))), ["[1,2]", "[]"]),
            Column(
                "aas", "Array(Array(String))", .array(offsets: [2, 2], elements: .array(offsets: [1, 1], elements: .strings(strings2D))),
                ["[['a'],[]]", "[]"]),
            Column(
                "ans", "Array(Nullable(String))", .array(offsets: [2, 2], elements: .nullable(nullMap: [0, 1], values: .strings(nullableStrings))),
                ["['x',NULL]", "[]"]),
            Column("t", "Tuple(Int32, String)", .tuple([.fixed(FixedWidthBuffer([1, -1] as [Int32])), .strings(StringBuffer(["x", ""]))]), ["(1,'x')", "(-1,'')"]),
            Column(
                "lc", "LowCardinality(String)",
                .lowCardinality(dictionary: .strings(StringBuffer(["blue", "red"])), indexes: FixedWidthBuffer([1, 0] as [UInt8])), ["red", "blue"]),
            Column("lcn", "LowCardinality(Nullable(String))", .nullable(nullMap: [0, 1], values: .strings(StringBuffer(["p", ""]))), ["p", "\\N"]),
            Column(
                "lcn2", "LowCardinality(Nullable(String))",
                .lowCardinality(dictionary: .strings(StringBuffer(["", "q"])), indexes: FixedWidthBuffer([0, 1] as [UInt16])), ["\\N", "q"]),
            Column(
                "alc", "Array(LowCardinality(String))",
                .array(offsets: [2, 2], elements: .lowCardinality(dictionary: .strings(StringBuffer(["a", "b"])), indexes: FixedWidthBuffer([0, 1] as [UInt8]))),
                ["['a','b']", "[]"]),
            // 26.9 only
            Column(
                "m", "Map(String, Int32)", .map(offsets: [2, 2], keys: .strings(StringBuffer(["a", "b"])), values: .fixed(FixedWidthBuffer([1, 2] as [Int32]))),
                [], new: ["{'a':1,'b':2}", "{}"], modern: true),
            Column("dt64", "DateTime64(3, 'UTC')", .fixed(FixedWidthBuffer([1_757_507_696_789, 0] as [Int64])), [], new: ["2025-09-10 12:34:56.789", "1970-01-01 00:00:00.000"], modern: true),
            Column("b", "Bool", .fixed(FixedWidthBuffer([1, 0] as [UInt8])), [], new: ["true", "false"], modern: true),
            Column("ip4", "IPv4", .fixed(FixedWidthBuffer([0x0A01_0203, 0] as [UInt32])), [], new: ["10.1.2.3", "0.0.0.0"], modern: true),
            Column(
                "ip6", "IPv6", fixed(width: 16, [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1] + Array(repeating: 0, count: 16)),
                [], new: ["2001:db8::1", "::"], modern: true),
            Column("d32", "Date32", .fixed(FixedWidthBuffer([-25_566, 0] as [Int32])), [], new: ["1900-01-02", "1970-01-01"], modern: true),
            Column(
                "i128", "Int128", fixed(width: 16, bytes(Int128.min) + bytes(Int128(1))), [],
                new: ["-170141183460469231731687303715884105728", "1"], modern: true),
            Column(
                "u256", "UInt256", fixed(width: 32, bytes(UInt128("12345678901234567890123456789")!) + bytes(UInt128(0)) + Array(repeating: 0, count: 32)),
                [], new: ["12345678901234567890123456789", "0"], modern: true),
            Column(
                "dec76", "Decimal(76, 10)", fixed(width: 32, bytes(Int128(-15_000_000_000)) + bytes(Int128(-1)) + Array(repeating: 0, count: 32)),
                [], new: ["-1.5", "0"], modern: true),
            Column(
                "nt", "Tuple(a Int64, b Array(String))",
                .tuple([.fixed(FixedWidthBuffer([0, 1] as [Int64])), .array(offsets: [1, 1], elements: .strings(StringBuffer(["0"])))]),
                [], new: ["(0,['0'])", "(1,[])"], modern: true),
            Column(
                "mlc", "Map(String, LowCardinality(String))",
                .map(offsets: [1, 1], keys: .strings(StringBuffer(["k"])), values: .strings(StringBuffer(["v"]))),
                [], new: ["{'k':'v'}", "{}"], modern: true),
            Column("sa", "SimpleAggregateFunction(max, UInt64)", .fixed(FixedWidthBuffer([7, 0] as [UInt64])), [], new: ["7", "0"], modern: true),
        ]
    }

    @Test(arguments: LiveServers.names)
    func everyTypeComesBackValueByValue(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            let modern = server != "18.16"
            let columns = Self.columns.filter { modern || !$0.modern }
            let definitions = columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
            try await client.execute(
                "CREATE TABLE \(database).t (\(definitions)) ENGINE = MergeTree ORDER BY id",
                settings: modern ? [:] : ["allow_experimental_low_cardinality_type": "1"])
            let schema = try await client.tableSchema(TableName(database: database, table: "t"))
            var nativeColumns: [NativeColumn] = []
            for column in columns {
                // The header declares the table's own type text, parsed and printed back.
                let declared = try #require(schema.column(named: column.name))
                let type = try declared.type.get()
                #expect(type.description == declared.typeName, "canonical text of \(declared.typeName)")
                nativeColumns.append(NativeColumn(name: column.name, type: type, data: column.data))
            }
            var writer = NativeBlockWriter()
            try writer.writeBlock(nativeColumns)
            let body = writer.bytes
            try await client.insert("INSERT INTO \(database).t FORMAT Native") { bodyWriter in
                // Two pieces, split mid-block, to show that the server reassembles a streamed body.
                try await bodyWriter.write(Array(body[..<(body.count / 2)]))
                try await bodyWriter.write(Array(body[(body.count / 2)...]))
            }
            let names = columns.map(\.name).joined(separator: ", ")
            let rows = try await client.query("SELECT \(names) FROM \(database).t ORDER BY id")
            #expect(rows.count == 2)
            for (index, column) in columns.enumerated() {
                let expected = modern ? column.expected26 : column.expected18
                let actual = rows.map { $0.count > index ? $0[index] : "<missing>" }
                #expect(actual == expected, "\(server) column \(column.name) \(column.type)")
            }
        }
    }

    @Test(arguments: LiveServers.names)
    func manyBlocksInOneStreamedBody(server: String) async throws {
        try await LiveServers.withDatabase(server) { client, database in
            try await client.execute("CREATE TABLE \(database).t (id UInt64, s String) ENGINE = MergeTree ORDER BY id")
            let blocks = 40
            let rowsPerBlock = 5000
            let result = try await client.insert("INSERT INTO \(database).t FORMAT Native", queryID: "stream-\(database)") { bodyWriter in
                var writer = NativeBlockWriter(capacity: 1 << 20)
                for block in 0..<blocks {
                    writer.removeAll()
                    let ids = (0..<rowsPerBlock).map { UInt64(block * rowsPerBlock + $0) }
                    try writer.writeBlock([
                        NativeColumn(name: "id", type: .uint64, data: .fixed(FixedWidthBuffer(ids))),
                        NativeColumn(name: "s", type: .string, data: .strings(StringBuffer(ids.map { "row \($0)" }))),
                    ])
                    try await bodyWriter.write(writer.bytes)
                }
            }
            if server != "18.16" { #expect(result.writtenRows == blocks * rowsPerBlock) }
            let rows = try await client.query("SELECT count(), sum(id), countIf(s = concat('row ', toString(id))) FROM \(database).t")
            let total = blocks * rowsPerBlock
            #expect(rows == [["\(total)", "\(total * (total - 1) / 2)", "\(total)"]])
        }
    }
}
