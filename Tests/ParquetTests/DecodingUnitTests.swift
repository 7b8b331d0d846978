@testable import Parquet
import Testing

@Suite("Decoding building blocks")
struct DecodingUnitTests {
    func render(_ body: (inout [UInt8]) -> Void) -> String {
        var out: [UInt8] = []
        body(&out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test("doubles print like Python's repr", arguments: [
        (1.0, "1.0"), (0.1, "0.1"), (-0.0, "-0.0"), (1e-5, "1e-05"), (0.0001, "0.0001"), (1e16, "1e+16"),
        (1e15, "1000000000000000.0"), (123456789012345680.0, "1.2345678901234568e+17"), (1.5e300, "1.5e+300"),
        (5e-324, "5e-324"), (Double(Float(1.1)), "1.100000023841858"), (-2.5, "-2.5"), (100.0, "100.0"),
    ])
    func doubles(_ value: Double, _ text: String) {
        #expect(render { Formatting.appendDouble(value, to: &$0) } == text)
    }

    @Test("non-finite doubles print as strings")
    func nonFinite() {
        #expect(render { Formatting.appendDouble(.nan, to: &$0) } == "\"NaN\"")
        #expect(render { Formatting.appendDouble(.infinity, to: &$0) } == "\"Infinity\"")
        #expect(render { Formatting.appendDouble(-.infinity, to: &$0) } == "\"-Infinity\"")
    }

    @Test("decimals keep exactly scale digits")
    func decimals() {
        #expect(render { Formatting.appendDecimal(100, scale: 2, to: &$0) } == "\"1.00\"")
        #expect(render { Formatting.appendDecimal(-12345, scale: 3, to: &$0) } == "\"-12.345\"")
        #expect(render { Formatting.appendDecimal(-5, scale: 3, to: &$0) } == "\"-0.005\"")
        #expect(render { Formatting.appendDecimal(42, scale: 0, to: &$0) } == "\"42\"")
        #expect(render { Formatting.appendDecimal(.min, scale: 0, to: &$0) } == "\"-9223372036854775808\"")
        let minus1: [UInt8] = [0xFF, 0xFF]
        #expect(render { out in minus1.withUnsafeBytes { Formatting.appendDecimal(bigEndian: $0, scale: 1, to: &out) } } == "\"-0.1\"")
        // 2^64 as 9 big-endian bytes.
        let big: [UInt8] = [0x01, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(render { out in big.withUnsafeBytes { Formatting.appendDecimal(bigEndian: $0, scale: 4, to: &out) } }
                == "\"1844674407370955.1616\"")
    }

    @Test("timestamps, dates and times")
    func temporal() {
        #expect(render { Formatting.appendTimestamp(0, unit: .millis, to: &$0) } == "\"1970-01-01T00:00:00.000Z\"")
        #expect(render { Formatting.appendTimestamp(-1, unit: .micros, to: &$0) } == "\"1969-12-31T23:59:59.999999Z\"")
        #expect(render { Formatting.appendTimestamp(.max, unit: .nanos, to: &$0) } == "\"2262-04-11T23:47:16.854775807Z\"")
        #expect(render { Formatting.appendTimestamp(9_089_380_393_200_000_000, unit: .micros, to: &$0) }
                == "\"+290000-12-30T23:00:00.000000Z\"")
        #expect(render { Formatting.appendDate(days: -719_528, to: &$0) } == "0000-01-01")
        #expect(render { Formatting.appendDate(days: -719_529, to: &$0) } == "-000001-12-31")
        #expect(render { Formatting.appendTimeOfDay(3_723_004, perSecond: 1000, digits: 3, to: &$0) } == "01:02:03.004")
        let int96 = ParquetInt96(nanosOfDay: 1_000, julianDay: 2_440_588)
        #expect(int96.epochDayAndNanos == (0, 1_000))
        let wild = ParquetInt96(nanosOfDay: .min, julianDay: .min)
        _ = wild.epochDayAndNanos  // must not trap
    }

    @Test("base64 and JSON strings")
    func text() {
        for (input, output) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg==")] {
            #expect(render { out in Array(input.utf8).withUnsafeBytes { Formatting.appendBase64($0, to: &out) } } == output)
        }
        let raw: [UInt8] = Array("a\"b\\c\n".utf8) + [0x01]
        #expect(render { out in raw.withUnsafeBytes { Formatting.appendJSONString($0, to: &out) } } == #""a\"b\\c\n\u0001""#)
    }

    @Test("RLE / bit-packed hybrid decoding")
    func rleHybrid() throws {
        // Run of 5 x value 3 (width 2), then one bit-packed group of 8 values 0...7 (width 3).
        let data: [UInt8] = [5 << 1, 3, (1 << 1) | 1, 0b10001000, 0b11000110, 0b11111010]
        var out = [UInt32](repeating: 99, count: 13)
        try data.withUnsafeBytes { raw in
            var decoder = try RLEHybridDecoder(UnsafeRawBufferPointer(rebasing: raw[0..<2]), bitWidth: 2)
            try out.withUnsafeMutableBufferPointer { try decoder.decode(into: $0.baseAddress!, count: 5) }
            var packed = try RLEHybridDecoder(UnsafeRawBufferPointer(rebasing: raw[2...]), bitWidth: 3)
            try out.withUnsafeMutableBufferPointer { try packed.decode(into: $0.baseAddress! + 5, count: 8) }
        }
        #expect(out == [3, 3, 3, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7])
        // Asking for more than the data holds is an error, not a hang.
        #expect(throws: ParquetError.self) {
            try data.withUnsafeBytes { raw in
                var decoder = try RLEHybridDecoder(UnsafeRawBufferPointer(rebasing: raw[0..<2]), bitWidth: 2)
                var sink = [UInt32](repeating: 0, count: 6)
                try sink.withUnsafeMutableBufferPointer { try decoder.decode(into: $0.baseAddress!, count: 6) }
            }
        }
        #expect(throws: ParquetError.self) { try [UInt8]().withUnsafeBytes { _ = try RLEHybridDecoder($0, bitWidth: 33) } }
    }

