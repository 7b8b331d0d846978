/// An INT96 value: nanoseconds within the day and a Julian day number (legacy timestamps).
public struct ParquetInt96: Sendable, Hashable {
    /// Nanoseconds since midnight, as stored (may be out of range in damaged files).
    public var nanosOfDay: Int64
    /// Julian day number (2440588 is 1970-01-01).
    public var julianDay: Int32

    /// Creates a value from its two parts.
    public init(nanosOfDay: Int64, julianDay: Int32) {
        self.nanosOfDay = nanosOfDay
        self.julianDay = julianDay
    }

    /// Days since 1970-01-01 and nanoseconds within that day, with the nanoseconds in
    /// `0..<86_400_000_000_000`. Never traps, whatever the stored bits. The day comes from the
    /// Julian day plus whole days of the nanoseconds counted toward zero, and the time of day
    /// is the nanoseconds modulo one day; so a negative nanosecond count (only written by
    /// buggy writers) does not borrow a day, as in the reference decoder.
    public var epochDayAndNanos: (day: Int64, nanos: Int64) {
        let nanosPerDay: Int64 = 86_400_000_000_000
        let day = Int64(julianDay) - 2_440_588 + nanosOfDay / nanosPerDay
        var nanos = nanosOfDay % nanosPerDay
        if nanos < 0 { nanos += nanosPerDay }
        return (day, nanos)
    }
}

/// Decoded values of one column chunk in contiguous storage. Only present (non-null) values
/// are stored; nulls and list structure come from the levels of ``ParquetColumnData``.
///
/// Fixed-width physical types keep their little-endian bytes back to back (`width` bytes
/// each: BOOLEAN 1 byte 0/1, INT32 4, INT64 8, INT96 12, FLOAT 4, DOUBLE 8,
/// FIXED_LEN_BYTE_ARRAY its length), which is also the layout of an array of the Swift type.
/// BYTE_ARRAY values are concatenated in `bytes` with `offsets[i]..<offsets[i+1]` per value.
public struct ParquetValueBuffer: Sendable {
    /// The physical type of the values.
    public let physicalType: ParquetPhysicalType
    /// Bytes per value for fixed-width types, 0 for BYTE_ARRAY.
    public let width: Int
    /// Number of values.
    public internal(set) var count: Int
    /// The values' bytes (see the type's documentation).
    public internal(set) var bytes: [UInt8]
    /// For BYTE_ARRAY, `count + 1` offsets into `bytes`; empty otherwise.
    public internal(set) var offsets: [Int]

    /// Calls `body` with the values viewed as `T` (for example `Int32` for an INT32 column).
    /// `T`'s size must equal ``width``.
    public func withUnsafeValues<T: BitwiseCopyable, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        precondition(MemoryLayout<T>.stride == width, "value width \(width) does not match \(T.self)")
        return try bytes.withUnsafeBytes { raw in
            try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: T.self), count: count))
        }
    }

    @inline(__always)
    func load<T: BitwiseCopyable>(_ index: Int, as type: T.Type) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * width, as: T.self) }
    }

    /// The BOOLEAN value at `index`.
    public func boolean(at index: Int) -> Bool { bytes[index] != 0 }
    /// The INT32 value at `index`.
    public func int32(at index: Int) -> Int32 { Int32(littleEndian: load(index, as: Int32.self)) }
    /// The INT64 value at `index`.
    public func int64(at index: Int) -> Int64 { Int64(littleEndian: load(index, as: Int64.self)) }
    /// The FLOAT value at `index`.
    public func float(at index: Int) -> Float { Float(bitPattern: UInt32(littleEndian: load(index, as: UInt32.self))) }
    /// The DOUBLE value at `index`.
    public func double(at index: Int) -> Double {
        Double(bitPattern: UInt64(littleEndian: load(index, as: UInt64.self)))
    }
    /// The INT96 value at `index`.
    public func int96(at index: Int) -> ParquetInt96 {
        bytes.withUnsafeBytes { raw in
            let nanos = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 12, as: Int64.self))
            let day = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 12 + 8, as: Int32.self))
            return ParquetInt96(nanosOfDay: nanos, julianDay: day)
        }
    }
    /// The byte range of the BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY value at `index`.
    public func byteRange(at index: Int) -> Range<Int> {
        width == 0 ? offsets[index]..<offsets[index + 1] : (index * width)..<((index + 1) * width)
    }
    /// The bytes of the value at `index` (any type).
    public func valueBytes(at index: Int) -> ArraySlice<UInt8> { bytes[byteRange(at: index)] }
}

