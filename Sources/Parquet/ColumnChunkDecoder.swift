#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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

/// 64 KiB of zero bytes, the source for ``Array/appendZeros(_:)`` (copying is much faster than
/// the element-by-element loop `append(contentsOf: repeatElement(0, count:))` compiles to).
nonisolated(unsafe) private let zeroBlock: UnsafeRawPointer = UnsafeRawPointer(calloc(1, zeroBlockSize)!)
private let zeroBlockSize = 1 << 16

/// The arrays a decoded column chunk is built in; passed in to reuse their memory and handed
/// back filled.
struct ColumnBuffers: Sendable {
    var bytes: [UInt8] = []
    var offsets: [Int] = []
    var definitionLevels: [UInt8] = []
    var repetitionLevels: [UInt8] = []
}

/// Copies `length` bytes in 32-byte steps, so it may write up to 31 bytes past `dst + length`
/// and read up to 31 bytes past `src + length`; the caller guarantees both are in bounds.
@inline(__always)
func copyOvershooting(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ length: Int) {
    var done = 0
    repeat {
        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: done, as: SIMD16<UInt8>.self), toByteOffset: done,
                       as: SIMD16<UInt8>.self)
        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: done + 16, as: SIMD16<UInt8>.self),
                       toByteOffset: done + 16, as: SIMD16<UInt8>.self)
        done += 32
    } while done < length
}

