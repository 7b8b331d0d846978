/// A bounds-checked reader over a byte range; every read throws instead of running past the end.
struct ByteCursor {
    let base: UnsafeRawPointer?
    let count: Int
    var position = 0

    init(_ buffer: UnsafeRawBufferPointer) {
        base = buffer.baseAddress
        count = buffer.count
    }

    var remaining: Int { count - position }

    mutating func byte() throws(ParquetError) -> UInt8 {
        guard position < count, let base else { throw .corrupt("data ends early") }
        let b = base.load(fromByteOffset: position, as: UInt8.self)
        position += 1
        return b
    }

    mutating func uleb128() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw .corrupt("variable-length integer overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .corrupt("variable-length integer longer than 10 bytes") }
        }
    }

    mutating func zigzag() throws(ParquetError) -> Int64 {
        let v = try uleb128()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func uint32LE() throws(ParquetError) -> UInt32 {
        guard remaining >= 4, let base else { throw .corrupt("data ends early (expected a 4-byte length)") }
        let v = base.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(littleEndian: v)
    }

    /// Takes the next `n` bytes.
    mutating func take(_ n: Int) throws(ParquetError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw .corrupt("a length of \(n) runs past the \(remaining) bytes left") }
        let slice = UnsafeRawBufferPointer(start: base.map { $0 + position }, count: n)
        position += n
        return slice
    }

    /// The bytes not read yet.
    var rest: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { $0 + position }, count: remaining)
    }
}

/// Reads `width` (0...64) bits starting at bit `bitPosition` of `src` (little-endian bit order).
/// The caller guarantees that `bitPosition + width <= byteCount * 8`.
@inline(__always)
func readBits(_ src: UnsafeRawPointer, byteCount: Int, bitPosition: Int, width: Int) -> UInt64 {
    let byte = bitPosition >> 3
    let shift = UInt64(bitPosition & 7)
    let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) &- 1
    if byte + 8 <= byteCount {
        let word = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: byte, as: UInt64.self))
        if Int(shift) + width <= 64 {
            return (word >> shift) & mask
        }
        let next = byte + 8 < byteCount ? UInt64(src.load(fromByteOffset: byte + 8, as: UInt8.self)) : 0
        return ((word >> shift) | (next << (64 - shift))) & mask
    }
    // Near the end: assemble byte by byte.
    var value: UInt64 = 0
    var got = 0
    var index = byte
    var firstShift = Int(shift)
    while got < width && index < byteCount {
        let b = UInt64(src.load(fromByteOffset: index, as: UInt8.self)) >> UInt64(firstShift)
        if got < 64 { value |= b << UInt64(got) }
        got += 8 - firstShift
        firstShift = 0
        index += 1
    }
    return value & mask
}

/// Unpacks `count` little-endian bit-packed values of `width` bits (at most 32).
@inline(__always)
func unpackBits<T: FixedWidthInteger>(
    _ src: UnsafeRawPointer, byteCount: Int, firstBit: Int, width: Int, count: Int, into out: UnsafeMutablePointer<T>
) {
    if width == 0 {
        out.update(repeating: 0, count: count)
        return
    }
    let mask: UInt64 = (1 << UInt64(width)) &- 1
    var bit = firstBit
    var i = 0
    // Fast part: every 8-byte load stays inside the buffer.
    let safeEnd = (byteCount - 8) * 8
    while i < count && bit <= safeEnd {
        let word = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
        out[i] = T(truncatingIfNeeded: (word >> UInt64(bit & 7)) & mask)
        bit += width
        i += 1
    }
    while i < count {
        out[i] = T(truncatingIfNeeded: readBits(src, byteCount: byteCount, bitPosition: bit, width: width))
        bit += width
        i += 1
    }
}

/// Decoder for the RLE / bit-packed hybrid encoding (levels, dictionary indices, booleans).
struct RLEHybridDecoder {
    var cursor: ByteCursor
    let bitWidth: Int
    private var runRemaining = 0
    private var runValue: UInt64 = 0
    private var literal = false
    private var literalBase: UnsafeRawPointer?
    private var literalBytes = 0
    private var literalBit = 0

    init(_ data: UnsafeRawBufferPointer, bitWidth: Int) throws(ParquetError) {
        guard bitWidth >= 0, bitWidth <= 32 else {
            throw .corrupt("RLE bit width \(bitWidth) is larger than 32")
        }
        cursor = ByteCursor(data)
        self.bitWidth = bitWidth
    }

    private mutating func nextRun() throws(ParquetError) {
        let header = try cursor.uleb128()
        if header & 1 == 1 {
            let groups = header >> 1
            guard groups > 0 else { throw .corrupt("empty bit-packed run in RLE data") }
            let available = cursor.remaining
            if bitWidth == 0 {
                runRemaining = Int(min(groups, 1 << 40)) * 8
                literalBytes = 0
            } else {
                // The last run may be cut short by writers that do not pad; read what is there.
                let wanted = groups > UInt64(available) ? UInt64(available) + 1 : groups * UInt64(bitWidth)
                let bytes = Int(min(wanted, UInt64(available)))
                let values = min(Int(min(groups, 1 << 40)) * 8, bytes * 8 / bitWidth)
                guard values > 0 else { throw .corrupt("bit-packed run in RLE data is truncated") }
                literalBase = cursor.rest.baseAddress
                literalBytes = bytes
                literalBit = 0
                runRemaining = values
                _ = try cursor.take(bytes)
            }
            literal = true
        } else {
            let length = header >> 1
            guard length > 0 else { throw .corrupt("zero-length run in RLE data") }
            runRemaining = Int(min(length, 1 << 40))
            var value: UInt64 = 0
            let valueBytes = (bitWidth + 7) / 8
            for i in 0..<valueBytes {
                value |= UInt64(try cursor.byte()) << UInt64(8 * i)
            }
            if bitWidth < 64 && value >> UInt64(bitWidth) != 0 {
                throw .corrupt("RLE run value \(value) does not fit in \(bitWidth) bits")
            }
            runValue = value
            literal = false
        }
    }

