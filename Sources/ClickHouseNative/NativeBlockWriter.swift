/// Encodes blocks in ClickHouse's Native format (as sent over HTTP with `FORMAT Native`) into a reusable buffer.
///
/// A block is `varint columns, varint rows`, then per column `name`, `type` and the column data; a body is any
/// number of blocks back to back. Column data is written column by column from ``NativeColumnData`` buffers:
/// fixed-width values are copied in one piece, strings from their concatenated bytes, and nested types stream by
/// stream (null map, array offsets, LowCardinality dictionary and indexes) as the servers read them.
///
/// The type in the header must be exactly the table column's type: ClickHouse 18.16 rejects a different type with
/// `Code: 368 Bad cast` and crashes when a non-Nullable type is declared for a Nullable column.
///
/// ```swift
/// var writer = NativeBlockWriter()
/// try writer.writeBlock([NativeColumn(name: "id", type: .int64, data: .fixed(FixedWidthBuffer([1, 2] as [Int64])))])
/// send(writer.bytes); writer.removeAll()
/// ```
public struct NativeBlockWriter: Sendable {
    /// The encoded blocks written since the last ``removeAll(keepingCapacity:)``.
    public private(set) var bytes: [UInt8]

    /// Creates a writer whose buffer starts with room for `capacity` bytes.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its memory for the next blocks by default.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Appends one block. Every column must have the same number of rows.
    ///
    /// - Throws: ``NativeEncodingError`` when a column's data does not fit its type or the row counts differ;
    ///   the buffer is then left as it was before the call.
    public mutating func writeBlock(_ columns: [NativeColumn]) throws(NativeEncodingError) {
        let rows = columns.first?.data.count ?? 0
        for column in columns {
            guard column.data.count == rows else {
                throw NativeEncodingError(column: column.name, reason: "has \(column.data.count) rows but the block has \(rows)")
            }
            do {
                try Self.validate(column.type, column.data, rows: rows)
            } catch {
                throw NativeEncodingError(column: column.name, reason: error.reason)
            }
        }
        writeVarUInt(UInt64(columns.count))
        writeVarUInt(UInt64(rows))
        for column in columns {
            writeString(column.name)
            writeString(column.type.description)
            // A block without rows carries no column data at all, not even serialization prefixes.
            guard rows > 0 else { continue }
            writePrefix(column.type, column.data)
            writeData(column.type, column.data)
        }
    }

    // MARK: Primitives

