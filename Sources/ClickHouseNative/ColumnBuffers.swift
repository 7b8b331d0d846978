/// Fixed-width little-endian values, stored back to back: the Native layout of numbers, dates, decimals,
/// enums, UUIDs, IP addresses and `FixedString(N)`.
///
/// Bulk data that is already little-endian (for example a Parquet PLAIN page) is appended with one copy.
public struct FixedWidthBuffer: Sendable, Hashable {
    /// Bytes per value.
    public let width: Int
    /// `count * width` bytes.
    public private(set) var bytes: [UInt8]

    /// An empty buffer for values of `width` bytes, with room for `capacity` values.
    public init(width: Int, capacity: Int = 0) {
        precondition(width > 0, "a fixed-width value has at least one byte")
        self.width = width
        self.bytes = []
        bytes.reserveCapacity(capacity * width)
    }

    /// A buffer over bytes that already hold little-endian values of `width` bytes.
    /// - Throws: ``NativeEncodingError`` when `bytes.count` is not a multiple of `width`.
    public init(width: Int, bytes: [UInt8]) throws(NativeEncodingError) {
        guard width > 0, bytes.count % width == 0 else {
            throw NativeEncodingError(column: nil, reason: "\(bytes.count) bytes are not a whole number of \(width)-byte values")
        }
        self.width = width
        self.bytes = bytes
    }

    /// A buffer holding `values` as little-endian integers.
    public init<T: FixedWidthInteger>(_ values: some Sequence<T>) {
        self.init(width: MemoryLayout<T>.size)
        for value in values { append(value) }
    }

    /// A buffer holding `values` as IEEE 754 single-precision numbers.
    public init(float32 values: some Sequence<Float>) {
        self.init(values.map(\.bitPattern))
    }

    /// A buffer holding `values` as IEEE 754 double-precision numbers.
    public init(float64 values: some Sequence<Double>) {
        self.init(values.map(\.bitPattern))
    }

    /// The number of values.
    public var count: Int { bytes.count / width }

    /// Appends one integer as `width` little-endian bytes; the integer's own size must equal `width`.
    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        precondition(MemoryLayout<T>.size == width, "value size differs from the buffer's width")
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends one `Float32`.
    public mutating func append(_ value: Float) { append(value.bitPattern) }

    /// Appends one `Float64`.
    public mutating func append(_ value: Double) { append(value.bitPattern) }

    /// Appends whole values that are already little-endian (one copy).
    /// - Throws: ``NativeEncodingError`` when `raw.count` is not a multiple of `width`.
    public mutating func append(littleEndianBytes raw: UnsafeRawBufferPointer) throws(NativeEncodingError) {
        guard raw.count % width == 0 else {
            throw NativeEncodingError(column: nil, reason: "\(raw.count) bytes are not a whole number of \(width)-byte values")
        }
        bytes.append(contentsOf: raw)
    }

    /// Appends whole values that are already little-endian (one copy).
    public mutating func append(littleEndianBytes raw: [UInt8]) throws(NativeEncodingError) {
        guard raw.count % width == 0 else {
            throw NativeEncodingError(column: nil, reason: "\(raw.count) bytes are not a whole number of \(width)-byte values")
        }
        bytes.append(contentsOf: raw)
    }

    /// Appends `count` all-zero values (the default value of every fixed-width type).
    public mutating func appendZeros(_ count: Int) {
        bytes.append(contentsOf: repeatElement(0, count: count * width))
    }

    /// Removes every value.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Reads value `index` as an unsigned integer (for widths 1, 2, 4 and 8).
    func unsignedValue(at index: Int) -> UInt64 {
        let base = index * width
        var value: UInt64 = 0
        for i in 0..<min(width, 8) { value |= UInt64(bytes[base + i]) << (8 * UInt64(i)) }
        return value
    }
}

/// Variable-length byte strings stored as one byte array and the end offset of each value
/// (value `i` is `bytes[offsets[i-1] ..< offsets[i]]`, with `offsets[-1] = 0`).
public struct StringBuffer: Sendable, Hashable {
    /// The concatenated values.
    public private(set) var bytes: [UInt8]
    /// The end offset of each value in `bytes`.
    public private(set) var offsets: [Int]

    /// An empty buffer with room for `count` values of `byteCapacity` bytes in total.
    public init(capacity count: Int = 0, byteCapacity: Int = 0) {
        bytes = []
        offsets = []
        bytes.reserveCapacity(byteCapacity)
        offsets.reserveCapacity(count)
    }

