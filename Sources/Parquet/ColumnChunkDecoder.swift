#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Array where Element == UInt8 {
    /// Appends raw bytes with a single copy.
    @inline(__always)
    mutating func appendBytes(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress, data.count > 0 else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: data.count))
    }
}

/// 64 KiB of zero bytes, the source for ``Array/appendZeros(_:)`` (copying is much faster than
/// the element-by-element loop `append(contentsOf: repeatElement(0, count:))` compiles to).
nonisolated(unsafe) private let zeroBlock: UnsafeRawPointer = UnsafeRawPointer(calloc(1, zeroBlockSize)!)
private let zeroBlockSize = 1 << 16

extension Array where Element: FixedWidthInteger {
    /// Appends `n` zeros and returns the index of the first one.
    @inline(__always)
    mutating func appendZeros(_ n: Int) -> Int {
        let old = count
        if capacity < old + n { reserveCapacity(Swift.max(old + n, old * 2)) }
        let perBlock = zeroBlockSize / MemoryLayout<Element>.stride
        let zeros = zeroBlock.assumingMemoryBound(to: Element.self)
        var left = n
        while left > 0 {
            let k = Swift.min(left, perBlock)
            append(contentsOf: UnsafeBufferPointer(start: zeros, count: k))
            left -= k
        }
        return old
    }
}

/// Decodes the pages of one column chunk into a ``ParquetColumnData``.
struct ColumnChunkDecoder {
    let column: ParquetColumnDescriptor
    let info: ParquetColumnChunkInfo
    let options: ParquetReadOptions
    let rowGroup: Int
    /// Absolute file offset of the chunk's first byte.
    let chunkOffset: Int64

    let physicalType: ParquetPhysicalType
    let width: Int
    let maxDef: Int
    let maxRep: Int

    var bytes: [UInt8] = []
    var offsets: [Int] = []
    var valueCount = 0
    var defLevels: [UInt8] = []
    var repLevels: [UInt8] = []
    var levelCount = 0

    var hasDictionary = false
    var dictBytes: [UInt8] = []
    var dictOffsets: [Int] = []
    var dictCount = 0

    var scratch: [UInt8] = []
    var indices: [UInt32] = []

    init(column: ParquetColumnDescriptor, info: ParquetColumnChunkInfo, options: ParquetReadOptions, rowGroup: Int,
         chunkOffset: Int64)
    {
        self.column = column
        self.info = info
        self.options = options
        self.rowGroup = rowGroup
        self.chunkOffset = chunkOffset
        physicalType = column.physicalType
        switch column.physicalType {
        case .boolean: width = 1
        case .int32, .float: width = 4
        case .int64, .double: width = 8
        case .int96: width = 12
        case .byteArray: width = 0
        case .fixedLenByteArray: width = column.typeLength
        }
        maxDef = column.maxDefinitionLevel
        maxRep = column.maxRepetitionLevel
        if width == 0 { offsets = [0] }
    }

    var decodedBytes: Int {
        bytes.count + offsets.count * 8 + defLevels.count + repLevels.count + dictBytes.count + dictOffsets.count * 8
    }

    var remainingBudget: Int { options.maxDecodedColumnBytes - decodedBytes }

    func checkBudget(adding n: Int) throws(ParquetError) {
        let (total, overflow) = decodedBytes.addingReportingOverflow(n)
        if overflow || total > options.maxDecodedColumnBytes || n < 0 {
            throw ParquetError(.resourceLimit,
                               "decoded column chunk would exceed maxDecodedColumnBytes (\(options.maxDecodedColumnBytes) bytes); raise the limit to read this file")
        }
    }

    // MARK: Page loop

