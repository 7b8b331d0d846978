import CBrotli
import CLZ4
import CSnappy
import CZlib
import CZstd

/// Decompresses page bodies. Every codec writes into a caller-provided buffer of exactly the
/// size the page header promises, so no codec can allocate on behalf of the input.
enum Codec {
    static func isSupported(_ codec: ParquetCompression) -> Bool {
        switch codec {
        case .uncompressed, .snappy, .gzip, .brotli, .lz4, .zstd, .lz4Raw: true
        default: false
        }
    }

    /// Decompresses `input` into `output`, which must come out exactly full. `zstd`, when
    /// given, is a context reused from page to page.
    static func decompress(
        _ codec: ParquetCompression, input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer,
        zstd: ZstdDecompressor? = nil
    ) throws(ParquetError) {
        let expected = output.count
        if expected == 0 {
            // Nothing to produce; some writers store an empty body, others a codec's empty frame.
            return
        }
        guard input.count > 0, let src = input.baseAddress, let dst = output.baseAddress else {
            throw .corrupt("\(codec) page body is empty but should decompress to \(expected) bytes")
        }
        switch codec {
        case .uncompressed:
            guard input.count == expected else {
                throw .corrupt("uncompressed page body is \(input.count) bytes, header says \(expected)")
            }
            dst.copyMemory(from: src, byteCount: expected)
        case .snappy:
            var length = 0
            guard snappy_uncompressed_length(src.assumingMemoryBound(to: CChar.self), input.count, &length) == SNAPPY_OK,
                length == expected
            else { throw .corrupt("SNAPPY page body does not decompress to the \(expected) bytes the header says") }
            var outLength = expected
            guard snappy_uncompress(src.assumingMemoryBound(to: CChar.self), input.count,
                                    dst.assumingMemoryBound(to: CChar.self), &outLength) == SNAPPY_OK,
                outLength == expected
            else { throw .corrupt("SNAPPY page body is damaged") }
        case .gzip:
            try inflateAll(input: input, output: output)
        case .zstd:
            let n = if let context = zstd?.context {
                ZSTD_decompressDCtx(context, dst, expected, src, input.count)
            } else {
                ZSTD_decompress(dst, expected, src, input.count)
            }
            guard ZSTD_isError(n) == 0 else {
                throw .corrupt("ZSTD page body is damaged: \(String(cString: ZSTD_getErrorName(n)))")
            }
            guard n == expected else { throw .corrupt("ZSTD page body gives \(n) bytes, header says \(expected)") }
        case .lz4Raw:
            try lz4Block(input: input, output: output)
        case .lz4:
            if hadoopLZ4(input: input, output: output) { return }
            if let frameOK = try? lz4Frame(input: input, output: output), frameOK { return }
            try lz4Block(input: input, output: output)
        case .brotli:
            var outLength = expected
            let status = BrotliDecoderDecompress(input.count, src.assumingMemoryBound(to: UInt8.self), &outLength,
                                                 dst.assumingMemoryBound(to: UInt8.self))
            guard status == BROTLI_DECODER_RESULT_SUCCESS, outLength == expected else {
                throw .corrupt("BROTLI page body is damaged or does not give the \(expected) bytes the header says")
            }
        default:
            throw .unsupported("compression codec \(codec) is not supported")
        }
    }