/// Decodes the pages of one column chunk into reusable output buffers.
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

    var bytes: OutputBuffer<UInt8>
    var offsets: OutputBuffer<Int>
    var defLevels: OutputBuffer<UInt8>
    var repLevels: OutputBuffer<UInt8>
    var valueCount = 0
    var levelCount = 0
    /// Level entries that start a row (repetition level 0), when the column is repeated.
    var rowStarts = 0

    var hasDictionary = false
    /// Dictionary values; BYTE_ARRAY dictionaries end in ``dictionaryPadding`` zero bytes so
    /// that gathers can copy in fixed steps.
    var dictBytes: OutputBuffer<UInt8>
    var dictOffsets: OutputBuffer<Int>
    var dictCount = 0

    /// The decompressed page.
    var page: [UInt8]
    /// A batch of dictionary indices.
    var indices: [UInt32]
    /// The ZSTD context, for ZSTD chunks.
    var zstd: ZstdDecompressor?

    static let dictionaryPadding = 32
    static let indexBatch = 4096

    init(column: ParquetColumnDescriptor, info: ParquetColumnChunkInfo, options: ParquetReadOptions, rowGroup: Int,
         chunkOffset: Int64, output: inout ColumnBuffers, scratch: inout DecodeScratch)
    {
        self.column = column
        self.info = info
        self.options = options
        self.rowGroup = rowGroup
        self.chunkOffset = chunkOffset
        physicalType = column.physicalType
        width = ColumnChunkDecoder.valueWidth(column)
        maxDef = column.maxDefinitionLevel
        maxRep = column.maxRepetitionLevel
        // Each array is moved out of its holder so that this decoder's reference is the only one.
        bytes = OutputBuffer(reusing: output.bytes)
        offsets = OutputBuffer(reusing: output.offsets)
        defLevels = OutputBuffer(reusing: output.definitionLevels)
        repLevels = OutputBuffer(reusing: output.repetitionLevels)
        output = ColumnBuffers()
        dictBytes = OutputBuffer(reusing: scratch.dictBytes)
        dictOffsets = OutputBuffer(reusing: scratch.dictOffsets)
        page = scratch.page
        indices = scratch.indices
        if info.codec == .zstd {
            zstd = scratch.zstd ?? ZstdDecompressor()
            scratch.zstd = nil
        }
        scratch.dictBytes = []
        scratch.dictOffsets = []
        scratch.page = []
        scratch.indices = []
        if width == 0 { offsets.append(0) }
    }

    /// Bytes per value for fixed-width physical types, 0 for BYTE_ARRAY.
    static func valueWidth(_ column: ParquetColumnDescriptor) -> Int {
        switch column.physicalType {
        case .boolean: 1
        case .int32, .float: 4
        case .int64, .double: 8
        case .int96: 12
        case .byteArray: 0
        case .fixedLenByteArray: column.typeLength
        }
    }

    /// Hands the output arrays over (the scratch memory goes back to `scratch`).
    mutating func finish(scratch: inout DecodeScratch) -> ColumnBuffers {
        scratch.dictBytes = dictBytes.finish()
        scratch.dictOffsets = dictOffsets.finish()
        scratch.page = page
        scratch.indices = indices
        if let zstd { scratch.zstd = zstd }
        page = []
        indices = []
        return ColumnBuffers(bytes: bytes.finish(), offsets: width == 0 ? offsets.finish() : [],
                             definitionLevels: defLevels.finish(), repetitionLevels: repLevels.finish())
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

    /// Decodes every page of the chunk and returns the number of rows it holds.
    mutating func decode(chunk: UnsafeRawBufferPointer, rowCount: Int64) throws(ParquetError) -> Int {
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
            if levelCount > 0, let first = repLevels.withUnsafeBufferPointer({ $0.first }), first != 0 {
                throw location(.corrupt("the first repetition level of the column chunk is \(first), not 0"))
            }
            rows = rowStarts
        }
        guard Int64(rows) == rowCount else {
            throw location(.corrupt("column chunk holds \(rows) rows, its row group has \(rowCount)"))
        }
        return rows
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

    /// Decompresses `body` into the page buffer (or passes it on as is when stored plain).
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
        var buffer = page
        page = []
        defer { page = buffer }
        buffer.prepareScratch(length: size)
        let codec = info.codec
        let zstd = self.zstd
        return try buffer.withUnsafeMutableBufferPointer { (out) throws(ParquetError) -> R in
            let target = UnsafeMutableRawBufferPointer(start: out.baseAddress, count: size)
            try Codec.decompress(codec, input: body, output: target, zstd: zstd)
            return try work(&self, UnsafeRawBufferPointer(target))
        }
    }

    /// Whether PLAIN values of this column are fixed-width bytes that can be decompressed
    /// straight into the output.
    var plainIsRawCopy: Bool { width > 0 && physicalType != .boolean }

    /// Decompresses a page body that holds nothing but `count` PLAIN fixed-width values
    /// straight into the output, skipping the page buffer.
    mutating func decompressPlainValues(_ body: UnsafeRawBufferPointer, size: Int, count: Int) throws(ParquetError) {
        guard Codec.isSupported(info.codec) else {
            throw .unsupported("compression codec \(info.codec) is not supported")
        }
        let w = width
        guard count <= size / w else {
            throw .corrupt("page holds \(size) bytes of values, \(count) values of \(w) bytes were expected")
        }
        try checkBudget(adding: size)
        let codec = info.codec
        let zstd = self.zstd
        try bytes.write(upTo: size) { (out) throws(ParquetError) -> Int in
            try Codec.decompress(codec, input: body, output: UnsafeMutableRawBufferPointer(start: out, count: size),
                                 zstd: zstd)
            return count * w
        }
        valueCount += count
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
            d.dictBytes.removeAll()
            d.dictOffsets.removeAll()
            if d.width == 0 { d.dictOffsets.append(0) }
            try ColumnChunkDecoder.decodePlain(&cursor, type: d.physicalType, width: d.width, count: n,
                                                budget: d.remainingBudget, bytes: &d.dictBytes, offsets: &d.dictOffsets)
            if d.width == 0 {
                // The chunk's stored size says little about its decoded size here; the average
                // dictionary value does. Reserving it up front (memory is only touched when
                // written) saves regrowing and copying the output.
                if n > 0 {
                    let average = d.dictBytes.count / n
                    let levels = Int(clamping: d.info.numValues)
                    let (estimate, overflow) = levels.multipliedReportingOverflow(by: average)
                    // Plus room for the gathers' 32-byte steps past the last value.
                    let wanted = overflow ? .max : estimate &+ 2 * ColumnChunkDecoder.dictionaryPadding
                    d.bytes.reserveCapacity(Swift.min(wanted, d.options.maxDecodedColumnBytes / 4))
                }
                d.dictBytes.write(upTo: ColumnChunkDecoder.dictionaryPadding) { out in
                    out.update(repeating: 0, count: ColumnChunkDecoder.dictionaryPadding)
                    return ColumnChunkDecoder.dictionaryPadding
                }
            }
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
        let size = Int(header.uncompressedPageSize)
        if maxDef == 0 && maxRep == 0 && page.encoding == .plain && plainIsRawCopy && n > 0
            && info.codec != .uncompressed
        {
            // No levels: the whole page is values.
            levelCount += n
            try decompressPlainValues(body, size: size, count: n)
            return
        }
        try withPageData(body, compressed: true, size: size) { d, data throws(ParquetError) in
            var cursor = ByteCursor(data)
            if d.maxRep > 0 {
                d.rowStarts += try ColumnChunkDecoder.decodeLevelsV1(
                    &cursor, encoding: page.repetitionLevelEncoding, count: n, max: d.maxRep, counting: 0,
                    into: &d.repLevels)
            }
            var present = n
            if d.maxDef > 0 {
                present = try ColumnChunkDecoder.decodeLevelsV1(
                    &cursor, encoding: page.definitionLevelEncoding, count: n, max: d.maxDef, counting: UInt8(d.maxDef),
                    into: &d.defLevels)
            }
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
            rowStarts += try ColumnChunkDecoder.decodeRLELevels(
                UnsafeRawBufferPointer(rebasing: body[0..<repLength]), count: n, max: maxRep, counting: 0,
                into: &repLevels)
        }
        var present = n
        if maxDef > 0 {
            present = try ColumnChunkDecoder.decodeRLELevels(
                UnsafeRawBufferPointer(rebasing: body[repLength..<(repLength + defLength)]), count: n, max: maxDef,
                counting: UInt8(maxDef), into: &defLevels)
        }
        levelCount += n
        let valuesBody = UnsafeRawBufferPointer(rebasing: body[(repLength + defLength)...])
        let valuesSize = Int(header.uncompressedPageSize) - repLength - defLength
        if present == 0 && valuesBody.isEmpty { return }
        if page.isCompressed && info.codec != .uncompressed && page.encoding == .plain && plainIsRawCopy && present > 0 {
            try decompressPlainValues(valuesBody, size: valuesSize, count: present)
            return
        }
        try withPageData(valuesBody, compressed: page.isCompressed, size: valuesSize) { d, data throws(ParquetError) in
            try d.decodeValues(encoding: page.encoding, data: data, count: present)
        }
    }

    /// Decodes `count` v1 levels and returns how many equal `target`.
    static func decodeLevelsV1(
        _ cursor: inout ByteCursor, encoding: ParquetEncoding, count: Int, max: Int, counting target: UInt8,
        into levels: inout OutputBuffer<UInt8>
    ) throws(ParquetError) -> Int {
        switch encoding {
        case .rle:
            let length = Int(try cursor.uint32LE())
            let data = try cursor.take(length)
            return try ColumnChunkDecoder.decodeRLELevels(data, count: count, max: max, counting: target, into: &levels)
        case .bitPacked:
            let width = bitWidth(of: max)
            let (bits, overflow) = count.multipliedReportingOverflow(by: width)
            guard !overflow else { throw .corrupt("BIT_PACKED level run too long") }
            let data = try cursor.take((bits + 7) / 8)
            var matches = 0
            var highest: UInt8 = 0
            levels.write(upTo: count) { out in
                for i in 0..<count {
                    // Deprecated BIT_PACKED stores bits from the most significant end of each byte.
                    var value = 0
                    for b in 0..<width {
                        let bit = i * width + b
                        let byte = data[bit >> 3]
                        value = value << 1 | Int((byte >> (7 - UInt8(bit & 7))) & 1)
                    }
                    let level = UInt8(truncatingIfNeeded: value)
                    out[i] = level
                    if level == target { matches += 1 }
                    highest = Swift.max(highest, level)
                }
                return count
            }
            guard Int(highest) <= max else { throw .corrupt("level \(highest) is larger than the column's maximum \(max)") }
            return matches
        default:
            throw .unsupported("level encoding \(encoding) is not supported")
        }
    }

    /// Decodes `count` RLE / bit-packed levels, checks them against `max` and returns how
    /// many equal `target`.
    static func decodeRLELevels(
        _ data: UnsafeRawBufferPointer, count: Int, max: Int, counting target: UInt8, into levels: inout OutputBuffer<UInt8>
    ) throws(ParquetError) -> Int {
        var decoder = try RLEHybridDecoder(data, bitWidth: bitWidth(of: max))
        var result = (matches: 0, highest: UInt8(0))
        do throws(ParquetError) {
            try levels.write(upTo: count) { (out) throws(ParquetError) -> Int in
                if count > 0 { result = try decoder.decodeLevels(into: out, count: count, counting: target) }
                return count
            }
        } catch {
            throw .corrupt("level data holds fewer than the \(count) levels the page header says (\(error.message))")
        }
        guard Int(result.highest) <= max else {
            throw .corrupt("level \(result.highest) is larger than the column's maximum \(max)")
        }
        return result.matches
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
            try bytes.write(upTo: count) { (out) throws(ParquetError) -> Int in
                try decoder.decode(into: out, count: count)
                return count
            }
        case .deltaBinaryPacked:
            guard physicalType == .int32 || physicalType == .int64 else {
                throw .unsupported("DELTA_BINARY_PACKED encoding for \(physicalType) values is not supported")
            }
            var decoder = try DeltaBinaryPackedDecoder(cursor.rest)
            try checkBudget(adding: count * width)
            let isInt32 = physicalType == .int32
            try bytes.write(upTo: count * width) { (out) throws(ParquetError) -> Int in
                let base = UnsafeMutableRawPointer(out)
                if isInt32 {
                    try decoder.decode(into: base.assumingMemoryBound(to: Int32.self), count: count)
                } else {
                    try decoder.decode(into: base.assumingMemoryBound(to: Int64.self), count: count)
                }
                return count * (isInt32 ? 4 : 8)
            }
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
        bytes: inout OutputBuffer<UInt8>, offsets: inout OutputBuffer<Int>
    ) throws(ParquetError) {
        func checkBudget(adding n: Int) throws(ParquetError) {
            if n > budget {
                throw ParquetError(.resourceLimit,
                                   "decoded column chunk would exceed maxDecodedColumnBytes; raise the limit to read this file")
            }
        }
        guard count > 0 else { return }
        switch physicalType {
        case .boolean:
            let needed = (count + 7) / 8
            let data = try cursor.take(needed)
            try checkBudget(adding: count)
            bytes.write(upTo: count) { out in
                expandBits(data.baseAddress!, byteCount: data.count, firstBit: 0, count: count, into: out)
                return count
            }
        case .byteArray:
            try decodePlainByteArrays(&cursor, count: count, budget: budget, bytes: &bytes, offsets: &offsets)
        default:
            let w = width
            guard count <= cursor.remaining / Swift.max(w, 1) else {
                throw .corrupt("page holds \(cursor.remaining) bytes of values, \(count) values of \(w) bytes were expected")
            }
            let data = try cursor.take(count * w)
            try checkBudget(adding: data.count)
            bytes.append(copying: data)
        }
    }

    /// PLAIN BYTE_ARRAY values in one pass: each 4-byte length is checked against the bytes
    /// left, and the output is sized by the page (which bounds the total length).
    static func decodePlainByteArrays(
        _ cursor: inout ByteCursor, count: Int, budget: Int, bytes: inout OutputBuffer<UInt8>,
        offsets: inout OutputBuffer<Int>
    ) throws(ParquetError) {
        let available = cursor.remaining
        guard count <= available / 4, let src = cursor.base.map({ $0 + cursor.position }) else {
            throw .corrupt("data ends early (expected a 4-byte length)")
        }
        var end = offsets.last ?? 0
        var consumed = 0
        try bytes.write(upTo: available - 4 * count + 32) { (out) throws(ParquetError) -> Int in
            var written = 0
            try offsets.write(upTo: count) { (outOffsets) throws(ParquetError) -> Int in
                var position = 0
                for i in 0..<count {
                    guard available - position >= 4 else { throw .corrupt("data ends early (expected a 4-byte length)") }
                    let length = Int(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
                    position += 4
                    let left = available - position
                    guard length <= left else { throw .corrupt("a length of \(length) runs past the \(left) bytes left") }
                    if length <= 32 && left >= 32 {
                        copyOvershooting(UnsafeMutableRawPointer(out + written), src + position, length)
                    } else if length > 0 {
                        UnsafeMutableRawPointer(out + written).copyMemory(from: src + position, byteCount: length)
                    }
                    position += length
                    written += length
                    outOffsets[i] = end + written
                }
                consumed = position
                return count
            }
            guard written + count * 8 <= budget else {
                throw ParquetError(.resourceLimit,
                                   "decoded column chunk would exceed maxDecodedColumnBytes; raise the limit to read this file")
            }
            end += written
            return written
        }
        cursor.position += consumed
    }

    mutating func decodeDictionaryIndices(_ cursor: inout ByteCursor, count: Int) throws(ParquetError) {
        guard hasDictionary else { throw .corrupt("dictionary-encoded page without a dictionary page") }
        if count == 0 { return }
        let bitWidth = Int(try cursor.byte())
        var decoder = try RLEHybridDecoder(cursor.rest, bitWidth: bitWidth)
        let batch = ColumnChunkDecoder.indexBatch
        var indexBuffer = indices
        indices = []
        defer { indices = indexBuffer }
        if indexBuffer.count < batch { indexBuffer = [UInt32](repeating: 0, count: batch) }
        let dictCount = self.dictCount
        // Indices that cannot reach past the dictionary need no check.
        let needsCheck = bitWidth >= 32 || (1 << bitWidth) > dictCount
        if width > 0 {
            try checkBudget(adding: count * width)
            bytes.reserve(count * width)
        }
        try indexBuffer.withUnsafeMutableBufferPointer { (buffer) throws(ParquetError) in
            let idx = buffer.baseAddress!
            var done = 0
            while done < count {
                let n = Swift.min(batch, count - done)
                try decoder.decode(into: idx, count: n)
                if needsCheck {
                    var highest: UInt32 = 0
                    for i in 0..<n { highest = Swift.max(highest, idx[i]) }
                    guard Int(highest) < dictCount else {
                        throw .corrupt("dictionary index \(highest) is out of range (the dictionary has \(dictCount) values)")
                    }
                }
                if width == 0 {
                    try gatherByteArrays(idx, count: n)
                } else {
                    gatherFixed(idx, count: n)
                }
                done += n
            }
        }
    }

    /// Appends the dictionary values at `idx[0..<count]` (fixed width; indices checked).
    mutating func gatherFixed(_ idx: UnsafePointer<UInt32>, count: Int) {
        let w = width
        dictBytes.withUnsafeBufferPointer { dict in
            bytes.write(upTo: count * w) { out in
                let src = UnsafeRawPointer(dict.baseAddress!)
                let dst = UnsafeMutableRawPointer(out)
                switch w {
                case 8:
                    let d = dst.assumingMemoryBound(to: UInt64.self)
                    let s = src.assumingMemoryBound(to: UInt64.self)
                    for i in 0..<count { d[i] = s[Int(idx[i])] }
                case 4:
                    let d = dst.assumingMemoryBound(to: UInt32.self)
                    let s = src.assumingMemoryBound(to: UInt32.self)
                    for i in 0..<count { d[i] = s[Int(idx[i])] }
                case 1:
                    for i in 0..<count { out[i] = dict[Int(idx[i])] }
                case 16:
                    for i in 0..<count {
                        let v = src.loadUnaligned(fromByteOffset: Int(idx[i]) * 16, as: SIMD16<UInt8>.self)
                        dst.storeBytes(of: v, toByteOffset: i * 16, as: SIMD16<UInt8>.self)
                    }
                case 12:
                    for i in 0..<count {
                        let from = Int(idx[i]) * 12
                        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: from, as: UInt64.self), toByteOffset: i * 12,
                                       as: UInt64.self)
                        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: from + 8, as: UInt32.self),
                                       toByteOffset: i * 12 + 8, as: UInt32.self)
                    }
                default:
                    for i in 0..<count {
                        (dst + i * w).copyMemory(from: src + Int(idx[i]) * w, byteCount: w)
                    }
                }
                return count * w
            }
        }
    }

    /// Appends the BYTE_ARRAY dictionary values at `idx[0..<count]` (indices checked).
    mutating func gatherByteArrays(_ idx: UnsafePointer<UInt32>, count: Int) throws(ParquetError) {
        let total: Int = dictOffsets.withUnsafeBufferPointer { off in
            var t = 0
            for i in 0..<count {
                let k = Int(idx[i])
                t += off[k + 1] - off[k]
            }
            return t
        }
        try checkBudget(adding: total + count * 8)
        let end = offsets.last ?? 0
        dictBytes.withUnsafeBufferPointer { dict in
            dictOffsets.withUnsafeBufferPointer { off in
                // The dictionary ends in 32 bytes of padding and the output gets 32 spare
                // bytes, so every value is copied in whole 32-byte steps.
                bytes.write(upTo: total + 32) { out in
                    offsets.write(upTo: count) { outOffsets in
                        let src = UnsafeRawPointer(dict.baseAddress!)
                        let dst = UnsafeMutableRawPointer(out)
                        var written = 0
                        for i in 0..<count {
                            let k = Int(idx[i])
                            let from = off[k]
                            let length = off[k + 1] - from
                            copyOvershooting(dst + written, src + from, length)
                            written += length
                            outOffsets[i] = end + written
                        }
                        return count
                    }
                    return total
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
        if total > 0 { bytes.append(copying: payload) }
        var end = offsets.last ?? 0
        all.withUnsafeBufferPointer { lengths in
            offsets.write(upTo: count) { out in
                for i in 0..<count {
                    end += Int(lengths[i])
                    out[i] = end
                }
                return count
            }
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
        var end = offsets.last ?? 0
        let isVariable = width == 0
        bytes.write(upTo: total) { out in
            offsets.write(upTo: isVariable ? count : 0) { outOffsets in
                var write = 0
                var previousStart = 0
                var read = 0
                for i in 0..<count {
                    let p = Int(prefixes[i])
                    let s = Int(suffixes[i])
                    let valueStart = write
                    if p > 0 { (out + write).update(from: out + previousStart, count: p) }
                    write += p
                    if s > 0 {
                        UnsafeMutableRawPointer(out + write).copyMemory(from: suffixData.baseAddress! + read, byteCount: s)
                    }
                    write += s
                    read += s
                    previousStart = valueStart
                    if isVariable {
                        end += p + s
                        outOffsets[i] = end
                    }
                }
                return isVariable ? count : 0
            }
            return total
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
        guard count > 0 else { return }
        bytes.write(upTo: count * w) { out in
            let src = data.baseAddress!
            let dst = UnsafeMutableRawPointer(out)
            var i = 0
            // Blocks of 8 values: 8 bytes from each stream, transposed in registers.
            switch w {
            case 8:
                while i + 8 <= count {
                    var r0 = src.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    var r1 = src.loadUnaligned(fromByteOffset: stride + i, as: UInt64.self)
                    var r2 = src.loadUnaligned(fromByteOffset: 2 * stride + i, as: UInt64.self)
                    var r3 = src.loadUnaligned(fromByteOffset: 3 * stride + i, as: UInt64.self)
                    var r4 = src.loadUnaligned(fromByteOffset: 4 * stride + i, as: UInt64.self)
                    var r5 = src.loadUnaligned(fromByteOffset: 5 * stride + i, as: UInt64.self)
                    var r6 = src.loadUnaligned(fromByteOffset: 6 * stride + i, as: UInt64.self)
                    var r7 = src.loadUnaligned(fromByteOffset: 7 * stride + i, as: UInt64.self)
                    transposeBytes(&r0, &r1, &r2, &r3)
                    transposeBytes(&r4, &r5, &r6, &r7)
                    swapHalves(&r0, &r4)
                    swapHalves(&r1, &r5)
                    swapHalves(&r2, &r6)
                    swapHalves(&r3, &r7)
                    let o = dst + i * 8
                    o.storeBytes(of: r0, toByteOffset: 0, as: UInt64.self)
                    o.storeBytes(of: r1, toByteOffset: 8, as: UInt64.self)
                    o.storeBytes(of: r2, toByteOffset: 16, as: UInt64.self)
                    o.storeBytes(of: r3, toByteOffset: 24, as: UInt64.self)
                    o.storeBytes(of: r4, toByteOffset: 32, as: UInt64.self)
                    o.storeBytes(of: r5, toByteOffset: 40, as: UInt64.self)
                    o.storeBytes(of: r6, toByteOffset: 48, as: UInt64.self)
                    o.storeBytes(of: r7, toByteOffset: 56, as: UInt64.self)
                    i += 8
                }
            case 4:
                while i + 8 <= count {
                    var r0 = src.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    var r1 = src.loadUnaligned(fromByteOffset: stride + i, as: UInt64.self)
                    var r2 = src.loadUnaligned(fromByteOffset: 2 * stride + i, as: UInt64.self)
                    var r3 = src.loadUnaligned(fromByteOffset: 3 * stride + i, as: UInt64.self)
                    // Row r now holds value r in its low half and value 4 + r in its high half.
                    transposeBytes(&r0, &r1, &r2, &r3)
                    let o = dst + i * 4
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r0), toByteOffset: 0, as: UInt32.self)
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r1), toByteOffset: 4, as: UInt32.self)
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r2), toByteOffset: 8, as: UInt32.self)
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r3), toByteOffset: 12, as: UInt32.self)
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r0 >> 32), toByteOffset: 16, as: UInt32.self)
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r1 >> 32), toByteOffset: 20, as: UInt32.self)
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r2 >> 32), toByteOffset: 24, as: UInt32.self)
                    o.storeBytes(of: UInt32(truncatingIfNeeded: r3 >> 32), toByteOffset: 28, as: UInt32.self)
                    i += 8
                }
            default:
                break
            }
            // The rest (and other widths) byte by byte.
            let bytesIn = src.assumingMemoryBound(to: UInt8.self)
            for b in 0..<w {
                let stream = bytesIn + b * stride
                var d = out + i * w + b
                for k in i..<count {
                    d.pointee = stream[k]
                    d += w
                }
            }
            return count * w
        }
    }
}

