import Foundation
import Parquet
import Testing

@Suite("Corpus conformance", .enabled(if: Corpus.enabled, "the Parquet corpus is not available (set SLUICE_CORPUS)"))
struct CorpusConformanceTests {
    static let readable: [String] = ((try? Corpus.manifest()) ?? []).filter(\.readable).map(\.file)
    static let unreadable: [String] = ((try? Corpus.manifest()) ?? []).filter { !$0.readable }.map(\.file)

    @Test("the manifest is present and lists files")
    func manifestPresent() throws {
        #expect(Corpus.isAvailable, "corpus missing at \(Corpus.parquet.path)")
        let entries = try Corpus.manifest()
        #expect(entries.count >= 70)
    }

    @Test("readable files decode to exactly their expected rows", arguments: readable)
    func readableFile(_ file: String) async throws {
        // This file's pages carry wrong CRCs: it is only readable with verification off.
        let options = ParquetReadOptions(verifyChecksums: !file.contains("corrupt-checksum"))
        let got = try parsedLines(try await jsonLines(try Corpus.bytes(file), options: options))
        let expectedText = String(decoding: try Corpus.bytes(file + ".expected.jsonl"), as: UTF8.self)
        let expected = try parsedLines(expectedText)
        #expect(got.count == expected.count)
        for (row, (a, b)) in zip(got, expected).enumerated() where !a.isEqual(b) {
            Issue.record("\(file) row \(row): got \(a), expected \(b)")
            break
        }
    }

    @Test("unreadable files end in a typed error", arguments: unreadable)
    func unreadableFile(_ file: String) async throws {
        let bytes = try Corpus.bytes(file)
        let error = await decodeEverything(bytes)
        let caught = try #require(error, "\(file) decoded without error")
        #expect(caught.code == "E003" || caught.code == "E002")
        if file.contains("encrypt") {
            #expect(caught.category == .encrypted)
            #expect(caught.message.contains("encrypted Parquet is not supported"))
        }
    }

    @Test("a page checksum mismatch is an error naming the page")
    func checksumMismatch() async throws {
        let bytes = try Corpus.bytes("data/rle-dict-uncompressed-corrupt-checksum.parquet")
        let error = try #require(await decodeEverything(bytes))
        #expect(error.category == .corrupt)
        #expect(error.message.contains("checksum"))
        #expect(error.pageIndex != nil)
        #expect(error.columnPath != nil)
        #expect(error.rowGroup == 0)
    }

    @Test("files with valid checksums verify")
    func checksumsVerify() async throws {
        for file in ["data/rle-dict-snappy-checksum.parquet", "data/datapage_v1-snappy-compressed-checksum.parquet"] {
            let text = try await jsonLines(try Corpus.bytes(file), options: ParquetReadOptions(verifyChecksums: true))
            #expect(!text.isEmpty)
        }
    }

    @Test("a string chunk over 2 GiB ends in a resource-limit error, without exhausting memory")
    func hugeStringChunk() async throws {
        let source = try ParquetFileSource(path: Corpus.parquet.appendingPathComponent("data/large_string_map.brotli.parquet").path)
        let file = try await ParquetFile.open(source: source)
        await #expect {
            _ = try await scan(file)
        } throws: { error in
            (error as? ParquetError)?.category == .resourceLimit
        }
        // A smaller decoded-bytes limit stops it earlier, still cleanly.
        let tight = try await ParquetFile.open(
            source: source, options: ParquetReadOptions(maxPageBytes: 2 << 30, maxDecodedColumnBytes: 64 << 20))
        await #expect {
            _ = try await scan(tight)
        } throws: { error in
            (error as? ParquetError)?.category == .resourceLimit
        }
    }

    @Test("the schema description lists types, codecs and encodings")
    func describe() async throws {
        let file = try ParquetFile.openSynchronously(bytes: try Corpus.bytes("data/nested_maps.snappy.parquet"))
        let text = describeSchema(file)
        #expect(text.contains("MAP"))
        #expect(text.contains("SNAPPY"))
        #expect(text.contains("PLAIN_DICTIONARY"))
        #expect(text.contains("row group 0"))
    }
}