    /// A buffer holding `values` as UTF-8.
    public init(_ values: some Sequence<String>) {
        self.init()
        for value in values { append(value) }
    }

    /// A buffer over concatenated bytes and end offsets.
    /// - Throws: ``NativeEncodingError`` when the offsets decrease or run past `bytes`.
    public init(bytes: [UInt8], endOffsets: [Int]) throws(NativeEncodingError) {
        var previous = 0
        for offset in endOffsets {
            guard offset >= previous, offset <= bytes.count else {
                throw NativeEncodingError(column: nil, reason: "string offset \(offset) is out of order or past \(bytes.count) bytes")
            }
            previous = offset
        }
        self.bytes = bytes
        self.offsets = endOffsets
    }

    /// The number of values.
    public var count: Int { offsets.count }

    /// Appends a value as UTF-8.
    public mutating func append(_ value: String) {
        var value = value
        value.withUTF8 { bytes.append(contentsOf: $0) }
        offsets.append(bytes.count)
    }

    /// Appends a value's bytes.
    public mutating func append(bytes value: some Collection<UInt8>) {
        bytes.append(contentsOf: value)
        offsets.append(bytes.count)
    }

    /// Appends a value's bytes from raw memory.
    public mutating func append(raw value: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: value)
        offsets.append(bytes.count)
    }

    /// Appends `count` empty values.
    public mutating func appendEmpty(_ count: Int = 1) {
        offsets.append(contentsOf: repeatElement(bytes.count, count: count))
    }

    /// The byte range of value `index`.
    public func range(at index: Int) -> Range<Int> {
        (index == 0 ? 0 : offsets[index - 1])..<offsets[index]
    }

    /// Removes every value.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
        offsets.removeAll(keepingCapacity: keepingCapacity)
    }
}

/// The values of one column of a block, shaped like its ClickHouse type.
///
/// | type | data |
/// |---|---|
/// | numbers, Date*, DateTime*, Decimal*, Enum*, Bool, UUID, IPv4, IPv6 | `.fixed` (width of the type; UUID as the server stores it: each 8-byte half reversed; IPv6 in network order) |
/// | String | `.strings` |
/// | FixedString(N) | `.fixed` of width N, or `.strings` of at most N bytes each (zero-padded on output) |
/// | Nullable(T) | `.nullable` (null map: 1 = NULL, values of T with any value under NULLs), or T's data when no value is NULL |
/// | LowCardinality(T) | `.lowCardinality` (see there), or T's data (written with an identity dictionary) |
/// | Array(T) | `.array`: cumulative end offsets, then all elements |
/// | Tuple(...) | `.tuple`: one column per element |
/// | Map(K, V) | `.map`: cumulative end offsets, then all keys and all values |
/// | Nested(...) | `.array` of `.tuple` |
/// | SimpleAggregateFunction(f, T) | T's data |
public indirect enum NativeColumnData: Sendable, Hashable {
    /// Fixed-width values.
    case fixed(FixedWidthBuffer)
    /// Variable-length strings.
    case strings(StringBuffer)
    /// A null map (one byte per row, 1 = NULL) and the values of every row.
    case nullable(nullMap: [UInt8], values: NativeColumnData)
    /// The cumulative end offset of each row's array, then the elements of all rows.
    case array(offsets: [UInt64], elements: NativeColumnData)
    /// One column per tuple element, each with the same number of rows.
    case tuple([NativeColumnData])
    /// The cumulative end offset of each row's map, then the keys and the values of all rows.
    case map(offsets: [UInt64], keys: NativeColumnData, values: NativeColumnData)
    /// Dictionary-encoded values: `indexes` (width 1, 2, 4 or 8) point into `dictionary`, which holds values of the
    /// dictionary type (`T` for `LowCardinality(T)`, and `T` again for `LowCardinality(Nullable(T))`).
    /// For a nullable column, index 0 means NULL, so `dictionary[0]` is a placeholder (conventionally T's default).
    case lowCardinality(dictionary: NativeColumnData, indexes: FixedWidthBuffer)

    /// The number of rows.
    public var count: Int {
        switch self {
        case .fixed(let buffer): return buffer.count
        case .strings(let buffer): return buffer.count
        case .nullable(let nullMap, _): return nullMap.count
        case .array(let offsets, _), .map(let offsets, _, _): return offsets.count
        case .tuple(let elements): return elements.first?.count ?? 0
        case .lowCardinality(_, let indexes): return indexes.count
        }
    }
}

