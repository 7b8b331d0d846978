import ClickHouseNative
import Testing

/// Builds the same columns as the golden queries and checks that the writer produces the servers' exact bytes.
@Suite("Native block writer against the servers' own bytes")
struct NativeGoldenTests {
    static func golden(_ name: String) throws -> NativeGolden.Case {
        try #require(NativeGolden.cases.first { $0.name == name })
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Encodes `columns` and compares with both servers' bytes.
    func check(_ name: String, _ columns: [NativeColumn]) throws {
        let expected = try Self.golden(name)
        var writer = NativeBlockWriter()
        try writer.writeBlock(columns)
        let actual = Self.hex(writer.bytes)
        #expect(actual == expected.ch26, "26.9 bytes differ for \(name)")
        if let old = expected.ch18 {
            #expect(actual == old, "18.16 bytes differ for \(name)")
        }
    }

    static func bytes<T: FixedWidthInteger>(of value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    static func column(_ name: String, _ type: String, _ data: NativeColumnData) throws -> NativeColumn {
        NativeColumn(name: name, type: try ClickHouseType(parsing: type), data: data)
    }

    @Test func uint8() throws {
        try check("uint8", [Self.column("x", "UInt8", .fixed(FixedWidthBuffer([1] as [UInt8])))])
    }

    @Test func integers() throws {
        try check("integers", [
            Self.column("a", "Int8", .fixed(FixedWidthBuffer([-1] as [Int8]))),
            Self.column("b", "Int16", .fixed(FixedWidthBuffer([-2] as [Int16]))),
            Self.column("c", "Int32", .fixed(FixedWidthBuffer([-3] as [Int32]))),
            Self.column("d", "Int64", .fixed(FixedWidthBuffer([-4] as [Int64]))),
            Self.column("e", "UInt16", .fixed(FixedWidthBuffer([65535] as [UInt16]))),
            Self.column("f", "UInt32", .fixed(FixedWidthBuffer([7] as [UInt32]))),
            Self.column("g", "UInt64", .fixed(FixedWidthBuffer([UInt64.max]))),
        ])
    }

    @Test func floats() throws {
        try check("floats", [
            Self.column("a", "Float32", .fixed(FixedWidthBuffer(float32: [1.5]))),
            Self.column("b", "Float64", .fixed(FixedWidthBuffer(float64: [-2.25]))),
        ])
    }

    @Test func stringsAndFixedStrings() throws {
        let values = ["", "ab", "xyz"]
        try check("strings", [
            Self.column("s", "String", .strings(StringBuffer(values))),
            Self.column("f", "FixedString(3)", .strings(StringBuffer(values))),
        ])
        // The same FixedString column from already padded bytes.
        let padded = try FixedWidthBuffer(width: 3, bytes: Array("\0\0\0ab\0xyz".utf8))
        try check("strings", [
            Self.column("s", "String", .strings(StringBuffer(values))),
            Self.column("f", "FixedString(3)", .fixed(padded)),
        ])
    }

    @Test func dates() throws {
        try check("dates", [
            Self.column("d", "Date", .fixed(FixedWidthBuffer([20341] as [UInt16]))),
            Self.column("t", "DateTime", .fixed(FixedWidthBuffer([1_757_507_696] as [UInt32]))),
        ])
    }

    @Test func decimals() throws {
        // -12345678901234567890.1234567891 scaled by 10^10 as a 128-bit two's complement integer.
        var wide = FixedWidthBuffer(width: 16)
        let value = Int128("-123456789012345678901234567891")!
        wide.append(value)
        try check("decimals", [
            Self.column("a", "Decimal(9, 2)", .fixed(FixedWidthBuffer([-450] as [Int32]))),
            Self.column("b", "Decimal(18, 4)", .fixed(FixedWidthBuffer([1_234_567] as [Int64]))),
            Self.column("c", "Decimal(38, 10)", .fixed(wide)),
        ])
    }

    @Test func uuidStoresEachHalfReversed() throws {
        let text: [UInt8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
        let stored = Array(text[0..<8].reversed()) + Array(text[8..<16].reversed())
        try check("uuid", [Self.column("u", "UUID", .fixed(try FixedWidthBuffer(width: 16, bytes: stored)))])
    }

    @Test func enums() throws {
        try check("enums", [
            Self.column("e8", "Enum8('a' = 1, 'b' = -2)", .fixed(FixedWidthBuffer([-2] as [Int8]))),
            Self.column("e16", "Enum16('x' = 1000, 'y' = -1000)", .fixed(FixedWidthBuffer([-1000] as [Int16]))),
        ])
    }

    @Test func nullables() throws {
        var strings = StringBuffer()
        strings.appendEmpty()
        strings.append("1")
        strings.append("2")
        try check("nullables", [
            Self.column("n", "Nullable(Int32)", .nullable(nullMap: [0, 1, 0], values: .fixed(FixedWidthBuffer([0, 1, 2] as [Int32])))),
            Self.column("s", "Nullable(String)", .nullable(nullMap: [1, 0, 0], values: .strings(strings))),
        ])
    }

    @Test func arrays() throws {
        let a = NativeColumnData.array(offsets: [2, 2, 3], elements: .fixed(FixedWidthBuffer([1, 2, 3] as [Int32])))
        let inner = NativeColumnData.array(offsets: [1, 1, 3, 4, 4], elements: .fixed(FixedWidthBuffer([1, 2, 3, 4] as [Int32])))
        let b = NativeColumnData.array(offsets: [3, 4, 5], elements: inner)
        var texts = StringBuffer()
        texts.append("x")
        texts.appendEmpty(2)
        let c = NativeColumnData.array(offsets: [2, 2, 3], elements: .nullable(nullMap: [0, 1, 1], values: .strings(texts)))
        try check("arrays", [
            Self.column("a", "Array(Int32)", a),
            Self.column("b", "Array(Array(Int32))", b),
            Self.column("c", "Array(Nullable(String))", c),
        ])
    }

    @Test func tuple() throws {
        let data = NativeColumnData.tuple([.fixed(FixedWidthBuffer([0, 1] as [Int32])), .strings(StringBuffer(["0", "1"]))])
        try check("tuple", [Self.column("t", "Tuple(Int32, String)", data)])
    }

    @Test func lowCardinalityWithServerDictionary() throws {
        // The servers' own dictionaries: a default value first, and for Nullable a NULL placeholder before it.
        let plain = NativeColumnData.lowCardinality(dictionary: .strings(StringBuffer(["", "0", "1"])), indexes: FixedWidthBuffer([1, 2, 1] as [UInt8]))
        let nullable = NativeColumnData.lowCardinality(dictionary: .strings(StringBuffer(["", "", "0", "2"])), indexes: FixedWidthBuffer([2, 0, 3] as [UInt8]))
        try check("lowcardinality", [
            Self.column("l", "LowCardinality(String)", plain),
            Self.column("n", "LowCardinality(Nullable(String))", nullable),
        ])
    }

    @Test func lowCardinalityInsideArrayWritesItsVersionBeforeTheOffsets() throws {
        let data = NativeColumnData.array(
            offsets: [2, 2, 3],
            elements: .lowCardinality(dictionary: .strings(StringBuffer(["", "a", "b"])), indexes: FixedWidthBuffer([1, 2, 2] as [UInt8])))
        try check("array_lowcardinality", [Self.column("a", "Array(LowCardinality(String))", data)])
    }

    @Test func modernScalars() throws {
        var i128 = FixedWidthBuffer(width: 16)
        i128.append(Int128.min)
        var u256 = FixedWidthBuffer(width: 32)
        try u256.append(littleEndianBytes: Self.bytes(of: UInt128("12345678901234567890123456789")!) + Self.bytes(of: UInt128(0)))
        var d256 = FixedWidthBuffer(width: 32)
        try d256.append(littleEndianBytes: Self.bytes(of: Int128(-15_000_000_000)) + Self.bytes(of: Int128(-1)))
        try check("modern_scalars", [
            Self.column("t", "DateTime64(3, 'UTC')", .fixed(FixedWidthBuffer([1_757_507_696_789] as [Int64]))),
            Self.column("b", "Bool", .fixed(FixedWidthBuffer([1] as [UInt8]))),
            Self.column("i4", "IPv4", .fixed(FixedWidthBuffer([0x0A01_0203] as [UInt32]))),
            Self.column("i6", "IPv6", .fixed(try FixedWidthBuffer(width: 16, bytes: [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [1]))),
            Self.column("d", "Date32", .fixed(FixedWidthBuffer([-25_566] as [Int32]))),
            Self.column("i", "Int128", .fixed(i128)),
            Self.column("u", "UInt256", .fixed(u256)),
            Self.column("w", "Decimal(76, 10)", .fixed(d256)),
        ])
    }

    @Test func map() throws {
        let data = NativeColumnData.map(
            offsets: [2, 2, 3], keys: .strings(StringBuffer(["a", "b", "c"])), values: .fixed(FixedWidthBuffer([1, 2, 3] as [Int32])))
        try check("map", [Self.column("m", "Map(String, Int32)", data)])
    }

    @Test func namedTupleAndMapOfLowCardinality() throws {
        let tuple = NativeColumnData.tuple([
            .fixed(FixedWidthBuffer([0, 1] as [Int64])),
            .array(offsets: [1, 2], elements: .strings(StringBuffer(["0", "1"]))),
        ])
        let map = NativeColumnData.map(
            offsets: [1, 2], keys: .strings(StringBuffer(["0", "1"])),
            values: .lowCardinality(dictionary: .strings(StringBuffer(["", "0", "1"])), indexes: FixedWidthBuffer([1, 2] as [UInt8])))
        try check("named_tuple_map_lc", [
            Self.column("t", "Tuple(a Int64, `b c` Array(String))", tuple),
            Self.column("m", "Map(String, LowCardinality(String))", map),
        ])
    }
}
