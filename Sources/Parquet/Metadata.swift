/// One entry of the flattened schema list in the footer.
struct SchemaElement: Sendable {
    var type: ParquetPhysicalType?
    var typeLength: Int32?
    var repetition: ParquetRepetition?
    var name = ""
    var numChildren: Int32?
    var convertedType: ParquetConvertedType?
    var scale: Int32?
    var precision: Int32?
    var fieldId: Int32?
    var logicalType: ParquetLogicalType?
}

/// A key/value pair from the footer or a column chunk.
public struct ParquetKeyValue: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The value, absent when the writer stored none.
    public var value: String?
}

/// Metadata of one column chunk (one leaf column inside one row group).
public struct ParquetColumnChunkInfo: Sendable {
    /// Path of the leaf in the schema, e.g. `["a", "list", "element"]`.
    public var pathInSchema: [String]
    /// Physical type as recorded in the chunk.
    public var physicalType: ParquetPhysicalType
    /// Encodings the writer says it used (pages may still use others).
    public var encodings: [ParquetEncoding]
    /// The compression codec of every page of the chunk.
    public var codec: ParquetCompression
    /// Number of values (level entries, nulls included) in the chunk.
    public var numValues: Int64
    /// Size of the chunk's pages after decompression, headers included.
    public var totalUncompressedSize: Int64
    /// Size of the chunk's pages as stored, headers included.
    public var totalCompressedSize: Int64
    /// Offset of the first data page.
    public var dataPageOffset: Int64
    /// Offset of the dictionary page, when the writer recorded a plausible one.
    public var dictionaryPageOffset: Int64?
    /// Offset of the (unused) index page, if any.
    public var indexPageOffset: Int64?
    /// Key/value metadata attached to the chunk.
    public var keyValueMetadata: [ParquetKeyValue]
    /// Set when the chunk lives in another file (not supported for reading).
    public var filePath: String?
    /// Set when the column chunk's metadata or data is encrypted.
    public var isEncrypted: Bool

    /// First byte of the chunk: the dictionary page if there is one, else the first data page.
    public var startOffset: Int64 {
        if let d = dictionaryPageOffset, d > 0, d < dataPageOffset { return d }
        return dataPageOffset
    }
}

/// Metadata of one row group.
public struct ParquetRowGroupInfo: Sendable {
    /// Number of rows in the group.
    public var numRows: Int64
    /// Total uncompressed size of the group's data as recorded by the writer.
    public var totalByteSize: Int64
    /// One entry per leaf column, in schema order.
    public var columns: [ParquetColumnChunkInfo]
}

struct FileMetaData: Sendable {
    var version: Int32 = 0
    var schema: [SchemaElement] = []
    var numRows: Int64 = 0
    var rowGroups: [ParquetRowGroupInfo] = []
    var keyValueMetadata: [ParquetKeyValue] = []
    var createdBy: String?
    var hasEncryptionAlgorithm = false
}

enum PageType: Int32 {
    case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3
}

struct DataPageHeader {
    var numValues: Int32 = 0
    var encoding = ParquetEncoding.plain
    var definitionLevelEncoding = ParquetEncoding.rle
    var repetitionLevelEncoding = ParquetEncoding.rle
}

struct DataPageHeaderV2 {
    var numValues: Int32 = 0
    var numNulls: Int32 = 0
    var numRows: Int32 = 0
    var encoding = ParquetEncoding.plain
    var definitionLevelsByteLength: Int32 = 0
    var repetitionLevelsByteLength: Int32 = 0
    var isCompressed = true
}

struct DictionaryPageHeader {
    var numValues: Int32 = 0
    var encoding = ParquetEncoding.plain
}

struct PageHeader {
    var type: Int32 = -1
    var uncompressedPageSize: Int32 = -1
    var compressedPageSize: Int32 = -1
    var crc: Int32?
    var dataPage: DataPageHeader?
    var dataPageV2: DataPageHeaderV2?
    var dictionaryPage: DictionaryPageHeader?
}

// MARK: - Parsing

extension ThriftReader {
    mutating func fileMetaData() throws(ParquetError) -> FileMetaData {
        var meta = FileMetaData()
        var sawSchema = false
        try structure { r, id, t throws(ParquetError) in
            switch id {
            case 1: meta.version = try r.i32(t)
            case 2:
                meta.schema = try r.list(t) { r, t throws(ParquetError) in try r.schemaElement(t) }
                sawSchema = true
            case 3: meta.numRows = try r.i64(t)
            case 4: meta.rowGroups = try r.list(t) { r, t throws(ParquetError) in try r.rowGroup(t) }
            case 5: meta.keyValueMetadata = try r.list(t) { r, t throws(ParquetError) in try r.keyValue(t) }
            case 6: meta.createdBy = try r.string(t)
            case 8:
                meta.hasEncryptionAlgorithm = true
                return false
            default: return false
            }
            return true
        }
        guard sawSchema else { throw error("the footer has no schema") }
        return meta
    }

