/// An error raised while reading a Parquet file.
///
/// Every error carries a ``Category`` (which maps to the service-wide error codes through
/// ``code``) and as much location as was known when it was raised: the row group, the column
/// path, the page index inside the column chunk and the absolute byte offset in the file.
/// The message says what was wrong in terms a person can act on; it never contains file
/// contents beyond short numbers.
public struct ParquetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Category: Sendable, Hashable, CustomStringConvertible {
        let name: String

        /// The bytes are not a Parquet file at all (wrong magic, too short).
        public static let notParquet = Category(name: "not-parquet")
        /// The file claims to be Parquet but its structure or data is inconsistent.
        public static let corrupt = Category(name: "corrupt")
        /// The file is valid Parquet but uses a feature this reader does not implement.
        public static let unsupported = Category(name: "unsupported")
        /// The file is encrypted (Parquet modular encryption), which is not supported.
        public static let encrypted = Category(name: "encrypted")
        /// The file is valid but decoding it would exceed a configured resource limit.
        public static let resourceLimit = Category(name: "resource-limit")
        /// The byte source failed (I/O error, short read).
        public static let io = Category(name: "io")

        /// The category's name, e.g. `corrupt`.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var category: Category
    /// A sentence describing the problem.
    public var message: String
    /// Index of the row group being read, if any.
    public var rowGroup: Int?
    /// Dotted path of the column being read, if any.
    public var columnPath: String?
    /// Index of the page inside its column chunk (dictionary page included), if any.
    public var pageIndex: Int?
    /// Absolute byte offset in the file where the problem was found, if known.
    public var byteOffset: Int64?

    /// Creates an error.
    public init(
        _ category: Category,
        _ message: String,
        rowGroup: Int? = nil,
        columnPath: String? = nil,
        pageIndex: Int? = nil,
        byteOffset: Int64? = nil
    ) {
        self.category = category
        self.message = message
        self.rowGroup = rowGroup
        self.columnPath = columnPath
        self.pageIndex = pageIndex
        self.byteOffset = byteOffset
    }

    /// The service-wide error code: `E002` for bytes that are not Parquet, `E003` for every
    /// other decoding failure (corrupt, unsupported, encrypted, over a resource limit, I/O).
    public var code: String {
        category == .notParquet ? "E002" : "E003"
    }

    /// `E003 corrupt: <message> (row group 0, column a.b, page 2, byte offset 1234)`.
    public var description: String {
        var parts: [String] = []
        if let rowGroup { parts.append("row group \(rowGroup)") }
        if let columnPath { parts.append("column \(columnPath)") }
        if let pageIndex { parts.append("page \(pageIndex)") }
        if let byteOffset { parts.append("byte offset \(byteOffset)") }
        let location = parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
        return "\(code) \(category): \(message)\(location)"
    }

    /// Returns a copy with the location fields that are still unknown filled in.
    func located(rowGroup: Int? = nil, columnPath: String? = nil, pageIndex: Int? = nil, byteOffset: Int64? = nil)
        -> ParquetError
    {
        var copy = self
        if copy.rowGroup == nil { copy.rowGroup = rowGroup }
        if copy.columnPath == nil { copy.columnPath = columnPath }
        if copy.pageIndex == nil { copy.pageIndex = pageIndex }
        if copy.byteOffset == nil { copy.byteOffset = byteOffset }
        return copy
    }

    static func corrupt(_ message: String, offset: Int64? = nil) -> ParquetError {
        ParquetError(.corrupt, message, byteOffset: offset)
    }

    static func unsupported(_ message: String) -> ParquetError {
        ParquetError(.unsupported, message)
    }

    static let encryptedMessage = "encrypted Parquet is not supported"
}

/// Runs `body` (whose closures lose typed throws through untyped library APIs) and narrows
/// whatever it throws back to ``ParquetError``.
@inline(__always)
func narrowingErrors<R>(_ body: () throws -> R) throws(ParquetError) -> R {
    do {
        return try body()
    } catch let error as ParquetError {
        throw error
    } catch {
        throw ParquetError(.corrupt, "unexpected failure: \(error)")
    }
}