    mutating func decode(chunk: UnsafeRawBufferPointer, rowCount: Int64) throws(ParquetError) -> ParquetColumnData {
        reserveOutput(chunkSize: chunk.count)
        var position = 0
        var pageIndex = 0
        var sawDataPage = false
        while position < chunk.count && Int64(levelCount) < info.numValues {
            let pageOffset = chunkOffset + Int64(position)
            do throws(ParquetError) {
                var reader = ThriftReader(UnsafeRawBufferPointer(rebasing: chunk[position...]), baseOffset: pageOffset)
                let header = try reader.pageHeader()
                let headerSize = reader.position
                guard header.compressedPageSize >= 0, header.uncompressedPageSize >= 0 else {
                    throw ParquetError.corrupt("page header has negative sizes")
                }
                let bodyStart = position + headerSize
                let bodySize = Int(header.compressedPageSize)
                guard bodySize <= chunk.count - bodyStart else {
                    throw ParquetError.corrupt(
                        "page body of \(bodySize) bytes runs past the end of the column chunk (\(chunk.count - bodyStart) bytes left)")
                }
                guard Int(header.uncompressedPageSize) <= options.maxPageBytes else {
                    throw ParquetError(.resourceLimit,
                                       "page decompresses to \(header.uncompressedPageSize) bytes, more than maxPageBytes (\(options.maxPageBytes)); raise the limit to read this file")
                }
                let body = UnsafeRawBufferPointer(rebasing: chunk[bodyStart..<(bodyStart + bodySize)])
                if let crc = header.crc, options.verifyChecksums {
                    let actual = Checksum.crc32(body)
                    guard actual == UInt32(bitPattern: crc) else {
                        throw ParquetError.corrupt(
                            "page checksum mismatch (stored CRC-32 \(UInt32(bitPattern: crc)), computed \(actual))")
                    }
                }
                switch PageType(rawValue: header.type) {
                case .dictionaryPage:
                    guard let dict = header.dictionaryPage else { throw ParquetError.corrupt("dictionary page without its header") }
                    guard !sawDataPage, !hasDictionary else {
                        throw ParquetError.corrupt("dictionary page after data pages or a second dictionary page")
                    }
                    try decodeDictionaryPage(dict, header: header, body: body)
                case .dataPage:
                    guard let data = header.dataPage else { throw ParquetError.corrupt("data page without its header") }
                    sawDataPage = true
                    try decodeDataPageV1(data, header: header, body: body)
                case .dataPageV2:
                    guard let data = header.dataPageV2 else { throw ParquetError.corrupt("data page v2 without its header") }
                    sawDataPage = true
                    try decodeDataPageV2(data, header: header, body: body)
                case .indexPage, nil:
                    break  // Not needed for reading values; skipped.
                }
                position = bodyStart + bodySize
                pageIndex += 1
            } catch {
                throw error.located(rowGroup: rowGroup, columnPath: column.dottedPath, pageIndex: pageIndex,
                                    byteOffset: pageOffset)
            }
        }
        let (group, path, offset) = (rowGroup, column.dottedPath, chunkOffset)
        func location(_ e: ParquetError) -> ParquetError {
            e.located(rowGroup: group, columnPath: path, byteOffset: offset)
        }
        guard Int64(levelCount) == info.numValues else {
            throw location(.corrupt("column chunk pages hold \(levelCount) values, its metadata says \(info.numValues)"))
        }
        var rows = levelCount
        if maxRep > 0 {
            if levelCount > 0 && repLevels[0] != 0 {
                throw location(.corrupt("the first repetition level of the column chunk is \(repLevels[0]), not 0"))
            }
            rows = repLevels.withUnsafeBufferPointer { levels in
                var n = 0
                for l in levels where l == 0 { n += 1 }
                return n
            }
        }
        guard Int64(rows) == rowCount else {
            throw location(.corrupt("column chunk holds \(rows) rows, its row group has \(rowCount)"))
        }
        let values = ParquetValueBuffer(physicalType: physicalType, width: width, count: valueCount, bytes: bytes,
                                        offsets: width == 0 ? offsets : [])
        return ParquetColumnData(column: column, rowGroup: rowGroup, rowCount: rows, levelCount: levelCount,
                                 values: values, definitionLevels: defLevels, repetitionLevels: repLevels)
    }

