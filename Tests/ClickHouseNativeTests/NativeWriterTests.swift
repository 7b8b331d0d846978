import ClickHouseNative
import Testing

@Suite("Native block writer: shapes, limits and errors")
struct NativeWriterTests {
    static func encode(_ columns: [NativeColumn]) throws -> [UInt8] {
        var writer = NativeBlockWriter()
        try writer.writeBlock(columns)
        return writer.bytes
    }

    @Test func varintsUseSevenBitGroups() {
        var writer = NativeBlockWriter()
        for value: UInt64 in [0, 127, 128, 300, UInt64.max] { writer.writeVarUInt(value) }
        #expect(writer.bytes == [0x00, 0x7F, 0x80, 0x01, 0xAC, 0x02] + Array(repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func emptyBlockHasNoColumnData() throws {
        let bytes = try Self.encode([
            NativeColumn(name: "l", type: .lowCardinality(.string), data: .strings(StringBuffer())),
        ])
        // 1 column, 0 rows, name "l", type text, and nothing else (not even the LowCardinality version).
        #expect(bytes == [1, 0, 1, 0x6C, 22] + Array("LowCardinality(String)".utf8))
    }

    @Test func blocksAppendAndTheBufferIsReused() throws {
        var writer = NativeBlockWriter(capacity: 64)
        let column = NativeColumn(name: "x", type: .uint8, data: .fixed(FixedWidthBuffer([1] as [UInt8])))
        try writer.writeBlock([column])
        try writer.writeBlock([column])
        #expect(writer.bytes.count == 22)
        writer.removeAll()
        #expect(writer.bytes.isEmpty)
        try writer.writeBlock([column])
        #expect(writer.bytes == [1, 1, 1, 0x78, 5] + Array("UInt8".utf8) + [1])
    }

    @Test func plainDataForNullableGetsAnAllZeroNullMap() throws {
        let plain = try Self.encode([NativeColumn(name: "n", type: .nullable(.int32), data: .fixed(FixedWidthBuffer([5, 6] as [Int32])))])
        let explicit = try Self.encode([
            NativeColumn(name: "n", type: .nullable(.int32), data: .nullable(nullMap: [0, 0], values: .fixed(FixedWidthBuffer([5, 6] as [Int32])))),
        ])
        #expect(plain == explicit)
    }

    @Test func plainDataForLowCardinalityUsesAnIdentityDictionary() throws {
        let bytes = try Self.encode([
            NativeColumn(name: "l", type: .lowCardinality(.nullable(.string)), data: .nullable(nullMap: [0, 1], values: .strings(StringBuffer(["a", ""])))),
        ])
        let header: [UInt8] = [1, 2, 1, 0x6C, 32] + Array("LowCardinality(Nullable(String))".utf8)
        let version: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0]
        let indexType: [UInt8] = [0, 6, 0, 0, 0, 0, 0, 0]
        let keys: [UInt8] = [3, 0, 0, 0, 0, 0, 0, 0] + [0] + [1, 0x61] + [0]
        let indexes: [UInt8] = [2, 0, 0, 0, 0, 0, 0, 0] + [1, 0]
        #expect(bytes == header + version + indexType + keys + indexes)
    }

    @Test func wideDictionariesUseWiderIndexes() throws {
        let values = (0..<300).map { "v\($0)" }
        let bytes = try Self.encode([NativeColumn(name: "l", type: .lowCardinality(.string), data: .strings(StringBuffer(values)))])
        let header = 6 + "LowCardinality(String)".utf8.count  // 300 rows take a 2-byte varint
        // index type word right after the version: UInt16 indexes (code 1) with the key flags.
        #expect(Array(bytes[(header + 8)..<(header + 16)]) == [1, 6, 0, 0, 0, 0, 0, 0])
        #expect(bytes.count == header + 8 + 8 + 8 + values.reduce(0) { $0 + 1 + $1.utf8.count } + 8 + 300 * 2)
    }

    @Test(arguments: [
        (NativeColumn(name: "a", type: .int32, data: .fixed(FixedWidthBuffer([1] as [Int64]))), "Int32 needs values of 4 bytes, not 8"),
        (NativeColumn(name: "a", type: .string, data: .fixed(FixedWidthBuffer([1] as [Int8]))), "String needs string data"),
        (NativeColumn(name: "a", type: .fixedString(2), data: .strings(StringBuffer(["abc"]))), "value at row 0 has 3 bytes, more than FixedString(2) holds"),
        (NativeColumn(name: "a", type: .array(.int8), data: .array(offsets: [2, 1], elements: .fixed(FixedWidthBuffer([1] as [Int8])))),
         "offset 1 at row 1 is below the previous offset 2"),
        (NativeColumn(name: "a", type: .array(.int8), data: .array(offsets: [2], elements: .fixed(FixedWidthBuffer([1] as [Int8])))),
         "offsets end at 2 but there are 1 elements"),
        (NativeColumn(name: "a", type: .enum8([.init(name: "x", value: 1)]), data: .fixed(FixedWidthBuffer([1, -3] as [Int8]))),
         "-3 at row 1 is not a value of Enum8('x' = 1)"),
        (NativeColumn(name: "a", type: .bool, data: .fixed(FixedWidthBuffer([2] as [UInt8]))), "Bool value 2 at row 0 is not 0 or 1"),
        (NativeColumn(name: "a", type: .nullable(.int8), data: .nullable(nullMap: [2], values: .fixed(FixedWidthBuffer([1] as [Int8])))),
         "null map holds 2; only 0 and 1 are allowed"),
        (NativeColumn(name: "a", type: .lowCardinality(.string), data: .lowCardinality(dictionary: .strings(StringBuffer(["x"])), indexes: FixedWidthBuffer([1] as [UInt8]))),
         "LowCardinality index 1 at row 0 is past the dictionary of 1"),
        (NativeColumn(name: "a", type: .tuple([.init(type: .int8)]), data: .tuple([])), "Tuple(Int8) has 1 elements but the data has 0"),
        (NativeColumn(name: "a", type: .map(key: .string, value: .int8), data: .map(offsets: [1], keys: .strings(StringBuffer(["k"])), values: .fixed(FixedWidthBuffer([] as [Int8])))),
         "map has 1 keys but 0 values"),
    ] as [(NativeColumn, String)])
    func mismatchedDataIsATypedError(_ column: NativeColumn, _ reason: String) {
        var writer = NativeBlockWriter()
        #expect(throws: NativeEncodingError(column: "a", reason: reason)) { try writer.writeBlock([column]) }
        #expect(writer.bytes.isEmpty, "nothing of a failed block stays in the buffer")
    }

    @Test func rowCountsMustAgree() {
        var writer = NativeBlockWriter()
        let columns = [
            NativeColumn(name: "a", type: .int8, data: .fixed(FixedWidthBuffer([1, 2] as [Int8]))),
            NativeColumn(name: "b", type: .int8, data: .fixed(FixedWidthBuffer([1] as [Int8]))),
        ]
        #expect(throws: NativeEncodingError(column: "b", reason: "has 1 rows but the block has 2")) { try writer.writeBlock(columns) }
    }

    @Test func bufferConstructorsCheckTheirInput() {
        #expect(throws: NativeEncodingError.self) { try FixedWidthBuffer(width: 4, bytes: [1, 2, 3]) }
        #expect(throws: NativeEncodingError.self) { try StringBuffer(bytes: [1, 2], endOffsets: [1, 3]) }
        #expect(throws: NativeEncodingError.self) { try StringBuffer(bytes: [1, 2], endOffsets: [2, 1]) }
    }
}

