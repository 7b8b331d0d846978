#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Random-access bytes a Parquet file is read from: a local file, memory, or ranged object
/// reads. The reader asks for the footer first and then for one column chunk at a time, so a
/// source never has to hold more than what was asked for.
public protocol ParquetByteSource: Sendable {
    /// Total size of the file in bytes.
    var size: Int64 { get }
    /// Returns exactly `length` bytes starting at `offset`; throws if they are not available.
    func read(offset: Int64, length: Int) async throws -> [UInt8]
}

/// A byte source that can also answer without suspending (files and memory). The reader uses
/// it where it can to avoid a suspension per read.
public protocol ParquetSynchronousByteSource: ParquetByteSource {
    /// Returns exactly `length` bytes starting at `offset`; throws if they are not available.
    func readSynchronously(offset: Int64, length: Int) throws -> [UInt8]
}

extension ParquetSynchronousByteSource {
    /// Forwards to ``readSynchronously(offset:length:)``.
    public func read(offset: Int64, length: Int) async throws -> [UInt8] {
        try readSynchronously(offset: offset, length: length)
    }
}

/// A whole Parquet file held in memory.
public struct ParquetMemorySource: ParquetSynchronousByteSource {
    /// The file's bytes.
    public let bytes: [UInt8]

    /// Wraps bytes already in memory.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The number of bytes held.
    public var size: Int64 { Int64(bytes.count) }

    /// Copies a range out of the held bytes.
    public func readSynchronously(offset: Int64, length: Int) throws -> [UInt8] {
        try checkRange(offset: offset, length: length)
        let start = Int(offset)
        return Array(bytes[start..<(start + length)])
    }

    private func checkRange(offset: Int64, length: Int) throws(ParquetError) {
        guard offset >= 0, length >= 0, offset <= size, Int64(length) <= size - offset else {
            throw ParquetError(.io, "read of \(length) bytes at offset \(offset) is outside the \(size)-byte file",
                               byteOffset: offset)
        }
    }

    /// Copies a range into memory the caller provides (at least `length` bytes).
    func read(offset: Int64, length: Int, into buffer: UnsafeMutableRawPointer) throws(ParquetError) {
        try checkRange(offset: offset, length: length)
        guard length > 0 else { return }
        bytes.withUnsafeBufferPointer { held in
            buffer.copyMemory(from: held.baseAddress! + Int(offset), byteCount: length)
        }
    }
}

/// A local file read with positional reads; safe to share between tasks.
public final class ParquetFileSource: ParquetSynchronousByteSource {
    private let descriptor: Int32
    /// The file's size when it was opened.
    public let size: Int64
    /// The path the file was opened from (for messages).
    public let path: String

    /// Opens `path` for reading.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw ParquetError(.io, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw ParquetError(.io, "cannot stat \(path): \(message)")
        }
        self.descriptor = fd
        self.size = Int64(info.st_size)
        self.path = path
    }

    deinit { close(descriptor) }

    /// Reads a range with `pread`, retrying short reads.
    public func readSynchronously(offset: Int64, length: Int) throws -> [UInt8] {
        try checkRange(offset: offset, length: length)
        var failure: ParquetError?
        let result = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            do throws(ParquetError) {
                if length > 0 { try read(offset: offset, length: length, into: UnsafeMutableRawPointer(buffer.baseAddress!)) }
                count = length
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Reads a range with `pread` into memory the caller provides (at least `length` bytes).
    func read(offset: Int64, length: Int, into buffer: UnsafeMutableRawPointer) throws(ParquetError) {
        try checkRange(offset: offset, length: length)
        var done = 0
        while done < length {
            let n = pread(descriptor, buffer + done, length - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw ParquetError(.io, "read failed in \(path): \(String(cString: strerror(errno)))",
                                   byteOffset: offset + Int64(done))
            }
            if n == 0 {
                throw ParquetError(.io, "\(path) ended early (was it truncated while being read?)",
                                   byteOffset: offset + Int64(done))
            }
            done += n
        }
    }

    private func checkRange(offset: Int64, length: Int) throws(ParquetError) {
        guard offset >= 0, length >= 0, offset <= size, Int64(length) <= size - offset else {
            throw ParquetError(.io, "read of \(length) bytes at offset \(offset) is outside the \(size)-byte file",
                               byteOffset: offset)
        }
    }
}
