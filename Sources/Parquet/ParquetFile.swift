/// An open Parquet file: its footer (schema, row groups, metadata) and a way to decode its
/// column chunks one at a time.
///
/// ```swift
/// let file = try await ParquetFile.open(source: ParquetFileSource(path: "data.parquet"))
/// for group in 0..<file.rowGroups.count {
///     for column in file.schema.columns {
///         let data = try await file.readColumn(rowGroup: group, column: column.index)
///         // data.values, data.definitionLevels, data.repetitionLevels
///     }
/// }
/// ```
public final class ParquetFile: Sendable {
    /// Where the bytes come from.
    public let source: any ParquetByteSource
    /// The options the file was opened with.
    public let options: ParquetReadOptions
    /// The schema tree and leaf columns.
    public let schema: ParquetSchema
    /// Row groups in file order.
    public let rowGroups: [ParquetRowGroupInfo]
    /// Total number of rows, as recorded in the footer.
    public let numRows: Int64
    /// The writer's identification, if stored.
    public let createdBy: String?
    /// File-level key/value metadata.
    public let keyValueMetadata: [ParquetKeyValue]
    /// The format version from the footer.
    public let version: Int
    /// Absolute offset of the footer (the end of the data region).
    public let footerOffset: Int64

    private init(source: any ParquetByteSource, options: ParquetReadOptions, meta: FileMetaData, schema: ParquetSchema,
                 footerOffset: Int64)
    {
        self.source = source
        self.options = options
        self.schema = schema
        self.rowGroups = meta.rowGroups
        self.numRows = meta.numRows
        self.createdBy = meta.createdBy
        self.keyValueMetadata = meta.keyValueMetadata
        self.version = Int(meta.version)
        self.footerOffset = footerOffset
    }

    /// Opens a file by reading and checking its footer. No column data is read yet.
    public static func open(source: any ParquetByteSource, options: ParquetReadOptions = ParquetReadOptions())
        async throws(ParquetError) -> ParquetFile
    {
        let size = source.size
        guard size >= 12 else {
            throw ParquetError(.notParquet, "the file is \(size) bytes, too short to be Parquet")
        }
        let tail = try await read(source, offset: size - 8, length: 8)
        let lengthField = tail.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        let magic = Array(tail[4..<8])
        let footerLength = Int64(lengthField)
        if magic == Array("PARE".utf8) {
            throw ParquetError(.encrypted, ParquetError.encryptedMessage + " (the footer is encrypted)",
                               byteOffset: size - 4)
        }
        guard magic == Array("PAR1".utf8) else {
            throw ParquetError(.notParquet, "the file does not end with the Parquet magic bytes PAR1", byteOffset: size - 4)
        }
        let head = try await read(source, offset: 0, length: 4)
        guard head == Array("PAR1".utf8) || head == Array("PARE".utf8) else {
            throw ParquetError(.notParquet, "the file does not start with the Parquet magic bytes PAR1", byteOffset: 0)
        }
        guard footerLength <= size - 12 else {
            throw ParquetError(.corrupt, "the footer length \(footerLength) is larger than the file allows (\(size - 12))",
                               byteOffset: size - 8)
        }
        guard footerLength <= Int64(options.maxFooterBytes) else {
            throw ParquetError(.resourceLimit,
                               "the footer is \(footerLength) bytes, more than maxFooterBytes (\(options.maxFooterBytes))",
                               byteOffset: size - 8)
        }
        let footerOffset = size - 8 - footerLength
        let footer = try await read(source, offset: footerOffset, length: Int(footerLength))
        return try make(source: source, options: options, footer: footer, footerOffset: footerOffset)
    }

    /// Opens a local file.
    public static func open(path: String, options: ParquetReadOptions = ParquetReadOptions())
        async throws(ParquetError) -> ParquetFile
    {
        let source: ParquetFileSource
        do { source = try ParquetFileSource(path: path) } catch let e as ParquetError { throw e } catch {
            throw ParquetError(.io, "cannot open \(path)")
        }
        return try await open(source: source, options: options)
    }

