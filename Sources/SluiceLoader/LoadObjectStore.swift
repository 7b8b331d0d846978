package import AWS
import Foundation
package import Logging
import NIOCore
package import Parquet
import Synchronization

/// Where the loader reads objects from: S3 in the service, a local file for `sluice load --file`, a wrapper in tests.
package protocol LoadObjectStore: Sendable {
    /// Looks the object up (HeadObject) and returns its description and a byte source pinned to exactly that
    /// version. Refuses objects over `s3.max_object_bytes` before reading any byte of them.
    ///
    /// - Parameter pin: the version or ETag the event named, if any.
    /// - Throws: `AWSError` (or the store's own error, classified by ``LoadErrorClassification``).
    func open(bucket: String, key: String, pin: S3ObjectPin, logger: Logger) async throws -> LoadObject
}

/// An object ready to be read.
package struct LoadObject: Sendable {
    /// Size, ETag and version id, from HeadObject.
    package var info: S3ObjectInfo
    /// Byte ranges of that version.
    package var source: any ParquetByteSource

    package init(info: S3ObjectInfo, source: any ParquetByteSource) {
        self.info = info
        self.source = source
    }

    /// The version the ledger records: `v:<version id>` in a versioned bucket, else `e:<etag without quotes>`.
    package var version: String {
        if let id = info.versionID, !id.isEmpty, id != "null" { return "v:" + id }
        return "e:" + LoadObject.unquoted(info.eTag)
    }

    static func unquoted(_ etag: String) -> String {
        var text = Substring(etag)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.hasPrefix("\"") { text = text.dropFirst() }
        if text.hasSuffix("\"") { text = text.dropLast() }
        return String(text)
    }
}

/// Objects in S3, read with ranged GETs pinned to the version HeadObject saw.
package struct S3ObjectStore: LoadObjectStore {
    let s3: S3Client

    package init(s3: S3Client) {
        self.s3 = s3
    }

    package func open(bucket: String, key: String, pin: S3ObjectPin, logger: Logger) async throws -> LoadObject {
        let reader = try await s3.rangeReader(bucket: bucket, key: key, pin: pin, logger: logger)
        return LoadObject(info: reader.info, source: S3ParquetSource(reader: reader))
    }
}

/// An `S3RangeReader` as the Parquet reader's byte source.
struct S3ParquetSource: ParquetByteSource {
    let reader: S3RangeReader
    var size: Int64 { reader.size }
    func read(offset: Int64, length: Int) async throws -> [UInt8] {
        try await reader.read(offset: offset, length: length)
    }
}

/// Local files, for `sluice load --file PATH`: the "bucket" is ignored (entries carry ``bucket``) and the key is the
/// absolute path. The version is the
/// file's size and modification time (`e:<size>-<mtime ns>`), so loading an unchanged file again through a configured
/// journal is answered `duplicate`.
package struct LocalFileObjectStore: LoadObjectStore {
    /// The bucket name journal entries of local files carry.
    package static let bucket = "local-file"

    package init() {}

    package func open(bucket: String, key: String, pin: S3ObjectPin, logger: Logger) async throws -> LoadObject {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: key)
        } catch {
            throw AWSError(
                code: AWSError.Code.noSuchKey, httpStatus: 404, category: .permanent, message: "cannot read \(key): \(error.localizedDescription)",
                service: "file", operation: "open", resource: key)
        }
        let source: ParquetFileSource
        do {
            source = try ParquetFileSource(path: key)
        } catch {
            throw AWSError(
                code: AWSError.Code.accessDenied, httpStatus: 403, category: .permanent, message: "cannot open \(key): \(error)",
                service: "file", operation: "open", resource: key)
        }
        let modified = (attributes[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)
        let nanoseconds = Int64((modified.timeIntervalSince1970 * 1_000_000_000).rounded())
        let info = S3ObjectInfo(
            bucket: bucket, key: key, size: source.size, eTag: "\(source.size)-\(nanoseconds)", versionID: nil, lastModified: modified,
            contentType: nil)
        return LoadObject(info: info, source: source)
    }
}

/// Wraps a byte source to count what was read and to keep the source's own last error: the Parquet reader reports
/// a failed read as its own `io` error, and the loader needs the cause (a network error is retried, a replaced
/// object is not).
final class RecordingSource: ParquetByteSource {
    let base: any ParquetByteSource
    private let state = Mutex<(bytes: Int64, failure: (any Error)?)>((0, nil))

    init(_ base: any ParquetByteSource) {
        self.base = base
    }

    var size: Int64 { base.size }

    /// Bytes read so far.
    var bytesRead: Int64 { state.withLock { $0.bytes } }

    /// The error of the last failed read, if any.
    var lastFailure: (any Error)? { state.withLock { $0.failure } }

    func read(offset: Int64, length: Int) async throws -> [UInt8] {
        do {
            let bytes = try await base.read(offset: offset, length: length)
            state.withLock { $0.bytes += Int64(bytes.count) }
            return bytes
        } catch {
            state.withLock { $0.failure = error }
            throw error
        }
    }
}

/// A byte source read front to back in pieces: the request body of a Parquet passthrough insert.
struct SourceBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let source: any ParquetByteSource
    let pieceBytes: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let source: any ParquetByteSource
        let pieceBytes: Int
        var offset: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard offset < source.size else { return nil }
            let length = Int(Swift.min(Int64(pieceBytes), source.size - offset))
            let bytes = try await source.read(offset: offset, length: length)
            offset += Int64(length)
            return ByteBuffer(bytes: bytes)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: source, pieceBytes: pieceBytes) }
}
