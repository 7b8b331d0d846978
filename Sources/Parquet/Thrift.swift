/// A reader for the Thrift compact protocol, just enough for Parquet's metadata structures.
///
/// Every length read from the input is checked against the bytes that remain before anything
/// is allocated, and nesting is limited, so hostile metadata ends in a ``ParquetError``.
/// It must only be used while the buffer it was given is alive.
struct ThriftReader {
    enum WireType: UInt8 {
        case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
        case binary = 8, list = 9, set = 10, map = 11, structure = 12
    }

    private let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    /// Absolute file offset of `bytes[0]`, for error messages.
    let baseOffset: Int64
    private var depth = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer, baseOffset: Int64) {
        self.bytes = bytes
        self.position = 0
        self.baseOffset = baseOffset
    }

    var remaining: Int { bytes.count - position }

    func error(_ message: String) -> ParquetError {
        .corrupt("invalid Thrift metadata: \(message)", offset: baseOffset + Int64(position))
    }

    mutating func byte() throws(ParquetError) -> UInt8 {
        guard position < bytes.count else { throw error("unexpected end of metadata") }
        let b = bytes[position]
        position += 1
        return b
    }

    mutating func varint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw error("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error("varint longer than 10 bytes") }
        }
    }

    mutating func zigzag() throws(ParquetError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func i32(_ type: WireType) throws(ParquetError) -> Int32 {
        switch type {
        case .i32, .i16, .byte:
            if type == .byte { return Int32(Int8(bitPattern: try byte())) }
            let v = try zigzag()
            guard let r = Int32(exactly: v) else { throw error("integer \(v) does not fit in 32 bits") }
            return r
        default: throw error("expected an integer field, found wire type \(type.rawValue)")
        }
    }

    mutating func i64(_ type: WireType) throws(ParquetError) -> Int64 {
        switch type {
        case .i64, .i32, .i16: return try zigzag()
        case .byte: return Int64(Int8(bitPattern: try byte()))
        default: throw error("expected an integer field, found wire type \(type.rawValue)")
        }
    }

    mutating func bool(_ type: WireType) throws(ParquetError) -> Bool {
        switch type {
        case .boolTrue: return true
        case .boolFalse: return false
        default: throw error("expected a boolean field, found wire type \(type.rawValue)")
        }
    }

    mutating func binary(_ type: WireType) throws(ParquetError) -> [UInt8] {
        guard type == .binary else { throw error("expected a binary field, found wire type \(type.rawValue)") }
        let length = try varint()
        guard length <= UInt64(remaining) else {
            throw error("binary length \(length) exceeds the \(remaining) bytes left")
        }
        let n = Int(length)
        let result = Array(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)]))
        position += n
        return result
    }

    mutating func string(_ type: WireType) throws(ParquetError) -> String {
        let raw = try binary(type)
        return String(decoding: raw, as: UTF8.self)
    }

    /// Reads a list header; the element count is bounded by the remaining bytes.
    mutating func listHeader(_ type: WireType) throws(ParquetError) -> (element: WireType, count: Int) {
        guard type == .list || type == .set else {
            throw error("expected a list field, found wire type \(type.rawValue)")
        }
        let header = try byte()
        guard let element = WireType(rawValue: header & 0x0F), element != .stop else {
            throw error("invalid list element type \(header & 0x0F)")
        }
        var count = UInt64(header >> 4)
        if count == 15 { count = try varint() }
        guard count <= UInt64(remaining) else {
            throw error("list of \(count) elements cannot fit in the \(remaining) bytes left")
        }
        return (element, Int(count))
    }

    mutating func list<T>(_ type: WireType, _ element: (inout ThriftReader, WireType) throws(ParquetError) -> T)
        throws(ParquetError) -> [T]
    {
        let (elementType, count) = try listHeader(type)
        var result: [T] = []
        result.reserveCapacity(count)
        for _ in 0..<count {
            if elementType == .boolTrue || elementType == .boolFalse {
                // Booleans inside lists are one byte each (1 = true).
                let b = try byte()
                let t: WireType = b == 1 ? .boolTrue : .boolFalse
                result.append(try element(&self, t))
            } else {
                result.append(try element(&self, elementType))
            }
        }
        return result
    }

    /// Reads a struct, handing each field to `field`, which returns false for fields it does
    /// not know; those are skipped.
    mutating func structure(
        _ type: WireType = .structure,
        _ field: (inout ThriftReader, Int16, WireType) throws(ParquetError) -> Bool
    ) throws(ParquetError) {
        guard type == .structure else { throw error("expected a struct, found wire type \(type.rawValue)") }
        depth += 1
        guard depth <= Self.maxDepth else { throw error("structures nested deeper than \(Self.maxDepth)") }
        var lastId: Int16 = 0
        while true {
            let header = try byte()
            guard let fieldType = WireType(rawValue: header & 0x0F) else {
                throw error("invalid field type \(header & 0x0F)")
            }
            if fieldType == .stop { break }
            let delta = Int16(header >> 4)
            let id: Int16
            if delta == 0 {
                let raw = try zigzag()
                guard let v = Int16(exactly: raw) else { throw error("field id \(raw) out of range") }
                id = v
            } else {
                id = lastId &+ delta
            }
            lastId = id
            if try !field(&self, id, fieldType) {
                try skip(fieldType)
            }
        }
        depth -= 1
    }

    mutating func skip(_ type: WireType) throws(ParquetError) {
        switch type {
        case .stop: throw error("unexpected stop marker")
        case .boolTrue, .boolFalse: return
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double:
            guard remaining >= 8 else { throw error("unexpected end of metadata") }
            position += 8
        case .binary:
            let length = try varint()
            guard length <= UInt64(remaining) else { throw error("binary length \(length) exceeds the bytes left") }
            position += Int(length)
        case .list, .set:
            let (element, count) = try listHeader(type)
            depth += 1
            guard depth <= Self.maxDepth else { throw error("containers nested deeper than \(Self.maxDepth)") }
            for _ in 0..<count {
                if element == .boolTrue || element == .boolFalse { _ = try byte() } else { try skip(element) }
            }
            depth -= 1
        case .map:
            let count = try varint()
            if count == 0 { return }
            guard count <= UInt64(remaining) else { throw error("map of \(count) entries cannot fit") }
            let kinds = try byte()
            guard let key = WireType(rawValue: kinds >> 4), let value = WireType(rawValue: kinds & 0x0F),
                key != .stop, value != .stop
            else { throw error("invalid map element types") }
            depth += 1
            guard depth <= Self.maxDepth else { throw error("containers nested deeper than \(Self.maxDepth)") }
            for _ in 0..<Int(count) {
                if key == .boolTrue || key == .boolFalse { _ = try byte() } else { try skip(key) }
                if value == .boolTrue || value == .boolFalse { _ = try byte() } else { try skip(value) }
            }
            depth -= 1
        case .structure:
            try structure(type) { _, _, _ throws(ParquetError) in false }
        }
    }
}
