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

/// Unpacks `count` little-endian bit-packed values of `width` bits (at most 64), starting with
/// value number `firstValue` of the packed data at `src` (`byteCount` bytes readable). The caller
/// guarantees that the values lie inside the data. Whole groups of 8 values go through loops
/// specialised per width with 8-byte loads; the rest, and groups too close to the end for an
/// 8-byte load, are read bit by bit.
@inline(__always)
func unpackBits<T: FixedWidthInteger>(
    _ src: UnsafeRawPointer, byteCount: Int, firstValue: Int, width: Int, count: Int, into out: UnsafeMutablePointer<T>
) {
    if width == 0 {
        out.update(repeating: 0, count: count)
        return
    }
    var i = 0
    var v = firstValue
    while i < count && v & 7 != 0 {
        out[i] = T(truncatingIfNeeded: readBits(src, byteCount: byteCount, bitPosition: v &* width, width: width))
        i += 1
        v += 1
    }
    if width <= 57 {
        // Group g starts at byte g * width and its loads reach at most byte g * width + width + 7.
        let firstGroup = v >> 3
        let safeGroups = (byteCount - 8) / width - firstGroup
        let groups = Swift.min((count - i) >> 3, Swift.max(0, safeGroups))
        if groups > 0 {
            unpackGroups(src + firstGroup * width, into: out + i, groups: groups, width: width)
            i += groups * 8
            v += groups * 8
        }
    }
    while i < count {
        out[i] = T(truncatingIfNeeded: readBits(src, byteCount: byteCount, bitPosition: v &* width, width: width))
        i += 1
        v += 1
    }
}

/// Unpacks `groups` groups of 8 values of `width` (1...57) bits, reading up to `width + 7`
/// bytes past each group's start. Each width gets its own copy of the loop so that shifts and
/// offsets are constants.
@inline(never)
func unpackGroups<T: FixedWidthInteger>(
    _ src: UnsafeRawPointer, into out: UnsafeMutablePointer<T>, groups: Int, width: Int
) {
    switch width {
    case 1: unpackGroups(src, out, groups, 1)
    case 2: unpackGroups(src, out, groups, 2)
    case 3: unpackGroups(src, out, groups, 3)
    case 4: unpackGroups(src, out, groups, 4)
    case 5: unpackGroups(src, out, groups, 5)
    case 6: unpackGroups(src, out, groups, 6)
    case 7: unpackGroups(src, out, groups, 7)
    case 8: unpackGroups(src, out, groups, 8)
    case 9: unpackGroups(src, out, groups, 9)
    case 10: unpackGroups(src, out, groups, 10)
    case 11: unpackGroups(src, out, groups, 11)
    case 12: unpackGroups(src, out, groups, 12)
    case 13: unpackGroups(src, out, groups, 13)
    case 14: unpackGroups(src, out, groups, 14)
    case 15: unpackGroups(src, out, groups, 15)
    case 16: unpackGroups(src, out, groups, 16)
    case 17: unpackGroups(src, out, groups, 17)
    case 18: unpackGroups(src, out, groups, 18)
    case 19: unpackGroups(src, out, groups, 19)
    case 20: unpackGroups(src, out, groups, 20)
    case 21: unpackGroups(src, out, groups, 21)
    case 22: unpackGroups(src, out, groups, 22)
    case 23: unpackGroups(src, out, groups, 23)
    case 24: unpackGroups(src, out, groups, 24)
    case 25: unpackGroups(src, out, groups, 25)
    case 26: unpackGroups(src, out, groups, 26)
    case 27: unpackGroups(src, out, groups, 27)
    case 28: unpackGroups(src, out, groups, 28)
    case 29: unpackGroups(src, out, groups, 29)
    case 30: unpackGroups(src, out, groups, 30)
    case 31: unpackGroups(src, out, groups, 31)
    case 32: unpackGroups(src, out, groups, 32)
    default: unpackGroups(src, out, groups, width)
    }
}

@inline(__always)
private func unpackGroups<T: FixedWidthInteger>(
    _ src: UnsafeRawPointer, _ out: UnsafeMutablePointer<T>, _ groups: Int, _ width: Int
) {
    let mask: UInt64 = (1 << UInt64(width)) &- 1
    var p = src
    var o = out
    if width <= 8 {
        // All 8 values sit in one 64-bit word.
        for _ in 0..<groups {
            let word = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
            for j in 0..<8 {
                o[j] = T(truncatingIfNeeded: (word >> UInt64(j * width)) & mask)
            }
            p += width
            o += 8
        }
    } else {
        for _ in 0..<groups {
            for j in 0..<8 {
                let bit = j * width
                let word = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
                o[j] = T(truncatingIfNeeded: (word >> UInt64(bit & 7)) & mask)
            }
            p += width
            o += 8
        }
    }
}

/// For each byte, its 8 bits (least significant first) spread into 8 bytes of 0 or 1.
let bitExpansionTable: [UInt64] = (0..<256).map { byte in
    var word: UInt64 = 0
    for bit in 0..<8 where byte >> bit & 1 == 1 { word |= 1 << UInt64(8 * bit) }
    return word
}