/// Transposes the 4 x 4 byte blocks of four little-endian words seen as rows of bytes: after
/// the call, byte `c` of row `r` holds what was byte `r` of row `c` (within each 4-byte half).
@inline(__always)
func transposeBytes(_ r0: inout UInt64, _ r1: inout UInt64, _ r2: inout UInt64, _ r3: inout UInt64) {
    // 2 x 2 blocks of single bytes.
    let m1: UInt64 = 0x00FF_00FF_00FF_00FF
    var t = ((r0 >> 8) ^ r1) & m1
    r1 ^= t
    r0 ^= t << 8
    t = ((r2 >> 8) ^ r3) & m1
    r3 ^= t
    r2 ^= t << 8
    // 2 x 2 blocks of byte pairs.
    let m2: UInt64 = 0x0000_FFFF_0000_FFFF
    t = ((r0 >> 16) ^ r2) & m2
    r2 ^= t
    r0 ^= t << 16
    t = ((r1 >> 16) ^ r3) & m2
    r3 ^= t
    r1 ^= t << 16
}

/// Exchanges the high half of `a` with the low half of `b` (the last step of an 8 x 8 byte transpose).
@inline(__always)
func swapHalves(_ a: inout UInt64, _ b: inout UInt64) {
    let t = ((a >> 32) ^ b) & 0x0000_0000_FFFF_FFFF
    b ^= t
    a ^= t << 32
}

/// Number of bits needed to store values up to `max`.
func bitWidth(of max: Int) -> Int {
    max <= 0 ? 0 : Int.bitWidth - max.leadingZeroBitCount
}
