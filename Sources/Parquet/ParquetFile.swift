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

    /// Decodes a column chunk whose bytes have been read.
    /// The decoded form of a chunk without values, for chunks that hold none (their offsets are often bogus).
    func emptyChunk(rowGroup: Int, column: Int) throws(ParquetError) -> ParquetColumnData? {
        guard rowGroup >= 0, rowGroup < rowGroups.count, column >= 0, column < schema.columns.count,
            rowGroups[rowGroup].columns[column].numValues == 0
        else { return nil }
        let descriptor = schema.columns[column]
        guard rowGroups[rowGroup].numRows == 0 else {
            throw ParquetError(.corrupt, "column chunk holds no values but its row group has \(rowGroups[rowGroup].numRows) rows",
                               rowGroup: rowGroup, columnPath: descriptor.dottedPath)
        }
        let decoder = ColumnChunkDecoder(column: descriptor, info: rowGroups[rowGroup].columns[column], options: options,
                                         rowGroup: rowGroup, chunkOffset: 0)
        let values = ParquetValueBuffer(physicalType: descriptor.physicalType, width: decoder.width, count: 0, bytes: [],
                                        offsets: decoder.width == 0 ? [0] : [])
        return ParquetColumnData(column: descriptor, rowGroup: rowGroup, rowCount: 0, levelCount: 0, values: values,
                                 definitionLevels: [], repetitionLevels: [])
    }

    func decodeChunk(rowGroup: Int, column: Int, bytes: [UInt8], offset: Int64) throws(ParquetError) -> ParquetColumnData {
        var decoder = ColumnChunkDecoder(column: schema.columns[column], info: rowGroups[rowGroup].columns[column],
                                         options: options, rowGroup: rowGroup, chunkOffset: offset)
        let rows = rowGroups[rowGroup].numRows
        return try narrowingErrors {
            try bytes.withUnsafeBytes { raw in try decoder.decode(chunk: raw, rowCount: rows) }
        }
    }

    /// Reads and decodes one column chunk.
    public func readColumn(rowGroup: Int, column: Int) async throws(ParquetError) -> ParquetColumnData {
        if let empty = try emptyChunk(rowGroup: rowGroup, column: column) { return empty }
        let (offset, length) = try chunkRange(rowGroup: rowGroup, column: column)
        let bytes: [UInt8]
        if let sync = source as? any ParquetSynchronousByteSource {
            do { bytes = try sync.readSynchronously(offset: offset, length: length) } catch let e as ParquetError {
                throw e.located(rowGroup: rowGroup, columnPath: schema.columns[column].dottedPath)
            } catch {
                throw ParquetError(.io, "reading the column chunk failed: \(error)", rowGroup: rowGroup,
                                   columnPath: schema.columns[column].dottedPath, byteOffset: offset)
            }
        } else {
            bytes = try await Self.read(source, offset: offset, length: length)
        }
        return try decodeChunk(rowGroup: rowGroup, column: column, bytes: bytes, offset: offset)
    }

    /// Reads and decodes one column chunk without suspending; the source must be synchronous.
    public func readColumnSynchronously(rowGroup: Int, column: Int) throws(ParquetError) -> ParquetColumnData {
        if let empty = try emptyChunk(rowGroup: rowGroup, column: column) { return empty }
        let (offset, length) = try chunkRange(rowGroup: rowGroup, column: column)
        guard let sync = source as? any ParquetSynchronousByteSource else {
            throw ParquetError(.io, "the byte source cannot be read synchronously")
        }
        let bytes: [UInt8]
        do { bytes = try sync.readSynchronously(offset: offset, length: length) } catch let e as ParquetError {
            throw e.located(rowGroup: rowGroup, columnPath: schema.columns[column].dottedPath)
        } catch {
            throw ParquetError(.io, "reading the column chunk failed", rowGroup: rowGroup, byteOffset: offset)
        }
        return try decodeChunk(rowGroup: rowGroup, column: column, bytes: bytes, offset: offset)
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
