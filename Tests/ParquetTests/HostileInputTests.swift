import Foundation
@testable import Parquet
import Testing

@Suite("Hostile input")
struct HostileInputTests {
    static let sampleFiles = [
        "data/alltypes_plain.snappy.parquet", "data/nested_maps.snappy.parquet", "data/nullable.impala.parquet",
        "data/datapage_v2.snappy.parquet", "data/delta_encoding_optional_column.parquet",
        "data/byte_stream_split_extended.gzip.parquet", "data/lz4_raw_compressed.parquet",
        "data/concatenated_gzip_members.parquet", "data/fixed_length_decimal.parquet",
        "data/nested_structs.rust.parquet", "data/int96_from_spark.parquet", "data/delta_length_byte_array.parquet",
    ]

    @Test("a valid synthetic file decodes")
    func syntheticBaseline() async throws {
        let page = SyntheticPage(numValues: 3, body: littleEndian([7, -8, 9]))
        let bytes = syntheticFile(rows: 3, columns: [SyntheticColumn(numValues: 3, pages: [page])])
        #expect(try await jsonLines(bytes) == "{\"a\":7}\n{\"a\":-8}\n{\"a\":9}\n")
    }

    @Test("columns whose strings are all empty decode, plain and dictionary-encoded")
    func emptyStrings() async throws {
        let plain = SyntheticPage(numValues: 3, body: littleEndian([0, 0, 0]))
        let column = SyntheticColumn(physicalType: 6, convertedType: 0, numValues: 3, pages: [plain])
        #expect(try await jsonLines(syntheticFile(rows: 3, columns: [column])) == String(repeating: "{\"a\":\"\"}\n", count: 3))
        let dictionary = [SyntheticPage(type: 2, numValues: 1, body: littleEndian([0])),
                          SyntheticPage(numValues: 3, encoding: 8, body: [1, 6, 0])]
        let encoded = SyntheticColumn(physicalType: 6, convertedType: 0, numValues: 3, pages: dictionary)
        #expect(try await jsonLines(syntheticFile(rows: 3, columns: [encoded])) == String(repeating: "{\"a\":\"\"}\n", count: 3))
    }

    @Test("short files and wrong magic are not Parquet")
    func notParquet() async throws {
        for bytes in [[], Array("PAR1".utf8), Array("PAR1PAR1PAR".utf8), Array("hello world, not parquet at all".utf8)] {
            let error = try #require(await decodeEverything(bytes))
            #expect(error.category == .notParquet)
            #expect(error.code == "E002")
        }
        var bogusLength = Array("PAR1".utf8) + [UInt8](repeating: 0, count: 8)
        bogusLength += [0xFF, 0xFF, 0xFF, 0x7F] + Array("PAR1".utf8)
        let error = try #require(await decodeEverything(bogusLength))
        #expect(error.category == .corrupt)
        #expect(error.byteOffset != nil)
        let encrypted = Array("PARE".utf8) + [UInt8](repeating: 0, count: 8) + [4, 0, 0, 0] + Array("PARE".utf8)
        #expect(try #require(await decodeEverything(encrypted)).category == .encrypted)
    }

    @Test("absurd lengths in page headers end in errors")
    func absurdPageHeaders() async throws {
        func run(_ page: SyntheticPage, codec: Int32 = 0, numValues: Int64 = 3) async -> ParquetError? {
            let bytes = syntheticFile(rows: 3, columns: [SyntheticColumn(codec: codec, numValues: numValues, pages: [page])])
            return await decodeEverything(bytes)
        }
        let body = littleEndian([1, 2, 3])
        // Body size far beyond the chunk.
        #expect(await run(SyntheticPage(numValues: 3, body: body, compressedSize: .max)) != nil)
        // Negative sizes.
        #expect(await run(SyntheticPage(numValues: 3, body: body, uncompressedSize: -1)) != nil)
        #expect(await run(SyntheticPage(numValues: 3, body: body, compressedSize: -5)) != nil)
        // A page promising 2 GiB of decompressed data from 12 bytes: refused before allocating.
        let huge = try #require(await run(SyntheticPage(numValues: 3, body: body, uncompressedSize: .max), codec: 1))
        #expect(huge.category == .resourceLimit)
        // More values than bytes.
        #expect(await run(SyntheticPage(numValues: .max, body: body), numValues: Int64(Int32.max)) != nil)
        #expect(await run(SyntheticPage(numValues: -1, body: body)) != nil)
        // Unknown value encoding.
        let unknown = try #require(await run(SyntheticPage(numValues: 3, encoding: 42, body: body)))
        #expect(unknown.category == .unsupported)
        // Dictionary page with a negative count.
        let dict = SyntheticPage(type: 2, numValues: -1, body: body)
        #expect(await run(dict) != nil)
        // Dictionary index page without dictionary, and with an RLE bit width of 200.
        #expect(await run(SyntheticPage(numValues: 3, encoding: 8, body: [2, 6, 0x1B])) != nil)
        let withDict = [SyntheticPage(type: 2, numValues: 3, body: body), SyntheticPage(numValues: 3, encoding: 8, body: [200, 6, 1])]
        let bytes = syntheticFile(rows: 3, columns: [SyntheticColumn(numValues: 3, pages: withDict)])
        #expect(await decodeEverything(bytes) != nil)
        // Index out of dictionary range: run of 3 copies of index 5.
        let outOfRange = [SyntheticPage(type: 2, numValues: 3, body: body), SyntheticPage(numValues: 3, encoding: 8, body: [3, 6, 5])]
        let oorError = try #require(await decodeEverything(syntheticFile(rows: 3, columns: [SyntheticColumn(numValues: 3, pages: outOfRange)])))
        #expect(oorError.message.contains("dictionary index"))
        #expect(oorError.columnPath == "a")
        #expect(oorError.pageIndex == 1)
    }

