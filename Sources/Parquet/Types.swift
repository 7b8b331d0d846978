/// The physical (storage) type of a leaf column.
public enum ParquetPhysicalType: Int32, Sendable, Hashable, CustomStringConvertible {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7

    /// The name used by the format specification, e.g. `FIXED_LEN_BYTE_ARRAY`.
    public var description: String {
        switch self {
        case .boolean: "BOOLEAN"
        case .int32: "INT32"
        case .int64: "INT64"
        case .int96: "INT96"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .byteArray: "BYTE_ARRAY"
        case .fixedLenByteArray: "FIXED_LEN_BYTE_ARRAY"
        }
    }
}

/// How often a schema field occurs in its parent.
public enum ParquetRepetition: Int32, Sendable, Hashable, CustomStringConvertible {
    case required = 0, optional = 1, repeated = 2

    /// `required`, `optional` or `repeated`.
    public var description: String {
        switch self {
        case .required: "required"
        case .optional: "optional"
        case .repeated: "repeated"
        }
    }
}

/// A compression codec id from the file metadata; ids this reader does not know are kept.
public struct ParquetCompression: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The Thrift id.
    public let rawValue: Int32
    /// Wraps a Thrift id.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let uncompressed = Self(rawValue: 0)
    public static let snappy = Self(rawValue: 1)
    public static let gzip = Self(rawValue: 2)
    public static let lzo = Self(rawValue: 3)
    public static let brotli = Self(rawValue: 4)
    /// LZ4 with the Hadoop framing (deprecated); raw LZ4 blocks are accepted too.
    public static let lz4 = Self(rawValue: 5)
    public static let zstd = Self(rawValue: 6)
    public static let lz4Raw = Self(rawValue: 7)

    /// The specification's name, e.g. `LZ4_RAW`, or `CODEC(9)` for an unknown id.
    public var description: String {
        switch rawValue {
        case 0: "UNCOMPRESSED"
        case 1: "SNAPPY"
        case 2: "GZIP"
        case 3: "LZO"
        case 4: "BROTLI"
        case 5: "LZ4"
        case 6: "ZSTD"
        case 7: "LZ4_RAW"
        default: "CODEC(\(rawValue))"
        }
    }
}

/// A value or level encoding id from the file metadata; unknown ids are kept.
public struct ParquetEncoding: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The Thrift id.
    public let rawValue: Int32
    /// Wraps a Thrift id.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let plain = Self(rawValue: 0)
    public static let plainDictionary = Self(rawValue: 2)
    public static let rle = Self(rawValue: 3)
    public static let bitPacked = Self(rawValue: 4)
    public static let deltaBinaryPacked = Self(rawValue: 5)
    public static let deltaLengthByteArray = Self(rawValue: 6)
    public static let deltaByteArray = Self(rawValue: 7)
    public static let rleDictionary = Self(rawValue: 8)
    public static let byteStreamSplit = Self(rawValue: 9)

    /// The specification's name, e.g. `RLE_DICTIONARY`, or `ENCODING(12)` for an unknown id.
    public var description: String {
        switch rawValue {
        case 0: "PLAIN"
        case 2: "PLAIN_DICTIONARY"
        case 3: "RLE"
        case 4: "BIT_PACKED"
        case 5: "DELTA_BINARY_PACKED"
        case 6: "DELTA_LENGTH_BYTE_ARRAY"
        case 7: "DELTA_BYTE_ARRAY"
        case 8: "RLE_DICTIONARY"
        case 9: "BYTE_STREAM_SPLIT"
        default: "ENCODING(\(rawValue))"
        }
    }
}