    /// Appends an unsigned LEB128 integer.
    public mutating func writeVarUInt(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Appends a length-prefixed string.
    public mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            writeVarUInt(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    private mutating func writeUInt64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    // MARK: Validation

    /// Checks that `data` has the shape of `type` with `rows` rows, before anything is written.
    static func validate(_ type: ClickHouseType, _ data: NativeColumnData, rows: Int) throws(NativeEncodingError) {
        func fail(_ reason: String) -> NativeEncodingError { NativeEncodingError(column: nil, reason: reason) }
        guard data.count == rows else { throw fail("\(type) data has \(data.count) rows where \(rows) are expected") }
        switch type {
        case .simpleAggregateFunction(_, let inner):
            try validate(inner, data, rows: rows)

        case .nullable(let inner):
            if case .nullable(let nullMap, let values) = data {
                for flag in nullMap where flag > 1 { throw fail("null map holds \(flag); only 0 and 1 are allowed") }
                try validate(inner, values, rows: rows)
            } else {
                try validate(inner, data, rows: rows)
            }

        case .lowCardinality(let inner):
            if case .lowCardinality(let dictionary, let indexes) = data {
                guard [1, 2, 4, 8].contains(indexes.width) else { throw fail("LowCardinality index width \(indexes.width) is not 1, 2, 4 or 8") }
                let dictionaryType = inner.lowCardinalityDictionaryType
                try validate(dictionaryType, dictionary, rows: dictionary.count)
                if inner.isNullable, dictionary.count == 0, rows > 0 {
                    throw fail("a LowCardinality(Nullable) dictionary needs its NULL placeholder at index 0")
                }
                let size = UInt64(dictionary.count)
                for i in 0..<indexes.count where indexes.unsignedValue(at: i) >= size {
                    throw fail("LowCardinality index \(indexes.unsignedValue(at: i)) at row \(i) is past the dictionary of \(size)")
                }
            } else {
                try validate(inner, data, rows: rows)
            }

        case .array(let inner):
            guard case .array(let offsets, let elements) = data else { throw fail("\(type) needs array data") }
            try validateOffsets(offsets, elements: elements.count)
            try validate(inner, elements, rows: elements.count)

        case .nested(let members):
            guard case .array(let offsets, let elements) = data else { throw fail("\(type) needs array-of-tuple data") }
            try validateOffsets(offsets, elements: elements.count)
            try validate(.tuple(members), elements, rows: elements.count)

        case .map(let keyType, let valueType):
            guard case .map(let offsets, let keys, let values) = data else { throw fail("\(type) needs map data") }
            guard keys.count == values.count else { throw fail("map has \(keys.count) keys but \(values.count) values") }
            try validateOffsets(offsets, elements: keys.count)
            try validate(keyType, keys, rows: keys.count)
            try validate(valueType, values, rows: values.count)

        case .tuple(let members):
            guard case .tuple(let columns) = data else { throw fail("\(type) needs tuple data") }
            guard columns.count == members.count else { throw fail("\(type) has \(members.count) elements but the data has \(columns.count)") }
            for (member, column) in zip(members, columns) {
                try validate(member.type, column, rows: rows)
            }

        case .string:
            guard case .strings = data else { throw fail("String needs string data") }

        case .fixedString(let n):
            switch data {
            case .fixed(let buffer):
                guard buffer.width == n else { throw fail("\(type) needs values of \(n) bytes, not \(buffer.width)") }
            case .strings(let buffer):
                for i in 0..<buffer.count where buffer.range(at: i).count > n {
                    throw fail("value at row \(i) has \(buffer.range(at: i).count) bytes, more than \(type) holds")
                }
            default:
                throw fail("\(type) needs fixed-width or string data")
            }

        case .enum8(let members), .enum16(let members):
            guard case .fixed(let buffer) = data, buffer.width == type.fixedWidth else {
                throw fail("\(type) needs \(type.fixedWidth ?? 0)-byte codes")
            }
            try validateEnumCodes(buffer, members: members, type: type)

        case .bool:
            guard case .fixed(let buffer) = data, buffer.width == 1 else { throw fail("Bool needs 1-byte values") }
            for (i, value) in buffer.bytes.enumerated() where value > 1 { throw fail("Bool value \(value) at row \(i) is not 0 or 1") }

        default:
            guard let width = type.fixedWidth else { throw fail("\(type) cannot be encoded") }
            guard case .fixed(let buffer) = data else { throw fail("\(type) needs fixed-width data") }
            guard buffer.width == width else { throw fail("\(type) needs values of \(width) bytes, not \(buffer.width)") }
        }
    }

    private static func validateOffsets(_ offsets: [UInt64], elements: Int) throws(NativeEncodingError) {
        var previous: UInt64 = 0
        for (row, offset) in offsets.enumerated() {
            guard offset >= previous else {
                throw NativeEncodingError(column: nil, reason: "offset \(offset) at row \(row) is below the previous offset \(previous)")
            }
            previous = offset
        }
        guard previous == UInt64(elements) else {
            throw NativeEncodingError(column: nil, reason: "offsets end at \(previous) but there are \(elements) elements")
        }
    }

    private static func validateEnumCodes(
        _ buffer: FixedWidthBuffer, members: [ClickHouseType.EnumMember], type: ClickHouseType
    ) throws(NativeEncodingError) {
        var known = [Bool](repeating: false, count: buffer.width == 1 ? 256 : 65536)
        let mask = buffer.width == 1 ? 0xFF : 0xFFFF
        for member in members { known[member.value & mask] = true }
        for i in 0..<buffer.count {
            let code = Int(buffer.unsignedValue(at: i))
            if !known[code] {
                let signed = buffer.width == 1 ? Int(Int8(truncatingIfNeeded: code)) : Int(Int16(truncatingIfNeeded: code))
                throw NativeEncodingError(column: nil, reason: "\(signed) at row \(i) is not a value of \(type)")
            }
        }
    }

    // MARK: Serialization

    /// Writes the per-column state prefixes. ClickHouse writes them for the whole column before any data, so a
    /// LowCardinality inside an Array has its version word ahead of the array offsets.
    private mutating func writePrefix(_ type: ClickHouseType, _ data: NativeColumnData) {
        switch type {
        case .lowCardinality:
            writeUInt64(1)  // shared-dictionaries-with-additional-keys serialization version
        case .simpleAggregateFunction(_, let inner):
            writePrefix(inner, data)
        case .nullable(let inner):
            if case .nullable(_, let values) = data { writePrefix(inner, values) } else { writePrefix(inner, data) }
        case .array(let inner):
            if case .array(_, let elements) = data { writePrefix(inner, elements) }
        case .nested(let members):
            if case .array(_, let elements) = data { writePrefix(.tuple(members), elements) }
        case .map(let keyType, let valueType):
            if case .map(_, let keys, let values) = data {
                writePrefix(keyType, keys)
                writePrefix(valueType, values)
            }
        case .tuple(let members):
            if case .tuple(let columns) = data {
                for (member, column) in zip(members, columns) { writePrefix(member.type, column) }
            }
        default:
            break
        }
    }

    private mutating func writeData(_ type: ClickHouseType, _ data: NativeColumnData) {
        switch type {
        case .simpleAggregateFunction(_, let inner):
            writeData(inner, data)

        case .nullable(let inner):
            if case .nullable(let nullMap, let values) = data {
                bytes.append(contentsOf: nullMap)
                writeData(inner, values)
            } else {
                bytes.append(contentsOf: repeatElement(0, count: data.count))
                writeData(inner, data)
            }

        case .lowCardinality(let inner):
            writeLowCardinality(inner, data)

        case .array(let inner):
            guard case .array(let offsets, let elements) = data else { return }
            writeOffsets(offsets)
            if !offsets.isEmpty, offsets[offsets.count - 1] > 0 { writeData(inner, elements) }

        case .nested(let members):
            writeData(.array(.tuple(members)), data)

        case .map(let keyType, let valueType):
            guard case .map(let offsets, let keys, let values) = data else { return }
            writeOffsets(offsets)
            if keys.count > 0 {
                writeData(keyType, keys)
                writeData(valueType, values)
            }

        case .tuple(let members):
            guard case .tuple(let columns) = data else { return }
            for (member, column) in zip(members, columns) { writeData(member.type, column) }

        case .string:
            guard case .strings(let buffer) = data else { return }
            writeStrings(buffer)

        case .fixedString(let n):
            switch data {
            case .fixed(let buffer):
                bytes.append(contentsOf: buffer.bytes)
            case .strings(let buffer):
                buffer.bytes.withUnsafeBufferPointer { source in
                    for i in 0..<buffer.count {
                        let range = buffer.range(at: i)
                        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[range]))
                        bytes.append(contentsOf: repeatElement(0, count: n - range.count))
                    }
                }
            default:
                return
            }

        default:
            if case .fixed(let buffer) = data { bytes.append(contentsOf: buffer.bytes) }
        }
    }