@Suite("Slicing column data into blocks")
struct SliceTests {
    @Test func slicesEncodeLikeColumnsBuiltFromThoseRows() throws {
        let type = ClickHouseType.array(.nullable(.string))
        var all = StringBuffer()
        var nulls: [UInt8] = []
        var offsets: [UInt64] = []
        for row in 0..<10 {
            for item in 0..<(row % 3) {
                all.append("r\(row)i\(item)")
                nulls.append(item == 1 ? 1 : 0)
            }
            offsets.append(UInt64(all.count))
        }
        let data = NativeColumnData.array(offsets: offsets, elements: .nullable(nullMap: nulls, values: .strings(all)))
        let ids = NativeColumnData.fixed(FixedWidthBuffer((0..<10).map { UInt32($0) }))
        var whole = NativeBlockWriter()
        try whole.writeBlock([NativeColumn(name: "id", type: .uint32, data: ids), NativeColumn(name: "a", type: type, data: data)])
        for range in [0..<10, 0..<3, 3..<7, 9..<10, 4..<4] {
            let piece = data.slice(range)
            #expect(piece.count == range.count)
            var writer = NativeBlockWriter()
            try writer.writeBlock([NativeColumn(name: "id", type: .uint32, data: ids.slice(range)), NativeColumn(name: "a", type: type, data: piece)])
            // Rebuild the expected rows directly.
            var expectedStrings = StringBuffer()
            var expectedNulls: [UInt8] = []
            var expectedOffsets: [UInt64] = []
            for row in range {
                for item in 0..<(row % 3) {
                    expectedStrings.append("r\(row)i\(item)")
                    expectedNulls.append(item == 1 ? 1 : 0)
                }
                expectedOffsets.append(UInt64(expectedStrings.count))
            }
            var expected = NativeBlockWriter()
            try expected.writeBlock([
                NativeColumn(name: "id", type: .uint32, data: .fixed(FixedWidthBuffer(range.map { UInt32($0) }))),
                NativeColumn(name: "a", type: type, data: .array(offsets: expectedOffsets, elements: .nullable(nullMap: expectedNulls, values: .strings(expectedStrings)))),
            ])
            #expect(writer.bytes == expected.bytes, "\(range)")
        }
        #expect(data.slice(0..<10) == data)
    }

    @Test func mapsTuplesAndDictionariesSlice() {
        let map = NativeColumnData.map(offsets: [1, 1, 3], keys: .strings(StringBuffer(["a", "b", "c"])), values: .fixed(FixedWidthBuffer([1, 2, 3] as [Int8])))
        #expect(map.slice(1..<3) == .map(offsets: [0, 2], keys: .strings(StringBuffer(["b", "c"])), values: .fixed(FixedWidthBuffer([2, 3] as [Int8]))))
        let lc = NativeColumnData.lowCardinality(dictionary: .strings(StringBuffer(["x", "y"])), indexes: FixedWidthBuffer([0, 1, 1] as [UInt8]))
        #expect(lc.slice(2..<3) == .lowCardinality(dictionary: .strings(StringBuffer(["x", "y"])), indexes: FixedWidthBuffer([1] as [UInt8])))
        let tuple = NativeColumnData.tuple([.fixed(FixedWidthBuffer([1, 2] as [Int8])), .strings(StringBuffer(["p", "q"]))])
        #expect(tuple.slice(1..<2) == .tuple([.fixed(FixedWidthBuffer([2] as [Int8])), .strings(StringBuffer(["q"]))]))
    }
}