/// The legacy converted type annotation; unknown ids are kept.
public struct ParquetConvertedType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The Thrift id.
    public let rawValue: Int32
    /// Wraps a Thrift id.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let utf8 = Self(rawValue: 0)
    public static let map = Self(rawValue: 1)
    public static let mapKeyValue = Self(rawValue: 2)
    public static let list = Self(rawValue: 3)
    public static let enumeration = Self(rawValue: 4)
    public static let decimal = Self(rawValue: 5)
    public static let date = Self(rawValue: 6)
    public static let timeMillis = Self(rawValue: 7)
    public static let timeMicros = Self(rawValue: 8)
    public static let timestampMillis = Self(rawValue: 9)
    public static let timestampMicros = Self(rawValue: 10)
    public static let uint8 = Self(rawValue: 11)
    public static let uint16 = Self(rawValue: 12)
    public static let uint32 = Self(rawValue: 13)
    public static let uint64 = Self(rawValue: 14)
    public static let int8 = Self(rawValue: 15)
    public static let int16 = Self(rawValue: 16)
    public static let int32 = Self(rawValue: 17)
    public static let int64 = Self(rawValue: 18)
    public static let json = Self(rawValue: 19)
    public static let bson = Self(rawValue: 20)
    public static let interval = Self(rawValue: 21)

    private static let names = [
        "UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL", "DATE", "TIME_MILLIS", "TIME_MICROS",
        "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS", "UINT_8", "UINT_16", "UINT_32", "UINT_64", "INT_8", "INT_16",
        "INT_32", "INT_64", "JSON", "BSON", "INTERVAL",
    ]

    /// The specification's name, e.g. `TIMESTAMP_MILLIS`.
    public var description: String {
        rawValue >= 0 && Int(rawValue) < Self.names.count ? Self.names[Int(rawValue)] : "CONVERTED(\(rawValue))"
    }
}

/// The unit of a TIME or TIMESTAMP value.
public enum ParquetTimeUnit: Sendable, Hashable, CustomStringConvertible {
    case millis, micros, nanos

    /// How many units make one second.
    public var perSecond: Int64 {
        switch self {
        case .millis: 1_000
        case .micros: 1_000_000
        case .nanos: 1_000_000_000
        }
    }

    /// Number of fraction digits this unit prints with.
    public var fractionDigits: Int {
        switch self {
        case .millis: 3
        case .micros: 6
        case .nanos: 9
        }
    }

    /// `MILLIS`, `MICROS` or `NANOS`.
    public var description: String {
        switch self {
        case .millis: "MILLIS"
        case .micros: "MICROS"
        case .nanos: "NANOS"
        }
    }
}

/// The logical type of a field: the `LogicalType` annotation, or the equivalent of the legacy
/// converted type when only that is present.
public enum ParquetLogicalType: Sendable, Hashable, CustomStringConvertible {
    case string
    case map
    case list
    case enumeration
    case decimal(precision: Int, scale: Int)
    case date
    case time(unit: ParquetTimeUnit, isAdjustedToUTC: Bool)
    case timestamp(unit: ParquetTimeUnit, isAdjustedToUTC: Bool)
    case integer(bitWidth: Int, isSigned: Bool)
    /// Always null (the specification's `UNKNOWN`).
    case null
    case json
    case bson
    case uuid
    case float16
    case variant
    case geometry
    case geography
    /// The legacy `INTERVAL` converted type (12 bytes: months, days, milliseconds).
    case interval
    /// A logical type id this reader does not know; values are read as their physical type.
    case unknown(id: Int)

    /// A short rendering, e.g. `DECIMAL(10,2)` or `TIMESTAMP(MICROS,UTC)`.
    public var description: String {
        switch self {
        case .string: "STRING"
        case .map: "MAP"
        case .list: "LIST"
        case .enumeration: "ENUM"
        case .decimal(let p, let s): "DECIMAL(\(p),\(s))"
        case .date: "DATE"
        case .time(let u, let utc): "TIME(\(u),\(utc ? "UTC" : "local"))"
        case .timestamp(let u, let utc): "TIMESTAMP(\(u),\(utc ? "UTC" : "local"))"
        case .integer(let w, let signed): "INT(\(w),\(signed ? "signed" : "unsigned"))"
        case .null: "UNKNOWN"
        case .json: "JSON"
        case .bson: "BSON"
        case .uuid: "UUID"
        case .float16: "FLOAT16"
        case .variant: "VARIANT"
        case .geometry: "GEOMETRY"
        case .geography: "GEOGRAPHY"
        case .interval: "INTERVAL"
        case .unknown(let id): "LOGICAL(\(id))"
        }
    }
}