    @Test("DELTA_BINARY_PACKED decoding, including wrap-around")
    func deltaBinaryPacked() throws {
        // Block 128, 4 miniblocks, 5 values, first value 7; deltas 1, -2, 3, 0 -> min delta -2.
        var w = CompactWriter()
        w.varint(128)
        w.varint(4)
        w.varint(5)
        w.zigzag(7)
        w.zigzag(-2)
        w.bytes += [3, 0, 0, 0]  // widths
        // Adjusted deltas 3, 0, 5, 2 packed in 3 bits, miniblock of 32 values = 12 bytes.
        var bits: UInt64 = 3 | 0 << 3 | 5 << 6 | 2 << 9
        var body = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 {
            body[i] = UInt8(bits & 0xFF)
            bits >>= 8
        }
        w.bytes += body
        var values = [Int64](repeating: 0, count: 5)
        try w.bytes.withUnsafeBytes { raw in
            var decoder = try DeltaBinaryPackedDecoder(raw)
            try values.withUnsafeMutableBufferPointer { try decoder.decode(into: $0.baseAddress!, count: 5) }
        }
        #expect(values == [7, 8, 6, 9, 9])
        // Two values: Int64.max then a delta of +1 wraps instead of trapping.
        var wrap = CompactWriter()
        wrap.varint(128)
        wrap.varint(4)
        wrap.varint(2)
        wrap.zigzag(.max)
        wrap.zigzag(1)
        wrap.bytes += [0, 0, 0, 0]
        var wrapped = [Int64](repeating: 0, count: 2)
        try wrap.bytes.withUnsafeBytes { raw in
            var decoder = try DeltaBinaryPackedDecoder(raw)
            try wrapped.withUnsafeMutableBufferPointer { try decoder.decode(into: $0.baseAddress!, count: 2) }
        }
        #expect(wrapped == [.max, .min])
    }

    @Test("levels become validity and offsets")
    func nesting() async throws {
        // optional group a (LIST) { repeated group list { optional int32 element } }, rows:
        // [1, null], null, [], [2]
        let schemaElements: [SchemaElement] = [
            SchemaElement(name: "schema", numChildren: 1),
            SchemaElement(repetition: .optional, name: "a", numChildren: 1, convertedType: .list),
            SchemaElement(repetition: .repeated, name: "list", numChildren: 1),
            SchemaElement(type: .int32, repetition: .optional, name: "element"),
        ]
        let schema = try ParquetSchema(elements: schemaElements)
        let column = schema.columns[0]
        #expect(column.maxDefinitionLevel == 3)
        #expect(column.maxRepetitionLevel == 1)
        let values = ParquetValueBuffer(physicalType: .int32, width: 4, count: 2, bytes: littleEndian([1, 2]), offsets: [])
        let data = ParquetColumnData(column: column, rowGroup: 0, rowCount: 4, levelCount: 5, values: values,
                                     definitionLevels: [3, 2, 0, 1, 3], repetitionLevels: [0, 1, 0, 0, 0])
        let nesting = try data.nesting()
        #expect(nesting.slotCounts == [4, 3])
        #expect(nesting.validity[0] == [1, 0, 1, 1])
        #expect(nesting.offsets[1] == [0, 2, 2, 2, 3])
        #expect(nesting.validity[2] == [1, 0, 1])
        #expect(nesting.valueIndex == [0, -1, 1])
        // A continuation whose list is undefined is rejected.
        let broken = ParquetColumnData(column: column, rowGroup: 0, rowCount: 1, levelCount: 2, values: values,
                                       definitionLevels: [3, 0], repetitionLevels: [0, 1])
        #expect(throws: ParquetError.self) { _ = try broken.nesting() }
    }
}