    /// Decodes exactly `count` values into `out`, or throws if the data ends first.
    mutating func decode<T: FixedWidthInteger>(into out: UnsafeMutablePointer<T>, count: Int) throws(ParquetError) {
        var produced = 0
        while produced < count {
            if runRemaining == 0 { try nextRun() }
            let n = min(runRemaining, count - produced)
            if literal {
                if bitWidth == 0 {
                    (out + produced).update(repeating: 0, count: n)
                } else {
                    unpackBits(literalBase!, byteCount: literalBytes, firstBit: literalBit, width: bitWidth, count: n,
                               into: out + produced)
                    literalBit += n * bitWidth
                }
            } else {
                (out + produced).update(repeating: T(truncatingIfNeeded: runValue), count: n)
            }
            runRemaining -= n
            produced += n
        }
    }
}

/// Decoder for DELTA_BINARY_PACKED integers.
struct DeltaBinaryPackedDecoder {
    var cursor: ByteCursor
    let blockSize: Int
    let miniblocks: Int
    let valuesPerMiniblock: Int
    /// Number of values the stream says it holds.
    let totalCount: Int
    private var previous: UInt64
    private var produced = 0
    private var minDelta: UInt64 = 0
    private var widths: [Int]
    private var miniblockIndex = 0
    private var inMiniblock = 0
    private var miniblockBase: UnsafeRawPointer?
    private var miniblockBytes = 0
    private var miniblockWidth = 0

    init(_ data: UnsafeRawBufferPointer) throws(ParquetError) {
        cursor = ByteCursor(data)
        let block = try cursor.uleb128()
        let minis = try cursor.uleb128()
        let total = try cursor.uleb128()
        guard block > 0, block <= 1 << 20, minis > 0, minis <= 1024, block % minis == 0, (block / minis) % 8 == 0
        else { throw .corrupt("DELTA_BINARY_PACKED header has block size \(block) and \(minis) miniblocks") }
        guard total <= UInt64(Int32.max) else { throw .corrupt("DELTA_BINARY_PACKED claims \(total) values") }
        blockSize = Int(block)
        miniblocks = Int(minis)
        valuesPerMiniblock = Int(block / minis)
        totalCount = Int(total)
        previous = UInt64(bitPattern: try cursor.zigzag())
        widths = [Int](repeating: 0, count: miniblocks)
        miniblockIndex = miniblocks
        inMiniblock = valuesPerMiniblock
    }

    private mutating func startMiniblock() throws(ParquetError) {
        if miniblockIndex >= miniblocks {
            minDelta = UInt64(bitPattern: try cursor.zigzag())
            for i in 0..<miniblocks {
                let w = Int(try cursor.byte())
                guard w <= 64 else { throw .corrupt("DELTA_BINARY_PACKED miniblock bit width \(w) is larger than 64") }
                widths[i] = w
            }
            miniblockIndex = 0
        }
        let width = widths[miniblockIndex]
        miniblockIndex += 1
        let full = valuesPerMiniblock * width / 8
        // The final miniblock may be shorter than a full one if the writer did not pad it.
        let valuesLeft = totalCount - 1 - produced
        let needed = (min(valuesLeft, valuesPerMiniblock) * width + 7) / 8
        guard cursor.remaining >= needed else { throw .corrupt("DELTA_BINARY_PACKED data ends early") }
        let bytes = min(full, cursor.remaining)
        miniblockBase = cursor.rest.baseAddress
        miniblockBytes = bytes
        miniblockWidth = width
        inMiniblock = 0
        _ = try cursor.take(bytes)
    }

    /// Decodes the next `count` values (which must not exceed what the stream holds).
    mutating func decode<T: FixedWidthInteger>(into out: UnsafeMutablePointer<T>, count: Int) throws(ParquetError) {
        guard count <= totalCount - produced else {
            throw .corrupt("DELTA_BINARY_PACKED holds \(totalCount) values, \(produced + count) were needed")
        }
        var i = 0
        if produced == 0 && count > 0 {
            out[0] = T(truncatingIfNeeded: previous)
            produced = 1
            i = 1
        }
        while i < count {
            if inMiniblock == valuesPerMiniblock { try startMiniblock() }
            let n = min(valuesPerMiniblock - inMiniblock, count - i)
            let base = miniblockBase
            let width = miniblockWidth
            var value = previous
            let delta = minDelta
            if width == 0 {
                for k in 0..<n {
                    value = value &+ delta
                    out[i + k] = T(truncatingIfNeeded: value)
                }
            } else {
                var bit = inMiniblock * width
                for k in 0..<n {
                    let raw = readBits(base!, byteCount: miniblockBytes, bitPosition: bit, width: width)
                    value = value &+ delta &+ raw
                    out[i + k] = T(truncatingIfNeeded: value)
                    bit += width
                }
            }
            previous = value
            inMiniblock += n
            i += n
            produced += n
        }
    }

    /// Decodes every value of the stream and leaves the cursor just past its end.
    mutating func decodeAll() throws(ParquetError) -> [Int64] {
        let n = totalCount
        var failure: ParquetError?
        let values = [Int64](unsafeUninitializedCapacity: n) { buffer, initialized in
            do throws(ParquetError) {
                if n > 0 { try decode(into: buffer.baseAddress!, count: n) }
                initialized = n
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return values
    }
}