    /// Opens a file held in memory without suspending (used by tools and the fuzzer).
    public static func openSynchronously(bytes: [UInt8], options: ParquetReadOptions = ParquetReadOptions())
        throws(ParquetError) -> ParquetFile
    {
        let source = ParquetMemorySource(bytes)
        let size = source.size
        guard size >= 12 else { throw ParquetError(.notParquet, "the file is \(size) bytes, too short to be Parquet") }
        let magic = Array(bytes[(bytes.count - 4)...])
        if magic == Array("PARE".utf8) {
            throw ParquetError(.encrypted, ParquetError.encryptedMessage + " (the footer is encrypted)", byteOffset: size - 4)
        }
        guard magic == Array("PAR1".utf8) else {
            throw ParquetError(.notParquet, "the file does not end with the Parquet magic bytes PAR1", byteOffset: size - 4)
        }
        guard Array(bytes[0..<4]) == Array("PAR1".utf8) else {
            throw ParquetError(.notParquet, "the file does not start with the Parquet magic bytes PAR1", byteOffset: 0)
        }
        let footerLength = bytes.withUnsafeBytes {
            Int64(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt32.self)))
        }
        guard footerLength <= size - 12 else {
            throw ParquetError(.corrupt, "the footer length \(footerLength) is larger than the file allows (\(size - 12))",
                               byteOffset: size - 8)
        }
        guard footerLength <= Int64(options.maxFooterBytes) else {
            throw ParquetError(.resourceLimit, "the footer is \(footerLength) bytes, more than maxFooterBytes", byteOffset: size - 8)
        }
        let footerOffset = size - 8 - footerLength
        let footer = Array(bytes[Int(footerOffset)..<(bytes.count - 8)])
        return try make(source: source, options: options, footer: footer, footerOffset: footerOffset)
    }

    private static func read(_ source: any ParquetByteSource, offset: Int64, length: Int) async throws(ParquetError)
        -> [UInt8]
    {
        let bytes: [UInt8]
        do { bytes = try await source.read(offset: offset, length: length) } catch let e as ParquetError {
            throw e
        } catch {
            throw ParquetError(.io, "reading \(length) bytes at offset \(offset) failed: \(error)", byteOffset: offset)
        }
        guard bytes.count == length else {
            throw ParquetError(.io, "the byte source returned \(bytes.count) bytes, \(length) were asked for",
                               byteOffset: offset)
        }
        return bytes
    }

    private static func make(source: any ParquetByteSource, options: ParquetReadOptions, footer: [UInt8],
                             footerOffset: Int64) throws(ParquetError) -> ParquetFile
    {
        let meta: FileMetaData = try narrowingErrors { try footer.withUnsafeBytes { raw in
            var reader = ThriftReader(raw, baseOffset: footerOffset)
            return try reader.fileMetaData()
        } }
        if meta.hasEncryptionAlgorithm || meta.rowGroups.contains(where: { $0.columns.contains(where: \.isEncrypted) }) {
            throw ParquetError(.encrypted, ParquetError.encryptedMessage + " (column data is encrypted)",
                               byteOffset: footerOffset)
        }
        let schema = try ParquetSchema(elements: meta.schema)
        guard meta.numRows >= 0 else { throw ParquetError(.corrupt, "the footer says the file has \(meta.numRows) rows") }
        var total: Int64 = 0
        for (index, group) in meta.rowGroups.enumerated() {
            guard group.columns.count == schema.columns.count else {
                throw ParquetError(.corrupt,
                                   "row group has \(group.columns.count) column chunks, the schema has \(schema.columns.count) leaf columns",
                                   rowGroup: index)
            }
            guard group.numRows >= 0 else {
                throw ParquetError(.corrupt, "row group has \(group.numRows) rows", rowGroup: index)
            }
            let (sum, overflow) = total.addingReportingOverflow(group.numRows)
            guard !overflow else { throw ParquetError(.corrupt, "row counts overflow", rowGroup: index) }
            total = sum
            for (c, chunk) in group.columns.enumerated() {
                let column = schema.columns[c]
                guard chunk.physicalType == column.physicalType else {
                    throw ParquetError(.corrupt,
                                       "column chunk type \(chunk.physicalType) differs from the schema's \(column.physicalType)",
                                       rowGroup: index, columnPath: column.dottedPath)
                }
            }
        }
        return ParquetFile(source: source, options: options, meta: meta, schema: schema, footerOffset: footerOffset)
    }

    /// Checks a chunk's byte range and returns it.
    func chunkRange(rowGroup: Int, column: Int) throws(ParquetError) -> (offset: Int64, length: Int) {
        guard rowGroup >= 0, rowGroup < rowGroups.count else {
            throw ParquetError(.corrupt, "row group \(rowGroup) does not exist (the file has \(rowGroups.count))")
        }
        guard column >= 0, column < schema.columns.count else {
            throw ParquetError(.corrupt, "column \(column) does not exist (the schema has \(schema.columns.count))")
        }
        let info = rowGroups[rowGroup].columns[column]
        let path = schema.columns[column].dottedPath
        if info.filePath != nil {
            throw ParquetError(.unsupported, "column data stored in another file is not supported", rowGroup: rowGroup,
                               columnPath: path)
        }
        guard Codec.isSupported(info.codec) else {
            throw ParquetError(.unsupported, "compression codec \(info.codec) is not supported", rowGroup: rowGroup,
                               columnPath: path)
        }
        let start = info.startOffset
        let length = info.totalCompressedSize
        guard start >= 4, length >= 0, start <= footerOffset, length <= footerOffset - start else {
            throw ParquetError(.corrupt,
                               "column chunk range (offset \(start), \(length) bytes) lies outside the data region (4..<\(footerOffset))",
                               rowGroup: rowGroup, columnPath: path, byteOffset: start)
        }
        guard length <= Int64(options.maxColumnChunkBytes) else {
            throw ParquetError(.resourceLimit,
                               "column chunk is \(length) bytes, more than maxColumnChunkBytes (\(options.maxColumnChunkBytes))",
                               rowGroup: rowGroup, columnPath: path, byteOffset: start)
        }
        return (start, Int(length))
    }

    /// Whether the chunk holds no values; such chunks are not read at all (their offsets are
    /// often bogus).
    func isEmptyChunk(rowGroup: Int, column: Int) throws(ParquetError) -> Bool {
        guard rowGroup >= 0, rowGroup < rowGroups.count, column >= 0, column < schema.columns.count,
            rowGroups[rowGroup].columns[column].numValues == 0
        else { return false }
        guard rowGroups[rowGroup].numRows == 0 else {
            throw ParquetError(.corrupt, "column chunk holds no values but its row group has \(rowGroups[rowGroup].numRows) rows",
                               rowGroup: rowGroup, columnPath: schema.columns[column].dottedPath)
        }
        return true
    }

    /// Takes reusable decode memory from the process-wide pool.
    private func takeScratch() -> DecodeScratch { DecodeMemoryPool.take() }

    private func keepScratch(_ memory: consuming DecodeScratch) { DecodeMemoryPool.give(memory) }

    /// Decodes the stored bytes of a chunk into `data`, reusing its buffers.
    private func decodeChunk(
        rowGroup: Int, column: Int, chunk: UnsafeRawBufferPointer, offset: Int64, into data: inout ParquetColumnData,
        scratch memory: inout DecodeScratch
    ) throws(ParquetError) {
        let descriptor = schema.columns[column]
        var buffers = data.takeBuffers()
        var decoder = ColumnChunkDecoder(column: descriptor, info: rowGroups[rowGroup].columns[column], options: options,
                                         rowGroup: rowGroup, chunkOffset: offset, output: &buffers, scratch: &memory)
        let rows: Int
        do throws(ParquetError) {
            rows = try decoder.decode(chunk: chunk, rowCount: rowGroups[rowGroup].numRows)
        } catch {
            _ = decoder.finish(scratch: &memory)
            data = ParquetColumnData(empty: descriptor, rowGroup: rowGroup)
            throw error
        }
        let levelCount = decoder.levelCount
        let valueCount = decoder.valueCount
        let output = decoder.finish(scratch: &memory)
        let values = ParquetValueBuffer(physicalType: descriptor.physicalType, width: decoder.width, count: valueCount,
                                        bytes: output.bytes, offsets: output.offsets)
        data = ParquetColumnData(column: descriptor, rowGroup: rowGroup, rowCount: rows, levelCount: levelCount,
                                 values: values, definitionLevels: output.definitionLevels,
                                 repetitionLevels: output.repetitionLevels)
    }

    /// Reads a chunk from a synchronous source and decodes it. Files and memory are read into
    /// the reused chunk buffer; other sources hand over their own array.
    private func readAndDecode(
        _ sync: any ParquetSynchronousByteSource, rowGroup: Int, column: Int, offset: Int64, length: Int,
        into data: inout ParquetColumnData
    ) throws(ParquetError) {
        let path = schema.columns[column].dottedPath
        var memory = takeScratch()
        defer { keepScratch(memory) }
        var chunk = memory.chunk
        memory.chunk = []
        defer { memory.chunk = chunk }
        let filled: Bool
        do {
            if let file = sync as? ParquetFileSource {
                chunk.prepareScratch(length: length)
                try chunk.withUnsafeMutableBufferPointer { buffer in
                    try file.read(offset: offset, length: length, into: UnsafeMutableRawPointer(buffer.baseAddress!))
                }
                filled = true
            } else if let held = sync as? ParquetMemorySource {
                chunk.prepareScratch(length: length)
                try chunk.withUnsafeMutableBufferPointer { buffer in
                    try held.read(offset: offset, length: length, into: UnsafeMutableRawPointer(buffer.baseAddress!))
                }
                filled = true
            } else {
                filled = false
            }
        } catch let e as ParquetError {
            throw e.located(rowGroup: rowGroup, columnPath: path)
        } catch {
            throw ParquetError(.io, "reading the column chunk failed: \(error)", rowGroup: rowGroup, columnPath: path,
                               byteOffset: offset)
        }
        if filled {
            try chunk.withUnsafeBufferPointer { (buffer) throws(ParquetError) in
                try decodeChunk(rowGroup: rowGroup, column: column,
                                chunk: UnsafeRawBufferPointer(start: buffer.baseAddress, count: length), offset: offset,
                                into: &data, scratch: &memory)
            }
            return
        }
        let bytes: [UInt8]
        do { bytes = try sync.readSynchronously(offset: offset, length: length) } catch let e as ParquetError {
            throw e.located(rowGroup: rowGroup, columnPath: path)
        } catch {
            throw ParquetError(.io, "reading the column chunk failed: \(error)", rowGroup: rowGroup, columnPath: path,
                               byteOffset: offset)
        }
        guard bytes.count == length else {
            throw ParquetError(.io, "the byte source returned \(bytes.count) bytes, \(length) were asked for",
                               rowGroup: rowGroup, columnPath: path, byteOffset: offset)
        }
        try bytes.withUnsafeBufferPointer { (buffer) throws(ParquetError) in
            try decodeChunk(rowGroup: rowGroup, column: column, chunk: UnsafeRawBufferPointer(buffer), offset: offset,
                            into: &data, scratch: &memory)
        }
    }

    /// Reads and decodes one column chunk.
    public func readColumn(rowGroup: Int, column: Int) async throws(ParquetError) -> ParquetColumnData {
        var data = ParquetColumnData()
        try await readColumn(rowGroup: rowGroup, column: column, into: &data)
        return data
    }

    /// Reads and decodes one column chunk into `data`, reusing the memory of its arrays.
    ///
    /// Decoding chunk after chunk into the same value skips the page faults of fresh memory,
    /// which otherwise cost as much as decoding fixed-width columns. The arrays are only reused
    /// when nothing else holds them (copies of `data` or of its arrays keep their contents,
    /// as usual for Swift values). Start from ``ParquetColumnData/init()``:
    ///
    /// ```swift
    /// var data = ParquetColumnData()
    /// for group in file.rowGroups.indices {
    ///     try await file.readColumn(rowGroup: group, column: 0, into: &data)
    ///     // use data before the next read replaces it
    /// }
    /// ```
    ///
    /// On error `data` is left empty.
    public func readColumn(rowGroup: Int, column: Int, into data: inout ParquetColumnData) async throws(ParquetError) {
        if try isEmptyChunk(rowGroup: rowGroup, column: column) {
            data.clear(column: schema.columns[column], rowGroup: rowGroup)
            return
        }
        let (offset, length) = try chunkRange(rowGroup: rowGroup, column: column)
        if let sync = source as? any ParquetSynchronousByteSource {
            try readAndDecode(sync, rowGroup: rowGroup, column: column, offset: offset, length: length, into: &data)
            return
        }
        let bytes = try await Self.read(source, offset: offset, length: length)
        var memory = takeScratch()
        defer { keepScratch(memory) }
        try bytes.withUnsafeBufferPointer { (buffer) throws(ParquetError) in
            try decodeChunk(rowGroup: rowGroup, column: column, chunk: UnsafeRawBufferPointer(buffer), offset: offset,
                            into: &data, scratch: &memory)
        }
    }

    /// Reads and decodes one column chunk without suspending; the source must be synchronous.
    public func readColumnSynchronously(rowGroup: Int, column: Int) throws(ParquetError) -> ParquetColumnData {
        var data = ParquetColumnData()
        try readColumnSynchronously(rowGroup: rowGroup, column: column, into: &data)
        return data
    }

    /// Reads and decodes one column chunk into `data` without suspending, reusing the memory
    /// of its arrays (see ``readColumn(rowGroup:column:into:)``); the source must be synchronous.
    public func readColumnSynchronously(rowGroup: Int, column: Int, into data: inout ParquetColumnData)
        throws(ParquetError)
    {
        if try isEmptyChunk(rowGroup: rowGroup, column: column) {
            data.clear(column: schema.columns[column], rowGroup: rowGroup)
            return
        }
        let (offset, length) = try chunkRange(rowGroup: rowGroup, column: column)
        guard let sync = source as? any ParquetSynchronousByteSource else {
            throw ParquetError(.io, "the byte source cannot be read synchronously")
        }
        try readAndDecode(sync, rowGroup: rowGroup, column: column, offset: offset, length: length, into: &data)
    }

    /// Reads and decodes every column chunk of a row group, in schema order.
    public func readRowGroup(_ rowGroup: Int) async throws(ParquetError) -> [ParquetColumnData] {
        var result: [ParquetColumnData] = []
        for column in schema.columns.indices {
            result.append(try await readColumn(rowGroup: rowGroup, column: column))
        }
        return result
    }
}