    mutating func keyValue(_ type: WireType) throws(ParquetError) -> ParquetKeyValue {
        var kv = ParquetKeyValue(key: "", value: nil)
        try structure(type) { r, id, t throws(ParquetError) in
            switch id {
            case 1: kv.key = try r.string(t)
            case 2: kv.value = try r.string(t)
            default: return false
            }
            return true
        }
        return kv
    }

    mutating func schemaElement(_ type: WireType) throws(ParquetError) -> SchemaElement {
        var e = SchemaElement()
        try structure(type) { r, id, t throws(ParquetError) in
            switch id {
            case 1:
                let raw = try r.i32(t)
                guard let p = ParquetPhysicalType(rawValue: raw) else { throw r.error("unknown physical type \(raw)") }
                e.type = p
            case 2: e.typeLength = try r.i32(t)
            case 3:
                let raw = try r.i32(t)
                guard let rep = ParquetRepetition(rawValue: raw) else { throw r.error("unknown repetition \(raw)") }
                e.repetition = rep
            case 4: e.name = try r.string(t)
            case 5: e.numChildren = try r.i32(t)
            case 6: e.convertedType = ParquetConvertedType(rawValue: try r.i32(t))
            case 7: e.scale = try r.i32(t)
            case 8: e.precision = try r.i32(t)
            case 9: e.fieldId = try r.i32(t)
            case 10: e.logicalType = try r.logicalType(t)
            default: return false
            }
            return true
        }
        return e
    }

    mutating func timeUnit(_ type: WireType) throws(ParquetError) -> ParquetTimeUnit? {
        var unit: ParquetTimeUnit?
        try structure(type) { r, id, t throws(ParquetError) in
            switch id {
            case 1: unit = .millis
            case 2: unit = .micros
            case 3: unit = .nanos
            default: return false
            }
            try r.skip(t)
            return true
        }
        return unit
    }

    mutating func logicalType(_ type: WireType) throws(ParquetError) -> ParquetLogicalType? {
        var result: ParquetLogicalType?
        try structure(type) { r, id, t throws(ParquetError) in
            switch id {
            case 1: result = .string
            case 2: result = .map
            case 3: result = .list
            case 4: result = .enumeration
            case 5:
                var scale: Int32 = 0
                var precision: Int32 = 0
                try r.structure(t) { r, id, t throws(ParquetError) in
                    switch id {
                    case 1: scale = try r.i32(t)
                    case 2: precision = try r.i32(t)
                    default: return false
                    }
                    return true
                }
                result = .decimal(precision: Int(precision), scale: Int(scale))
                return true
            case 6: result = .date
            case 7, 8:
                var utc = false
                var unit: ParquetTimeUnit?
                try r.structure(t) { r, fid, ft throws(ParquetError) in
                    switch fid {
                    case 1: utc = try r.bool(ft)
                    case 2: unit = try r.timeUnit(ft)
                    default: return false
                    }
                    return true
                }
                if let unit {
                    result = id == 7 ? .time(unit: unit, isAdjustedToUTC: utc) : .timestamp(unit: unit, isAdjustedToUTC: utc)
                } else {
                    result = .unknown(id: Int(id))
                }
                return true
            case 10:
                var width: Int32 = 0
                var signed = true
                try r.structure(t) { r, fid, ft throws(ParquetError) in
                    switch fid {
                    case 1: width = try r.i32(ft)
                    case 2: signed = try r.bool(ft)
                    default: return false
                    }
                    return true
                }
                result = .integer(bitWidth: Int(width), isSigned: signed)
                return true
            case 11: result = .null
            case 12: result = .json
            case 13: result = .bson
            case 14: result = .uuid
            case 15: result = .float16
            case 16: result = .variant
            case 17: result = .geometry
            case 18: result = .geography
            default: result = .unknown(id: Int(id))
            }
            try r.skip(t)
            return true
        }
        return result
    }

    mutating func rowGroup(_ type: WireType) throws(ParquetError) -> ParquetRowGroupInfo {
        var group = ParquetRowGroupInfo(numRows: 0, totalByteSize: 0, columns: [])
        try structure(type) { r, id, t throws(ParquetError) in
            switch id {
            case 1: group.columns = try r.list(t) { r, t throws(ParquetError) in try r.columnChunk(t) }
            case 2: group.totalByteSize = try r.i64(t)
            case 3: group.numRows = try r.i64(t)
            default: return false
            }
            return true
        }
        return group
    }

