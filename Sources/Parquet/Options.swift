/// Settings for reading a Parquet file. The limits bound the memory one column chunk can
/// take; a file that needs more ends in a ``ParquetError`` with category `.resourceLimit`.
public struct ParquetReadOptions: Sendable {
    /// Check page CRC-32 checksums where the writer stored them (`parquet.verify_checksums`).
    public var verifyChecksums: Bool
    /// Largest footer (file metadata) accepted, in bytes.
    public var maxFooterBytes: Int
    /// Largest column chunk read at once, in stored (compressed) bytes.
    public var maxColumnChunkBytes: Int
    /// Largest page accepted, in decompressed bytes.
    public var maxPageBytes: Int
    /// Largest decoded column chunk (values, offsets, levels and dictionary), in bytes.
    public var maxDecodedColumnBytes: Int

    /// Creates options; the defaults suit files with row groups up to about 1 GiB.
    public init(
        verifyChecksums: Bool = true,
        maxFooterBytes: Int = 64 << 20,
        maxColumnChunkBytes: Int = 1 << 30,
        maxPageBytes: Int = 256 << 20,
        maxDecodedColumnBytes: Int = 2 << 30
    ) {
        self.verifyChecksums = verifyChecksums
        self.maxFooterBytes = maxFooterBytes
        self.maxColumnChunkBytes = maxColumnChunkBytes
        self.maxPageBytes = maxPageBytes
        self.maxDecodedColumnBytes = maxDecodedColumnBytes
    }
}