/// One decoded column chunk: the leaf's values plus its definition and repetition levels.
///
/// For a flat required column `levelCount == values.count` and there are no levels. For an
/// optional column, entry `i` is present when `definitionLevels[i] == maxDefinitionLevel`.
/// ``nesting()`` turns the levels into validity masks and list offsets per schema node.
public struct ParquetColumnData: Sendable {
    /// The leaf column.
    public internal(set) var column: ParquetColumnDescriptor
    /// Index of the row group the data came from.
    public internal(set) var rowGroup: Int
    /// Number of rows (records) in the chunk.
    public internal(set) var rowCount: Int
    /// Number of level entries (values plus nulls and empty lists).
    public internal(set) var levelCount: Int
    /// The non-null leaf values.
    public internal(set) var values: ParquetValueBuffer
    /// One definition level per entry; empty when the maximum definition level is 0.
    public internal(set) var definitionLevels: [UInt8]
    /// One repetition level per entry; empty when the maximum repetition level is 0.
    public internal(set) var repetitionLevels: [UInt8]

    /// An empty value to decode into with ``ParquetFile/readColumn(rowGroup:column:into:)``,
    /// which reuses its arrays from one chunk to the next. Until the first read, ``column``
    /// is a placeholder leaf without a name.
    public init() {
        self.init(empty: ParquetColumnData.placeholderColumn, rowGroup: 0)
    }

    /// An empty value whose reads reuse the arrays of `buffers` (moved out of it).
    init(reusing buffers: inout ColumnBuffers) {
        self.init()
        values.bytes = buffers.bytes
        values.offsets = buffers.offsets
        definitionLevels = buffers.definitionLevels
        repetitionLevels = buffers.repetitionLevels
        buffers = ColumnBuffers()
    }

    /// An empty chunk of `column`.
    init(empty column: ParquetColumnDescriptor, rowGroup: Int) {
        let width = ColumnChunkDecoder.valueWidth(column)
        self.init(column: column, rowGroup: rowGroup, rowCount: 0, levelCount: 0,
                  values: ParquetValueBuffer(physicalType: column.physicalType, width: width, count: 0, bytes: [],
                                             offsets: width == 0 ? [0] : []),
                  definitionLevels: [], repetitionLevels: [])
    }

    init(column: ParquetColumnDescriptor, rowGroup: Int, rowCount: Int, levelCount: Int, values: ParquetValueBuffer,
         definitionLevels: [UInt8], repetitionLevels: [UInt8])
    {
        self.column = column
        self.rowGroup = rowGroup
        self.rowCount = rowCount
        self.levelCount = levelCount
        self.values = values
        self.definitionLevels = definitionLevels
        self.repetitionLevels = repetitionLevels
    }

    private static let placeholderColumn: ParquetColumnDescriptor = {
        let leaf = ParquetSchemaNode(element: SchemaElement(type: .byteArray, repetition: .required, name: ""),
                                     logicalType: nil, children: [], columnIndex: 0, maxDef: 0, maxRep: 0, path: [""])
        return ParquetColumnDescriptor(index: 0, node: leaf, pathNodes: [leaf])
    }()

    /// Moves the arrays out (so that the caller holds the only reference) and leaves this value
    /// with no values and no levels.
    mutating func takeBuffers() -> ColumnBuffers {
        let buffers = ColumnBuffers(bytes: values.bytes, offsets: values.offsets, definitionLevels: definitionLevels,
                                    repetitionLevels: repetitionLevels)
        values.bytes = []
        values.offsets = []
        values.count = 0
        definitionLevels = []
        repetitionLevels = []
        levelCount = 0
        rowCount = 0
        return buffers
    }

    /// Becomes an empty chunk of `column`, keeping the arrays' memory.
    mutating func clear(column: ParquetColumnDescriptor, rowGroup: Int) {
        var buffers = takeBuffers()
        let width = ColumnChunkDecoder.valueWidth(column)
        buffers.bytes.removeAll(keepingCapacity: true)
        buffers.offsets.removeAll(keepingCapacity: true)
        if width == 0 { buffers.offsets.append(0) }
        buffers.definitionLevels.removeAll(keepingCapacity: true)
        buffers.repetitionLevels.removeAll(keepingCapacity: true)
        self = ParquetColumnData(column: column, rowGroup: rowGroup, rowCount: 0, levelCount: 0,
                                 values: ParquetValueBuffer(physicalType: column.physicalType, width: width, count: 0,
                                                            bytes: buffers.bytes, offsets: buffers.offsets),
                                 definitionLevels: buffers.definitionLevels, repetitionLevels: buffers.repetitionLevels)
    }

    /// For a column outside any list, one byte per row: 1 when the value is present, 0 when
    /// it is null. `nil` for repeated columns (use ``nesting()``).
    public func presence() -> [UInt8]? {
        guard column.maxRepetitionLevel == 0 else { return nil }
        let maxDef = UInt8(column.maxDefinitionLevel)
        if maxDef == 0 { return [UInt8](repeating: 1, count: levelCount) }
        return definitionLevels.map { $0 == maxDef ? 1 : 0 }
    }
}