    mutating func columnChunk(_ type: WireType) throws(ParquetError) -> ParquetColumnChunkInfo {
        var chunk: ParquetColumnChunkInfo?
        var filePath: String?
        var encrypted = false
        try structure(type) { r, id, t throws(ParquetError) in
            switch id {
            case 1: filePath = try r.string(t)
            case 3: chunk = try r.columnMetaData(t)
            case 8, 9:
                encrypted = true
                return false
            default: return false
            }
            return true
        }
        guard var chunk else {
            if encrypted {
                throw ParquetError(.encrypted, ParquetError.encryptedMessage + " (column metadata is encrypted)",
                                   byteOffset: baseOffset + Int64(position))
            }
            throw error("a column chunk has no metadata")
        }
        chunk.filePath = filePath
        chunk.isEncrypted = encrypted
        return chunk
    }

    mutating func columnMetaData(_ type: WireType) throws(ParquetError) -> ParquetColumnChunkInfo {
        var c = ParquetColumnChunkInfo(
            pathInSchema: [], physicalType: .int32, encodings: [], codec: .uncompressed, numValues: 0,
            totalUncompressedSize: 0, totalCompressedSize: 0, dataPageOffset: 0, dictionaryPageOffset: nil,
            indexPageOffset: nil, keyValueMetadata: [], filePath: nil, isEncrypted: false)
        var sawType = false
        try structure(type) { r, id, t throws(ParquetError) in
            switch id {
            case 1:
                let raw = try r.i32(t)
                guard let p = ParquetPhysicalType(rawValue: raw) else { throw r.error("unknown physical type \(raw)") }
                c.physicalType = p
                sawType = true
            case 2:
                c.encodings = try r.list(t) { r, t throws(ParquetError) in ParquetEncoding(rawValue: try r.i32(t)) }
            case 3: c.pathInSchema = try r.list(t) { r, t throws(ParquetError) in try r.string(t) }
            case 4: c.codec = ParquetCompression(rawValue: try r.i32(t))
            case 5: c.numValues = try r.i64(t)
            case 6: c.totalUncompressedSize = try r.i64(t)
            case 7: c.totalCompressedSize = try r.i64(t)
            case 8: c.keyValueMetadata = try r.list(t) { r, t throws(ParquetError) in try r.keyValue(t) }
            case 9: c.dataPageOffset = try r.i64(t)
            case 10: c.indexPageOffset = try r.i64(t)
            case 11: c.dictionaryPageOffset = try r.i64(t)
            default: return false
            }
            return true
        }
        guard sawType else { throw error("column metadata has no type") }
        return c
    }

    mutating func pageHeader() throws(ParquetError) -> PageHeader {
        var h = PageHeader()
        try structure { r, id, t throws(ParquetError) in
            switch id {
            case 1: h.type = try r.i32(t)
            case 2: h.uncompressedPageSize = try r.i32(t)
            case 3: h.compressedPageSize = try r.i32(t)
            case 4: h.crc = try r.i32(t)
            case 5:
                var d = DataPageHeader()
                try r.structure(t) { r, id, t throws(ParquetError) in
                    switch id {
                    case 1: d.numValues = try r.i32(t)
                    case 2: d.encoding = ParquetEncoding(rawValue: try r.i32(t))
                    case 3: d.definitionLevelEncoding = ParquetEncoding(rawValue: try r.i32(t))
                    case 4: d.repetitionLevelEncoding = ParquetEncoding(rawValue: try r.i32(t))
                    default: return false
                    }
                    return true
                }
                h.dataPage = d
            case 7:
                var d = DictionaryPageHeader()
                try r.structure(t) { r, id, t throws(ParquetError) in
                    switch id {
                    case 1: d.numValues = try r.i32(t)
                    case 2: d.encoding = ParquetEncoding(rawValue: try r.i32(t))
                    default: return false
                    }
                    return true
                }
                h.dictionaryPage = d
            case 8:
                var d = DataPageHeaderV2()
                try r.structure(t) { r, id, t throws(ParquetError) in
                    switch id {
                    case 1: d.numValues = try r.i32(t)
                    case 2: d.numNulls = try r.i32(t)
                    case 3: d.numRows = try r.i32(t)
                    case 4: d.encoding = ParquetEncoding(rawValue: try r.i32(t))
                    case 5: d.definitionLevelsByteLength = try r.i32(t)
                    case 6: d.repetitionLevelsByteLength = try r.i32(t)
                    case 7: d.isCompressed = try r.bool(t)
                    default: return false
                    }
                    return true
                }
                h.dataPageV2 = d
            default: return false
            }
            return true
        }
        return h
    }
}
