/// Builds small Parquet files by hand (Thrift compact encoding written here), so tests can
/// put exact, and deliberately absurd, values into headers and footers.
struct CompactWriter {
    var bytes: [UInt8] = []
    private var lastIds: [Int16] = [0]

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func zigzag(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    mutating func field(_ id: Int16, _ type: UInt8) {
        let delta = id - lastIds[lastIds.count - 1]
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type)
        } else {
            bytes.append(type)
            zigzag(Int64(id))
        }
        lastIds[lastIds.count - 1] = id
    }

    mutating func i32(_ id: Int16, _ value: Int32) {
        field(id, 5)
        zigzag(Int64(value))
    }

    mutating func i64(_ id: Int16, _ value: Int64) {
        field(id, 6)
        zigzag(value)
    }

    mutating func bool(_ id: Int16, _ value: Bool) { field(id, value ? 1 : 2) }

    mutating func binary(_ id: Int16, _ value: [UInt8]) {
        field(id, 8)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ id: Int16, _ value: String) { binary(id, Array(value.utf8)) }

    mutating func beginStruct(_ id: Int16) {
        field(id, 12)
        lastIds.append(0)
    }

    /// Starts a struct that is an element of a list (no field header).
    mutating func beginElement() { lastIds.append(0) }

    mutating func endStruct() {
        bytes.append(0)
        lastIds.removeLast()
    }

    mutating func listHeader(_ id: Int16, elementType: UInt8, count: Int) {
        field(id, 9)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | elementType)
        } else {
            bytes.append(0xF0 | elementType)
            varint(UInt64(count))
        }
    }
}

/// A page for ``SyntheticFile``: header fields plus the body bytes as stored.
struct SyntheticPage {
    var type: Int32 = 0
    var numValues: Int32
    var encoding: Int32 = 0
    var body: [UInt8]
    var uncompressedSize: Int32? = nil
    var compressedSize: Int32? = nil
    var crc: Int32? = nil
    var v2Levels: (rep: Int32, def: Int32)? = nil
    var numNulls: Int32 = 0
    /// For DATA_PAGE_V2: whether the values section is compressed with the column's codec.
    var v2Compressed = false

    func header() -> [UInt8] {
        var w = CompactWriter()
        w.i32(1, type)
        w.i32(2, uncompressedSize ?? Int32(body.count))
        w.i32(3, compressedSize ?? Int32(body.count))
        if let crc { w.i32(4, crc) }
        switch type {
        case 2:
            w.beginStruct(7)
            w.i32(1, numValues)
            w.i32(2, encoding)
            w.endStruct()
        case 3:
            w.beginStruct(8)
            w.i32(1, numValues)
            w.i32(2, numNulls)
            w.i32(3, numValues)
            w.i32(4, encoding)
            w.i32(5, v2Levels?.def ?? 0)
            w.i32(6, v2Levels?.rep ?? 0)
            w.bool(7, v2Compressed)
            w.endStruct()
        default:
            w.beginStruct(5)
            w.i32(1, numValues)
            w.i32(2, encoding)
            w.i32(3, 3)
            w.i32(4, 3)
            w.endStruct()
        }
        w.endStruct()
        return w.bytes
    }
}

/// One leaf column directly under the root.
struct SyntheticColumn {
    var name = "a"
    var physicalType: Int32 = 1  // INT32
    var repetition: Int32 = 0  // required
    var typeLength: Int32? = nil
    var convertedType: Int32? = nil
    var scale: Int32? = nil
    var precision: Int32? = nil
    var codec: Int32 = 0
    var numValues: Int64
    var pages: [SyntheticPage]
}

/// Assembles `PAR1 | pages | footer | length | PAR1`.
func syntheticFile(rows: Int64, columns: [SyntheticColumn], numChildrenOverride: Int32? = nil) -> [UInt8] {
    var file = Array("PAR1".utf8)
    var chunkStarts: [(start: Int, size: Int)] = []
    for column in columns {
        let start = file.count
        for page in column.pages {
            file.append(contentsOf: page.header())
            file.append(contentsOf: page.body)
        }
        chunkStarts.append((start, file.count - start))
    }
    var w = CompactWriter()
    w.i32(1, 1)
    w.listHeader(2, elementType: 12, count: columns.count + 1)
    w.beginElement()
    w.string(4, "schema")
    w.i32(5, numChildrenOverride ?? Int32(columns.count))
    w.endStruct()
    for column in columns {
        w.beginElement()
        w.i32(1, column.physicalType)
        if let length = column.typeLength { w.i32(2, length) }
        w.i32(3, column.repetition)
        w.string(4, column.name)
        if let converted = column.convertedType { w.i32(6, converted) }
        if let scale = column.scale { w.i32(7, scale) }
        if let precision = column.precision { w.i32(8, precision) }
        w.endStruct()
    }
    w.i64(3, rows)
    w.listHeader(4, elementType: 12, count: 1)
    w.beginElement()
    w.listHeader(1, elementType: 12, count: columns.count)
    for (i, column) in columns.enumerated() {
        w.beginElement()
        w.i64(2, Int64(chunkStarts[i].start))
        w.beginStruct(3)
        w.i32(1, column.physicalType)
        w.listHeader(2, elementType: 5, count: 1)
        w.zigzag(0)
        w.listHeader(3, elementType: 8, count: 1)
        w.varint(UInt64(column.name.utf8.count))
        w.bytes.append(contentsOf: Array(column.name.utf8))
        w.i32(4, column.codec)
        w.i64(5, column.numValues)
        w.i64(6, Int64(chunkStarts[i].size))
        w.i64(7, Int64(chunkStarts[i].size))
        w.i64(9, Int64(chunkStarts[i].start))
        w.endStruct()
        w.endStruct()
    }
    w.i64(2, 0)
    w.i64(3, rows)
    w.endStruct()
    w.endStruct()
    file.append(contentsOf: w.bytes)
    let length = UInt32(w.bytes.count)
    file.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)])
    file.append(contentsOf: Array("PAR1".utf8))
    return file
}

func littleEndian(_ values: [Int32]) -> [UInt8] {
    values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: v) >> (8 * $0)) } }
}

func littleEndian64(_ values: [Int64]) -> [UInt8] {
    values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * $0)) } }
}

/// SNAPPY framing of `data` as literals only (valid input for any SNAPPY decoder).
func snappyLiterals(_ data: [UInt8]) -> [UInt8] {
    var out = CompactWriter()
    out.varint(UInt64(data.count))
    var position = 0
    while position < data.count {
        let n = min(65536, data.count - position)
        out.bytes += [61 << 2, UInt8((n - 1) & 0xFF), UInt8((n - 1) >> 8)]
        out.bytes += data[position..<(position + n)]
        position += n
    }
    return out.bytes
}

/// BYTE_ARRAY values as PLAIN: each with its 4-byte length.
func plainByteArrays(_ values: [[UInt8]]) -> [UInt8] {
    values.flatMap { littleEndian([Int32($0.count)]) + $0 }
}