    /// Reserves output capacity from the chunk's metadata so pages append without regrowing.
    /// The metadata is untrusted, so the reservation is capped by what the stored bytes could
    /// plausibly expand to and by the decode budget.
    mutating func reserveOutput(chunkSize: Int) {
        let declared = Int(clamping: info.numValues)
        let plausible = Swift.max(0, Int(clamping: info.totalUncompressedSize)) &* 8 &+ chunkSize &* 8 &+ 4096
        let cap = Swift.min(plausible, options.maxDecodedColumnBytes / 4)
        let levels = Swift.min(declared, cap)
        if maxDef > 0 { defLevels.reserveCapacity(levels) }
        if maxRep > 0 { repLevels.reserveCapacity(levels) }
        if width > 0 {
            bytes.reserveCapacity(Swift.min(declared.multipliedReportingOverflow(by: width).overflow ? cap : declared * width, cap))
        } else {
            offsets.reserveCapacity(Swift.min(declared, cap / 8) + 1)
            bytes.reserveCapacity(Swift.min(Swift.max(0, Int(clamping: info.totalUncompressedSize)), cap))
        }
    }

    /// Decompresses `body` into the scratch buffer (or returns it as is when stored plain).
    mutating func withPageData<R>(
        _ body: UnsafeRawBufferPointer, compressed: Bool, size: Int,
        _ work: (inout ColumnChunkDecoder, UnsafeRawBufferPointer) throws(ParquetError) -> R
    ) throws(ParquetError) -> R {
        if !compressed || info.codec == .uncompressed {
            if compressed || info.codec == .uncompressed {
                // Stored uncompressed: the header's size must agree with the body.
                guard body.count == size else {
                    throw .corrupt("uncompressed page body is \(body.count) bytes, its header says \(size)")
                }
            }
            return try work(&self, body)
        }
        guard Codec.isSupported(info.codec) else {
            throw .unsupported("compression codec \(info.codec) is not supported")
        }
        // The decompressed page counts against the same memory budget as the decoded output.
        try checkBudget(adding: size)
        var buffer = scratch
        scratch = []
        if buffer.count < size {
            buffer = []
            buffer = [UInt8](repeating: 0, count: size)
        }
        defer { scratch = buffer }
        let result: Result<R, ParquetError> = buffer.withUnsafeMutableBytes { out in
            let target = UnsafeMutableRawBufferPointer(rebasing: out[0..<size])
            do throws(ParquetError) {
                try Codec.decompress(info.codec, input: body, output: target)
                return .success(try work(&self, UnsafeRawBufferPointer(target)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: Dictionary

    mutating func decodeDictionaryPage(_ dict: DictionaryPageHeader, header: PageHeader, body: UnsafeRawBufferPointer)
        throws(ParquetError)
    {
        guard dict.encoding == .plain || dict.encoding == .plainDictionary else {
            throw .unsupported("dictionary page encoding \(dict.encoding) is not supported")
        }
        guard dict.numValues >= 0 else { throw .corrupt("dictionary page has \(dict.numValues) values") }
        let n = Int(dict.numValues)
        try withPageData(body, compressed: true, size: Int(header.uncompressedPageSize)) { d, data throws(ParquetError) in
            var cursor = ByteCursor(data)
            var dictBytes: [UInt8] = []
            var dictOffsets: [Int] = d.width == 0 ? [0] : []
            try ColumnChunkDecoder.decodePlain(&cursor, type: d.physicalType, width: d.width, count: n,
                                                budget: d.remainingBudget, bytes: &dictBytes, offsets: &dictOffsets)
            d.dictBytes = dictBytes
            d.dictOffsets = dictOffsets
            d.dictCount = n
            d.hasDictionary = true
        }
    }

    // MARK: Data pages

    mutating func decodeDataPageV1(_ page: DataPageHeader, header: PageHeader, body: UnsafeRawBufferPointer)
        throws(ParquetError)
    {
        guard page.numValues >= 0 else { throw .corrupt("data page has \(page.numValues) values") }
        let n = Int(page.numValues)
        try checkBudget(adding: n * ((maxDef > 0 ? 1 : 0) + (maxRep > 0 ? 1 : 0)))
        try withPageData(body, compressed: true, size: Int(header.uncompressedPageSize)) { d, data throws(ParquetError) in
            var cursor = ByteCursor(data)
            if d.maxRep > 0 {
                try ColumnChunkDecoder.decodeLevelsV1(&cursor, encoding: page.repetitionLevelEncoding, count: n, max: d.maxRep,
                                     into: &d.repLevels)
            }
            if d.maxDef > 0 {
                try ColumnChunkDecoder.decodeLevelsV1(&cursor, encoding: page.definitionLevelEncoding, count: n, max: d.maxDef,
                                     into: &d.defLevels)
            }
            let present = d.presentCount(newLevels: n)
            d.levelCount += n
            try d.decodeValues(encoding: page.encoding, data: cursor.rest, count: present)
        }
    }

    mutating func decodeDataPageV2(_ page: DataPageHeaderV2, header: PageHeader, body: UnsafeRawBufferPointer)
        throws(ParquetError)
    {
        guard page.numValues >= 0, page.repetitionLevelsByteLength >= 0, page.definitionLevelsByteLength >= 0 else {
            throw .corrupt("data page v2 header has negative counts or lengths")
        }
        let n = Int(page.numValues)
        let repLength = Int(page.repetitionLevelsByteLength)
        let defLength = Int(page.definitionLevelsByteLength)
        guard repLength + defLength <= body.count, repLength + defLength <= Int(header.uncompressedPageSize) else {
            throw .corrupt("data page v2 level lengths (\(repLength) + \(defLength)) exceed the page size")
        }
        try checkBudget(adding: n * ((maxDef > 0 ? 1 : 0) + (maxRep > 0 ? 1 : 0)))
        if maxRep > 0 {
            try ColumnChunkDecoder.decodeRLELevels(UnsafeRawBufferPointer(rebasing: body[0..<repLength]), count: n, max: maxRep,
                                into: &repLevels)
        }
        if maxDef > 0 {
            try ColumnChunkDecoder.decodeRLELevels(UnsafeRawBufferPointer(rebasing: body[repLength..<(repLength + defLength)]), count: n,
                                max: maxDef, into: &defLevels)
        }
        let present = presentCount(newLevels: n)
        levelCount += n
        let valuesBody = UnsafeRawBufferPointer(rebasing: body[(repLength + defLength)...])
        let valuesSize = Int(header.uncompressedPageSize) - repLength - defLength
        if present == 0 && valuesBody.isEmpty { return }
        try withPageData(valuesBody, compressed: page.isCompressed, size: valuesSize) { d, data throws(ParquetError) in
            try d.decodeValues(encoding: page.encoding, data: data, count: present)
        }
    }

    /// Number of present values among the `n` level entries just added.
    func presentCount(newLevels n: Int) -> Int {
        guard maxDef > 0 else { return n }
        let target = UInt8(maxDef)
        return defLevels.withUnsafeBufferPointer { levels in
            var count = 0
            for i in (levels.count - n)..<levels.count where levels[i] == target { count += 1 }
            return count
        }
    }

    static func decodeLevelsV1(
        _ cursor: inout ByteCursor, encoding: ParquetEncoding, count: Int, max: Int, into levels: inout [UInt8]
    ) throws(ParquetError) {
        switch encoding {
        case .rle:
            let length = Int(try cursor.uint32LE())
            let data = try cursor.take(length)
            try ColumnChunkDecoder.decodeRLELevels(data, count: count, max: max, into: &levels)
        case .bitPacked:
            let width = bitWidth(of: max)
            let (bits, overflow) = count.multipliedReportingOverflow(by: width)
            guard !overflow else { throw .corrupt("BIT_PACKED level run too long") }
            let data = try cursor.take((bits + 7) / 8)
            let start = levels.appendZeros(count)
            levels.withUnsafeMutableBufferPointer { out in
                for i in 0..<count {
                    // Deprecated BIT_PACKED stores bits from the most significant end of each byte.
                    var value = 0
                    for b in 0..<width {
                        let bit = i * width + b
                        let byte = data[bit >> 3]
                        value = value << 1 | Int((byte >> (7 - UInt8(bit & 7))) & 1)
                    }
                    out[start + i] = UInt8(truncatingIfNeeded: value)
                }
            }
            try checkLevels(levels, from: start, max: max)
        default:
            throw .unsupported("level encoding \(encoding) is not supported")
        }
    }

    static func decodeRLELevels(_ data: UnsafeRawBufferPointer, count: Int, max: Int, into levels: inout [UInt8])
        throws(ParquetError)
    {
        var decoder = try RLEHybridDecoder(data, bitWidth: bitWidth(of: max))
        let start = levels.appendZeros(count)
        do throws(ParquetError) {
            try narrowingErrors {
                try levels.withUnsafeMutableBufferPointer { out in
                    if count > 0 { try decoder.decode(into: out.baseAddress! + start, count: count) }
                }
            }
        } catch {
            throw .corrupt("level data holds fewer than the \(count) levels the page header says (\(error.message))")
        }
        try checkLevels(levels, from: start, max: max)
    }

    static func checkLevels(_ levels: [UInt8], from start: Int, max: Int) throws(ParquetError) {
        let highest = levels.withUnsafeBufferPointer { buffer in
            var m: UInt8 = 0
            for i in start..<buffer.count { m = Swift.max(m, buffer[i]) }
            return m
        }
        guard Int(highest) <= max else { throw .corrupt("level \(highest) is larger than the column's maximum \(max)") }
    }

    // MARK: Values

    mutating func decodeValues(encoding: ParquetEncoding, data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        if count == 0 { return }
        var cursor = ByteCursor(data)
        switch encoding {
        case .plain:
            let budget = remainingBudget
            try ColumnChunkDecoder.decodePlain(&cursor, type: physicalType, width: width, count: count, budget: budget,
                                               bytes: &bytes, offsets: &offsets)
        case .plainDictionary, .rleDictionary:
            try decodeDictionaryIndices(&cursor, count: count)
        case .rle:
            guard physicalType == .boolean else {
                throw .unsupported("RLE encoding for \(physicalType) values is not supported")
            }
            let length = Int(try cursor.uint32LE())
            let payload = try cursor.take(length)
            var decoder = try RLEHybridDecoder(payload, bitWidth: 1)
            try checkBudget(adding: count)
            let start = bytes.appendZeros(count)
            try narrowingErrors {
                try bytes.withUnsafeMutableBufferPointer { out in
                    if count > 0 { try decoder.decode(into: out.baseAddress! + start, count: count) }
                }
            }
        case .deltaBinaryPacked:
            guard physicalType == .int32 || physicalType == .int64 else {
                throw .unsupported("DELTA_BINARY_PACKED encoding for \(physicalType) values is not supported")
            }
            var decoder = try DeltaBinaryPackedDecoder(cursor.rest)
            try checkBudget(adding: count * width)
            let start = bytes.appendZeros(count * width)
            let isInt32 = physicalType == .int32
            try narrowingErrors { try bytes.withUnsafeMutableBytes { raw in
                guard count > 0 else { return }
                let base = raw.baseAddress! + start
                if isInt32 {
                    try decoder.decode(into: base.assumingMemoryBound(to: Int32.self), count: count)
                } else {
                    try decoder.decode(into: base.assumingMemoryBound(to: Int64.self), count: count)
                }
            } }
        case .deltaLengthByteArray:
            guard physicalType == .byteArray else {
                throw .unsupported("DELTA_LENGTH_BYTE_ARRAY encoding for \(physicalType) values is not supported")
            }
            try decodeDeltaLength(&cursor, count: count)
        case .deltaByteArray:
            guard physicalType == .byteArray || physicalType == .fixedLenByteArray else {
                throw .unsupported("DELTA_BYTE_ARRAY encoding for \(physicalType) values is not supported")
            }
            try decodeDeltaByteArray(&cursor, count: count)
        case .byteStreamSplit:
            guard width > 0 && physicalType != .boolean && physicalType != .int96 else {
                throw .unsupported("BYTE_STREAM_SPLIT encoding for \(physicalType) values is not supported")
            }
            try decodeByteStreamSplit(data, count: count)
        default:
            throw .unsupported("value encoding \(encoding) is not supported")
        }
        valueCount += count
    }

    /// PLAIN values, appended to `bytes` (and `offsets` for BYTE_ARRAY).
    static func decodePlain(
        _ cursor: inout ByteCursor, type physicalType: ParquetPhysicalType, width: Int, count: Int, budget: Int,
        bytes: inout [UInt8], offsets: inout [Int]
    ) throws(ParquetError) {
        func checkBudget(adding n: Int) throws(ParquetError) {
            if n > budget {
                throw ParquetError(.resourceLimit,
                                   "decoded column chunk would exceed maxDecodedColumnBytes; raise the limit to read this file")
            }
        }
        switch physicalType {
        case .boolean:
            let needed = (count + 7) / 8
            let data = try cursor.take(needed)
            try checkBudget(adding: count)
            let start = bytes.appendZeros(count)
            bytes.withUnsafeMutableBufferPointer { out in
                let src = data.baseAddress
                for i in 0..<count {
                    out[start + i] = (src!.load(fromByteOffset: i >> 3, as: UInt8.self) >> UInt8(i & 7)) & 1
                }
            }
        case .byteArray:
            // First pass: validate lengths and size the output.
            let base = cursor.position
            var total = 0
            for _ in 0..<count {
                let length = Int(try cursor.uint32LE())
                _ = try cursor.take(length)
                total += length
            }
            try checkBudget(adding: total + count * 8)
            cursor.position = base
            let dataStart = bytes.appendZeros(total)
            let offsetStart = offsets.appendZeros(count)
            var end = offsetStart > 0 ? offsets[offsetStart - 1] : 0
            let src = cursor.base!
            var position = base
            bytes.withUnsafeMutableBytes { out in
                offsets.withUnsafeMutableBufferPointer { outOffsets in
                    var write = dataStart
                    for i in 0..<count {
                        let length = Int(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
                        position += 4
                        if length > 0 { (out.baseAddress! + write).copyMemory(from: src + position, byteCount: length) }
                        write += length
                        position += length
                        end += length
                        outOffsets[offsetStart + i] = end
                    }
                }
            }
            cursor.position = position
        default:
            let w = width
            guard count <= cursor.remaining / Swift.max(w, 1) else {
                throw .corrupt("page holds \(cursor.remaining) bytes of values, \(count) values of \(w) bytes were expected")
            }
            let data = try cursor.take(count * w)
            try checkBudget(adding: data.count)
            bytes.appendBytes(data)
        }
    }

    mutating func decodeDictionaryIndices(_ cursor: inout ByteCursor, count: Int) throws(ParquetError) {
        guard hasDictionary else { throw .corrupt("dictionary-encoded page without a dictionary page") }
        if count == 0 { return }
        let bitWidth = Int(try cursor.byte())
        var decoder = try RLEHybridDecoder(cursor.rest, bitWidth: bitWidth)
        if indices.count < count { indices = [UInt32](repeating: 0, count: count) }
        let dictCount = self.dictCount
        let highest: UInt32 = try narrowingErrors { try indices.withUnsafeMutableBufferPointer { idx in
            try decoder.decode(into: idx.baseAddress!, count: count)
            var m: UInt32 = 0
            for i in 0..<count { m = Swift.max(m, idx[i]) }
            return m
        } }
        guard Int(highest) < dictCount else {
            throw .corrupt("dictionary index \(highest) is out of range (the dictionary has \(dictCount) values)")
        }
        if width == 0 {
            let total: Int = dictOffsets.withUnsafeBufferPointer { off in
                indices.withUnsafeBufferPointer { idx in
                    var t = 0
                    for i in 0..<count {
                        let k = Int(idx[i])
                        t += off[k + 1] - off[k]
                    }
                    return t
                }
            }
            try checkBudget(adding: total + count * 8)
            let start = bytes.appendZeros(total)
            var end = offsets.last ?? 0
            let oldOffsets = offsets.count
            _ = offsets.appendZeros(count)
            dictBytes.withUnsafeBytes { dict in
                dictOffsets.withUnsafeBufferPointer { off in
                    indices.withUnsafeBufferPointer { idx in
                        bytes.withUnsafeMutableBytes { out in
                            offsets.withUnsafeMutableBufferPointer { outOffsets in
                                guard var write = out.baseAddress.map({ $0 + start }) else {
                                    // Every value is empty: only the offsets change.
                                    for i in 0..<count { outOffsets[oldOffsets + i] = end }
                                    return
                                }
                                for i in 0..<count {
                                    let k = Int(idx[i])
                                    let from = off[k]
                                    let length = off[k + 1] - from
                                    if length > 0 { write.copyMemory(from: dict.baseAddress! + from, byteCount: length) }
                                    write += length
                                    end += length
                                    outOffsets[oldOffsets + i] = end
                                }
                            }
                        }
                    }
                }
            }
        } else {
            let w = width
            try checkBudget(adding: count * w)
            let start = bytes.appendZeros(count * w)
            dictBytes.withUnsafeBytes { dict in
                indices.withUnsafeBufferPointer { idx in
                    bytes.withUnsafeMutableBytes { out in
                        let dst = out.baseAddress! + start
                        let src = dict.baseAddress!
                        switch w {
                        case 4:
                            let d = dst.assumingMemoryBound(to: UInt32.self)
                            let s = src.assumingMemoryBound(to: UInt32.self)
                            for i in 0..<count { d[i] = s[Int(idx[i])] }
                        case 8:
                            let d = dst.assumingMemoryBound(to: UInt64.self)
                            let s = src.assumingMemoryBound(to: UInt64.self)
                            for i in 0..<count { d[i] = s[Int(idx[i])] }
                        case 1:
                            let d = dst.assumingMemoryBound(to: UInt8.self)
                            let s = src.assumingMemoryBound(to: UInt8.self)
                            for i in 0..<count { d[i] = s[Int(idx[i])] }
                        default:
                            for i in 0..<count {
                                (dst + i * w).copyMemory(from: src + Int(idx[i]) * w, byteCount: w)
                            }
                        }
                    }
                }
            }
        }
    }

    mutating func decodeDeltaLength(_ cursor: inout ByteCursor, count: Int) throws(ParquetError) {
        var lengths = try DeltaBinaryPackedDecoder(cursor.rest)
        guard lengths.totalCount >= count, lengths.totalCount <= Swift.max(count, cursor.remaining) else {
            throw .corrupt("DELTA_LENGTH_BYTE_ARRAY holds \(lengths.totalCount) lengths, \(count) values were expected")
        }
        try checkBudget(adding: lengths.totalCount * 8)
        let all = try lengths.decodeAll()
        var data = lengths.cursor
        var total = 0
        for i in 0..<count {
            let l = all[i]
            guard l >= 0, l <= Int64(data.remaining) else { throw .corrupt("DELTA_LENGTH_BYTE_ARRAY length \(l) is invalid") }
            total += Int(l)
            guard total <= data.remaining else { throw .corrupt("DELTA_LENGTH_BYTE_ARRAY data ends early") }
        }
        try checkBudget(adding: total + count * 8)
        let payload = try data.take(total)
        if total > 0 { bytes.appendBytes(payload) }
        var end = offsets.last ?? 0
        offsets.reserveCapacity(offsets.count + count)
        for i in 0..<count {
            end += Int(all[i])
            offsets.append(end)
        }
        cursor = data
    }

    mutating func decodeDeltaByteArray(_ cursor: inout ByteCursor, count: Int) throws(ParquetError) {
        var prefixDecoder = try DeltaBinaryPackedDecoder(cursor.rest)
        guard prefixDecoder.totalCount >= count, prefixDecoder.totalCount <= Swift.max(count, cursor.remaining) else {
            throw .corrupt("DELTA_BYTE_ARRAY holds \(prefixDecoder.totalCount) prefixes, \(count) values were expected")
        }
        try checkBudget(adding: prefixDecoder.totalCount * 16)
        let prefixes = try prefixDecoder.decodeAll()
        var rest = prefixDecoder.cursor
        var suffixDecoder = try DeltaBinaryPackedDecoder(rest.rest)
        guard suffixDecoder.totalCount >= count, suffixDecoder.totalCount <= Swift.max(count, rest.remaining) else {
            throw .corrupt("DELTA_BYTE_ARRAY holds \(suffixDecoder.totalCount) suffixes, \(count) values were expected")
        }
        let suffixes = try suffixDecoder.decodeAll()
        rest = suffixDecoder.cursor
        // Validate and size everything before writing.
        var total = 0
        var suffixTotal = 0
        var previousLength = 0
        for i in 0..<count {
            let p = prefixes[i]
            let s = suffixes[i]
            guard p >= 0, p <= Int64(previousLength), s >= 0, s <= Int64(rest.remaining) else {
                throw .corrupt("DELTA_BYTE_ARRAY prefix \(p) or suffix \(s) is invalid")
            }
            suffixTotal += Int(s)
            guard suffixTotal <= rest.remaining else { throw .corrupt("DELTA_BYTE_ARRAY suffix data ends early") }
            previousLength = Int(p + s)
            if width > 0 && previousLength != width {
                throw .corrupt("DELTA_BYTE_ARRAY value of \(previousLength) bytes in a \(width)-byte column")
            }
            total += previousLength
            if total > options.maxDecodedColumnBytes {
                try checkBudget(adding: total)
            }
        }
        try checkBudget(adding: total + count * 8)
        let suffixData = try rest.take(suffixTotal)
        let start = bytes.appendZeros(total)
        var end = offsets.last ?? 0
        let isVariable = width == 0
        bytes.withUnsafeMutableBytes { out in
            var write = start
            var previousStart = start
            var read = 0
            for i in 0..<count {
                let p = Int(prefixes[i])
                let s = Int(suffixes[i])
                let valueStart = write
                if p > 0 { (out.baseAddress! + write).copyMemory(from: out.baseAddress! + previousStart, byteCount: p) }
                write += p
                if s > 0 { (out.baseAddress! + write).copyMemory(from: suffixData.baseAddress! + read, byteCount: s) }
                write += s
                read += s
                previousStart = valueStart
                if isVariable {
                    end += p + s
                    offsets.append(end)
                }
            }
        }
        cursor = rest
    }

    mutating func decodeByteStreamSplit(_ data: UnsafeRawBufferPointer, count: Int) throws(ParquetError) {
        let w = width
        guard data.count % w == 0 else {
            throw .corrupt("BYTE_STREAM_SPLIT page of \(data.count) bytes is not a multiple of \(w)")
        }
        let stride = data.count / w
        guard stride >= count else {
            throw .corrupt("BYTE_STREAM_SPLIT page holds \(stride) values, \(count) were expected")
        }
        try checkBudget(adding: count * w)
        let start = bytes.appendZeros(count * w)
        guard count > 0 else { return }
        bytes.withUnsafeMutableBytes { out in
            let dst = (out.baseAddress! + start).assumingMemoryBound(to: UInt8.self)
            let src = data.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for b in 0..<w {
                let stream = src + b * stride
                var d = dst + b
                for i in 0..<count {
                    d.pointee = stream[i]
                    d += w
                }
            }
        }
    }
}

/// Number of bits needed to store values up to `max`.
func bitWidth(of max: Int) -> Int {
    max <= 0 ? 0 : Int.bitWidth - max.leadingZeroBitCount
}