    private mutating func writeOffsets(_ offsets: [UInt64]) {
        offsets.withUnsafeBytes { raw in
            #if _endian(little)
            bytes.append(contentsOf: raw)
            #else
            for offset in offsets { writeUInt64(offset) }
            #endif
        }
    }

    private mutating func writeStrings(_ buffer: StringBuffer) {
        // Every value costs at most 10 varint bytes plus its length, so one reservation covers the column.
        bytes.reserveCapacity(bytes.count + buffer.bytes.count + buffer.count * 10)
        buffer.bytes.withUnsafeBufferPointer { source in
            var start = 0
            for end in buffer.offsets {
                writeVarUInt(UInt64(end - start))
                if end > start { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[start..<end])) }
                start = end
            }
        }
    }

    /// Flags of the LowCardinality index-type word: additional keys follow, and the dictionary was updated.
    private static let lowCardinalityKeyFlags: UInt64 = 1 << 9 | 1 << 10

    private mutating func writeLowCardinality(_ inner: ClickHouseType, _ data: NativeColumnData) {
        let dictionaryType = inner.lowCardinalityDictionaryType
        if case .lowCardinality(let dictionary, let indexes) = data {
            let (code, width) = Self.indexCode(forDictionarySize: dictionary.count)
            writeUInt64(code | Self.lowCardinalityKeyFlags)
            writeUInt64(UInt64(dictionary.count))
            writeData(dictionaryType, dictionary)
            writeUInt64(UInt64(indexes.count))
            if indexes.width == width {
                bytes.append(contentsOf: indexes.bytes)
            } else {
                for i in 0..<indexes.count { writeIndex(indexes.unsignedValue(at: i), width: width) }
            }
            return
        }
        // Plain values: an identity dictionary (the server deduplicates on insert). For a nullable column, index 0
        // is the NULL placeholder and row i maps to i + 1.
        let rows = data.count
        var nullMap: [UInt8]?
        var values = data
        if inner.isNullable, case .nullable(let map, let nonNull) = data {
            nullMap = map
            values = nonNull
        }
        let placeholder = inner.isNullable ? 1 : 0
        let keyCount = rows + placeholder
        let (code, width) = Self.indexCode(forDictionarySize: keyCount)
        writeUInt64(code | Self.lowCardinalityKeyFlags)
        writeUInt64(UInt64(keyCount))
        if placeholder == 1 { writeDefaultValue(dictionaryType) }
        writeData(dictionaryType, values)
        writeUInt64(UInt64(rows))
        for row in 0..<rows {
            let isNull = nullMap.map { $0[row] != 0 } ?? false
            writeIndex(isNull ? 0 : UInt64(row + placeholder), width: width)
        }
    }

    private static func indexCode(forDictionarySize size: Int) -> (code: UInt64, width: Int) {
        if size <= 1 << 8 { return (0, 1) }
        if size <= 1 << 16 { return (1, 2) }
        if size <= 1 << 32 { return (2, 4) }
        return (3, 8)
    }

    private mutating func writeIndex(_ value: UInt64, width: Int) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0.prefix(width)) }
    }

    /// One default value of a dictionary type (only plain types can be dictionary types).
    private mutating func writeDefaultValue(_ type: ClickHouseType) {
        if let width = type.fixedWidth {
            bytes.append(contentsOf: repeatElement(0, count: width))
        } else {
            bytes.append(0)  // empty String
        }
    }
}

extension ClickHouseType {
    /// The type of a LowCardinality column's dictionary values: `T` for `T` and for `Nullable(T)`.
    var lowCardinalityDictionaryType: ClickHouseType {
        if case .nullable(let inner) = self { return inner }
        return self
    }
}