    private static func lz4Block(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws(ParquetError) {
        guard input.count <= Int(Int32.max), output.count <= Int(Int32.max) else {
            throw .unsupported("LZ4 page larger than 2 GiB")
        }
        let n = LZ4_decompress_safe(input.baseAddress!.assumingMemoryBound(to: CChar.self),
                                    output.baseAddress!.assumingMemoryBound(to: CChar.self),
                                    Int32(input.count), Int32(output.count))
        guard n == Int32(output.count) else {
            throw .corrupt("LZ4 page body is damaged or does not give the \(output.count) bytes the header says")
        }
    }

    /// The Hadoop framing: repeated [4-byte big-endian raw size][4-byte big-endian block size][block].
    private static func hadoopLZ4(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) -> Bool {
        var inPos = 0
        var outPos = 0
        func be32(_ at: Int) -> Int {
            Int(input[at]) << 24 | Int(input[at + 1]) << 16 | Int(input[at + 2]) << 8 | Int(input[at + 3])
        }
        while inPos < input.count {
            guard input.count - inPos >= 8 else { return false }
            let rawSize = be32(inPos)
            let blockSize = be32(inPos + 4)
            inPos += 8
            guard blockSize <= input.count - inPos, rawSize <= output.count - outPos,
                blockSize <= Int(Int32.max), rawSize <= Int(Int32.max)
            else { return false }
            let n = LZ4_decompress_safe(
                (input.baseAddress! + inPos).assumingMemoryBound(to: CChar.self),
                (output.baseAddress! + outPos).assumingMemoryBound(to: CChar.self),
                Int32(blockSize), Int32(rawSize))
            guard n == Int32(rawSize) else { return false }
            inPos += blockSize
            outPos += rawSize
        }
        return outPos == output.count
    }

    private static func lz4Frame(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard input.count >= 4, input.loadUnaligned(as: UInt32.self).littleEndian == 0x184D_2204 else { return false }
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            return false
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var inPos = 0
        var outPos = 0
        while inPos < input.count && outPos < output.count {
            var dstSize = output.count - outPos
            var srcSize = input.count - inPos
            let r = LZ4F_decompress(context, output.baseAddress! + outPos, &dstSize, input.baseAddress! + inPos,
                                    &srcSize, nil)
            if LZ4F_isError(r) != 0 { return false }
            inPos += srcSize
            outPos += dstSize
            if srcSize == 0 && dstSize == 0 { return false }
        }
        return outPos == output.count
    }

    /// Inflates gzip or zlib data, including several gzip members one after another.
    private static func inflateAll(input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer)
        throws(ParquetError)
    {
        var stream = z_stream()
        // 15 + 32: accept both zlib and gzip headers.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("cannot start GZIP decompression")
        }
        defer { inflateEnd(&stream) }
        var inPos = 0
        var outPos = 0
        while true {
            let inChunk = min(input.count - inPos, Int(UInt32.max))
            let outChunk = min(output.count - outPos, Int(UInt32.max))
            stream.next_in = UnsafeMutablePointer(mutating: (input.baseAddress! + inPos).assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(inChunk)
            stream.next_out = (output.baseAddress! + outPos).assumingMemoryBound(to: UInt8.self)
            stream.avail_out = UInt32(outChunk)
            let status = inflate(&stream, Z_NO_FLUSH)
            let consumed = inChunk - Int(stream.avail_in)
            let produced = outChunk - Int(stream.avail_out)
            inPos += consumed
            outPos += produced
            if status == Z_STREAM_END {
                // Several gzip members may follow one another (some writers emit them).
                while inPos < input.count && input[inPos] == 0 { inPos += 1 }
                if inPos >= input.count || outPos == output.count { break }
                guard inflateReset(&stream) == Z_OK else { throw .corrupt("GZIP member boundary is damaged") }
                continue
            }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                throw .corrupt("GZIP page body is damaged (zlib status \(status))")
            }
            if consumed == 0 && produced == 0 {
                if outPos == output.count {
                    throw .corrupt("GZIP page body gives more than the \(output.count) bytes the header says")
                }
                throw .corrupt("GZIP page body ends early")
            }
        }
        guard outPos == output.count else {
            throw .corrupt("GZIP page body gives \(outPos) bytes, header says \(output.count)")
        }
    }
}

/// A ZSTD decompression context kept from page to page: `ZSTD_decompress` creates and frees
/// one (over 100 KiB) on every call. Used by one decode at a time.
final class ZstdDecompressor: @unchecked Sendable {
    let context: OpaquePointer?

    init() { context = ZSTD_createDCtx() }

    deinit { ZSTD_freeDCtx(context) }
}

enum Checksum {
    /// CRC-32 (the zlib polynomial) of a page body as stored.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        var crc: UInt = 0
        var position = 0
        while position < bytes.count {
            let n = min(bytes.count - position, 1 << 30)
            crc = CZlib.crc32(crc, base.assumingMemoryBound(to: UInt8.self) + position, UInt32(n))
            position += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