/// One named column of a block: the name and type the header declares, and the values.
public struct NativeColumn: Sendable, Hashable {
    /// The column name (as in the table).
    public var name: String
    /// The column type; it must be exactly the table column's type.
    public var type: ClickHouseType
    /// The values.
    public var data: NativeColumnData

    /// Creates a column.
    public init(name: String, type: ClickHouseType, data: NativeColumnData) {
        self.name = name
        self.type = type
        self.data = data
    }
}

/// Data that does not fit the declared type (wrong width, lengths that disagree, offsets out of order, an enum
/// code that the enum lacks, ...). Nothing of the failing block is left in the output.
public struct NativeEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The column, when known.
    public var column: String?
    /// What does not fit.
    public var reason: String

    /// Creates an error.
    public init(column: String?, reason: String) {
        self.column = column
        self.reason = reason
    }

    public var description: String {
        if let column { return "cannot encode column \(column) in the Native format: \(reason)" }
        return "cannot encode in the Native format: \(reason)"
    }
}

// MARK: - Slicing

extension FixedWidthBuffer {
    /// Values `range` as a new buffer.
    public func slice(_ range: Range<Int>) -> FixedWidthBuffer {
        var copy = FixedWidthBuffer(width: width)
        copy.bytes = Array(bytes[(range.lowerBound * width)..<(range.upperBound * width)])
        return copy
    }
}

extension StringBuffer {
    /// Values `range` as a new buffer.
    public func slice(_ range: Range<Int>) -> StringBuffer {
        guard !range.isEmpty else { return StringBuffer() }
        let start = range.lowerBound == 0 ? 0 : offsets[range.lowerBound - 1]
        var copy = StringBuffer()
        copy.bytes = Array(bytes[start..<offsets[range.upperBound - 1]])
        copy.offsets = offsets[range].map { $0 - start }
        return copy
    }
}

extension NativeColumnData {
    /// Rows `range` as new column data (nested elements, map entries and dictionary indexes included).
    public func slice(_ range: Range<Int>) -> NativeColumnData {
        switch self {
        case .fixed(let buffer):
            return .fixed(buffer.slice(range))
        case .strings(let buffer):
            return .strings(buffer.slice(range))
        case .nullable(let nullMap, let values):
            return .nullable(nullMap: Array(nullMap[range]), values: values.slice(range))
        case .array(let offsets, let elements):
            let (rebased, inner) = Self.sliceOffsets(offsets, range)
            return .array(offsets: rebased, elements: elements.slice(inner))
        case .map(let offsets, let keys, let values):
            let (rebased, inner) = Self.sliceOffsets(offsets, range)
            return .map(offsets: rebased, keys: keys.slice(inner), values: values.slice(inner))
        case .tuple(let elements):
            return .tuple(elements.map { $0.slice(range) })
        case .lowCardinality(let dictionary, let indexes):
            return .lowCardinality(dictionary: dictionary, indexes: indexes.slice(range))
        }
    }

    private static func sliceOffsets(_ offsets: [UInt64], _ range: Range<Int>) -> ([UInt64], Range<Int>) {
        guard !range.isEmpty else { return ([], 0..<0) }
        let start = range.lowerBound == 0 ? 0 : offsets[range.lowerBound - 1]
        let end = offsets[range.upperBound - 1]
        return (offsets[range].map { $0 - start }, Int(start)..<Int(end))
    }

    /// About how many bytes the data takes in the Native format (for sizing blocks).
    public var estimatedByteCount: Int {
        switch self {
        case .fixed(let buffer): return buffer.bytes.count
        case .strings(let buffer): return buffer.bytes.count + buffer.count
        case .nullable(let nullMap, let values): return nullMap.count + values.estimatedByteCount
        case .array(let offsets, let elements): return offsets.count * 8 + elements.estimatedByteCount
        case .map(let offsets, let keys, let values): return offsets.count * 8 + keys.estimatedByteCount + values.estimatedByteCount
        case .tuple(let elements): return elements.reduce(0) { $0 + $1.estimatedByteCount }
        case .lowCardinality(let dictionary, let indexes): return dictionary.estimatedByteCount + indexes.bytes.count
        }
    }
}