    @Test("an optional column claiming two billion levels from a tiny RLE run is refused")
    func levelBomb() async throws {
        // One RLE run of Int32.max copies of level 0 (all null): 6 bytes that would expand to 2 GiB.
        var levels = CompactWriter()
        levels.varint(UInt64(Int32.max) << 1)
        levels.bytes.append(0)
        let body = littleEndian([Int32(levels.bytes.count)]) + levels.bytes
        let page = SyntheticPage(numValues: .max, body: body)
        let column = SyntheticColumn(repetition: 1, numValues: Int64(Int32.max), pages: [page])
        let bytes = syntheticFile(rows: Int64(Int32.max), columns: [column])
        let file = try ParquetFile.openSynchronously(
            bytes: bytes, options: ParquetReadOptions(maxDecodedColumnBytes: 256 << 20))
        #expect(throws: ParquetError.self) { _ = try file.readColumnSynchronously(rowGroup: 0, column: 0) }
    }

    @Test("absurd counts in the footer end in errors")
    func absurdFooter() async throws {
        let page = SyntheticPage(numValues: 3, body: littleEndian([1, 2, 3]))
        // The root claims a billion children.
        let children = syntheticFile(rows: 3, columns: [SyntheticColumn(numValues: 3, pages: [page])],
                                     numChildrenOverride: 1_000_000_000)
        #expect(await decodeEverything(children) != nil)
        // Row count disagreeing with the pages.
        let rows = syntheticFile(rows: 5, columns: [SyntheticColumn(numValues: 3, pages: [page])])
        #expect(await decodeEverything(rows) != nil)
        // FIXED_LEN_BYTE_ARRAY without a length.
        let flba = syntheticFile(rows: 3, columns: [SyntheticColumn(physicalType: 7, numValues: 3, pages: [page])])
        #expect(await decodeEverything(flba) != nil)
        // A list header claiming 2^40 elements inside the footer.
        var w = CompactWriter()
        w.listHeader(2, elementType: 12, count: 1 << 40)
        let footer = w.bytes
        let length = UInt32(footer.count)
        let bytes = Array("PAR1".utf8) + footer
            + [UInt8(length), UInt8(length >> 8), UInt8(length >> 16), UInt8(length >> 24)] + Array("PAR1".utf8)
        let error = try #require(await decodeEverything(bytes))
        #expect(error.category == .corrupt)
        #expect(error.byteOffset != nil)
    }

    @Test("truncation at every footer offset ends in an error",
          .enabled(if: Corpus.enabled, "the Parquet corpus is not available"))
    func footerTruncation() async throws {
        for name in Self.sampleFiles {
            let bytes = try Corpus.bytes(name)
            let footerLength = bytes.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt32.self)) }
            let footerStart = bytes.count - 8 - footerLength
            // Plain truncation anywhere in the footer and tail.
            for cut in stride(from: max(0, footerStart - 8), to: bytes.count, by: 1) {
                #expect(await decodeEverything(Array(bytes[..<cut])) != nil, "\(name) cut at \(cut)")
            }
            // A truncated footer that still ends with a well-formed length and magic.
            for keep in 0..<footerLength {
                var damaged = Array(bytes[..<(footerStart + keep)])
                let l = UInt32(keep)
                damaged += [UInt8(l & 0xFF), UInt8(l >> 8 & 0xFF), UInt8(l >> 16 & 0xFF), UInt8(l >> 24)] + Array("PAR1".utf8)
                #expect(await decodeEverything(damaged) != nil, "\(name) footer kept \(keep)")
            }
        }
    }

    @Test("random bit flips in pages and footers never crash",
          .enabled(if: Corpus.enabled, "the Parquet corpus is not available"))
    func bitFlips() async throws {
        var random = SeededRandom(seed: 0x5EED_0003)
        var errors = 0
        var decoded = 0
        for name in Self.sampleFiles {
            let original = try Corpus.bytes(name)
            let footerLength = original.withUnsafeBytes {
                Int($0.loadUnaligned(fromByteOffset: original.count - 8, as: UInt32.self))
            }
            let footerStart = original.count - 8 - footerLength
            for round in 0..<150 {
                var bytes = original
                let flips = Int.random(in: 1...4, using: &random)
                for _ in 0..<flips {
                    // Two thirds of the rounds damage the pages, the rest the footer.
                    let range = round % 3 == 2 ? footerStart..<(original.count - 8) : 4..<footerStart
                    let at = Int.random(in: range, using: &random)
                    bytes[at] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
                }
                if await decodeEverything(bytes) != nil { errors += 1 } else { decoded += 1 }
            }
        }
        // Most flips in checksummed or compressed data are caught; all must end cleanly either way.
        #expect(errors > 0)
        #expect(errors + decoded == Self.sampleFiles.count * 150)
    }
}