/// Unpacks `count` 1-bit values, starting with bit `firstBit` of `src`, into bytes of 0 or 1.
/// The caller guarantees that the bits lie inside the `byteCount` bytes.
@inline(__always)
func expandBits(
    _ src: UnsafeRawPointer, byteCount: Int, firstBit: Int, count: Int, into out: UnsafeMutablePointer<UInt8>
) {
    var i = 0
    var bit = firstBit
    while i < count && bit & 7 != 0 {
        out[i] = (src.load(fromByteOffset: bit >> 3, as: UInt8.self) >> UInt8(bit & 7)) & 1
        i += 1
        bit += 1
    }
    let whole = (count - i) >> 3
    if whole > 0 {
        bitExpansionTable.withUnsafeBufferPointer { table in
            let from = src + (bit >> 3)
            let to = UnsafeMutableRawPointer(out + i)
            for k in 0..<whole {
                let word = table[Int(from.load(fromByteOffset: k, as: UInt8.self))]
                to.storeBytes(of: word, toByteOffset: k * 8, as: UInt64.self)
            }
        }
        i += whole * 8
        bit += whole * 8
    }
    while i < count {
        out[i] = (src.load(fromByteOffset: bit >> 3, as: UInt8.self) >> UInt8(bit & 7)) & 1
        i += 1
        bit += 1
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
    /// Bytes readable from `literalBase` to the end of the data (past the run itself), so
    /// that unpacking can use 8-byte loads up to the run's last byte.
    private var literalReadable = 0
    /// Index of the next value inside the current bit-packed run.
    private var literalNext = 0

    init(_ data: UnsafeRawBufferPointer, bitWidth: Int) throws(ParquetError) {
        guard bitWidth >= 0, bitWidth <= 32 else {
            throw .corrupt("RLE bit width \(bitWidth) is larger than 32")
        }
        cursor = ByteCursor(data)
        self.bitWidth = bitWidth
    }

    private mutating func nextRun() throws(ParquetError) {
        // Run headers below 128 (runs of up to 63 values or 63 groups) take one byte.
        let header: UInt64
        if let base = cursor.base, cursor.position < cursor.count,
            case let first = base.load(fromByteOffset: cursor.position, as: UInt8.self), first < 0x80
        {
            header = UInt64(first)
            cursor.position += 1
        } else {
            header = try cursor.uleb128()
        }
        if header & 1 == 1 {
            let groups = header >> 1
            guard groups > 0 else { throw .corrupt("empty bit-packed run in RLE data") }
            let available = cursor.remaining
            if bitWidth == 0 {
                runRemaining = Int(min(groups, 1 << 40)) * 8
            } else {
                let groupCount = Int(min(groups, 1 << 40))
                var bytes = groupCount * bitWidth
                var values = groupCount * 8
                if bytes > available {
                    // The last run may be cut short by writers that do not pad; read what is there.
                    bytes = available
                    values = min(values, available * 8 / bitWidth)
                    guard values > 0 else { throw .corrupt("bit-packed run in RLE data is truncated") }
                }
                literalBase = cursor.base! + cursor.position
                literalReadable = available
                literalNext = 0
                runRemaining = values
                cursor.position += bytes  // bytes <= available
            }
            literal = true
        } else {
            let length = header >> 1
            guard length > 0 else { throw .corrupt("zero-length run in RLE data") }
            runRemaining = Int(min(length, 1 << 40))
            let valueBytes = (bitWidth + 7) / 8
            guard cursor.remaining >= valueBytes else { throw .corrupt("data ends early") }
            var value: UInt64 = 0
            if valueBytes > 0 {
                let base = cursor.base! + cursor.position
                for i in 0..<valueBytes {
                    value |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << UInt64(8 * i)
                }
                cursor.position += valueBytes
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
                    unpackBits(literalBase!, byteCount: literalReadable, firstValue: literalNext, width: bitWidth, count: n,
                               into: out + produced)
                    literalNext += n
                }
            } else {
                (out + produced).update(repeating: T(truncatingIfNeeded: runValue), count: n)
            }
            runRemaining -= n
            produced += n
        }
    }

    /// Decodes exactly `count` levels (bit width at most 8) into `out` and returns how many
    /// equal `target` (the present values for definition levels, the rows for repetition
    /// levels) and the highest level seen.
    mutating func decodeLevels(
        into out: UnsafeMutablePointer<UInt8>, count: Int, counting target: UInt8
    ) throws(ParquetError) -> (matches: Int, highest: UInt8) {
        var produced = 0
        var matches = 0
        var highest: UInt8 = 0
        while produced < count {
            if runRemaining == 0 { try nextRun() }
            let n = min(runRemaining, count - produced)
            let o = out + produced
            if literal && bitWidth > 0 {
                if bitWidth == 1 {
                    expandBits(literalBase!, byteCount: literalReadable, firstBit: literalNext, count: n, into: o)
                } else {
                    unpackBits(literalBase!, byteCount: literalReadable, firstValue: literalNext, width: bitWidth, count: n,
                               into: o)
                }
                literalNext += n
                var m = 0
                var h: UInt8 = 0
                for k in 0..<n {
                    let level = o[k]
                    m &+= level == target ? 1 : 0
                    h = Swift.max(h, level)
                }
                matches += m
                highest = Swift.max(highest, h)
            } else {
                // Run values were checked to fit in the bit width, at most 7 bits for levels.
                let value = literal ? 0 : UInt8(truncatingIfNeeded: runValue)
                o.update(repeating: value, count: n)
                if value == target { matches += n }
                highest = Swift.max(highest, value)
            }
            runRemaining -= n
            produced += n
        }
        return (matches, highest)
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
    /// Bytes readable from `miniblockBase` to the end of the data.
    private var miniblockReadable = 0
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
        miniblockReadable = cursor.remaining
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
                // Unpack a batch of deltas with the per-width loops, then add them up.
                let bytes = miniblockReadable
                let first = inMiniblock
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 64) { raw in
                    let deltas = raw.baseAddress!
                    var k = 0
                    while k < n {
                        let m = Swift.min(64, n - k)
                        unpackBits(base!, byteCount: bytes, firstValue: first + k, width: width, count: m, into: deltas)
                        let o = out + i + k
                        for j in 0..<m {
                            value = value &+ delta &+ deltas[j]
                            o[j] = T(truncatingIfNeeded: value)
                        }
                        k += m
                    }
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
