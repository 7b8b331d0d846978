import Foundation
@testable import Parquet
import Testing

/// Packs values of `width` bits little-endian, least significant bit first, one bit at a time.
func packBits(_ values: [UInt64], width: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: (values.count * width + 7) / 8)
    for (i, value) in values.enumerated() {
        for b in 0..<width where (value >> UInt64(b)) & 1 == 1 {
            let bit = i * width + b
            out[bit >> 3] |= 1 << UInt8(bit & 7)
        }
    }
    return out
}

func lowBits(_ width: Int) -> UInt64 { width == 64 ? ~0 : (1 << UInt64(width)) - 1 }

/// A run of the RLE / bit-packed hybrid encoding.
enum HybridRun {
    case repeated(UInt64, count: Int)
    case packed([UInt64])  // a multiple of 8 values

    var values: [UInt64] {
        switch self {
        case .repeated(let value, let count): [UInt64](repeating: value, count: count)
        case .packed(let values): values
        }
    }
}

func encodeHybrid(_ runs: [HybridRun], width: Int) -> [UInt8] {
    var w = CompactWriter()
    for run in runs {
        switch run {
        case .repeated(let value, let count):
            w.varint(UInt64(count) << 1)
            for i in 0..<((width + 7) / 8) { w.bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * i))) }
        case .packed(let values):
            w.varint(UInt64(values.count / 8) << 1 | 1)
            w.bytes += packBits(values, width: width)
        }
    }
    return w.bytes
}

func randomRuns(_ rng: inout SeededRandom, width: Int, maxValue: UInt64, runs: Int) -> [HybridRun] {
    (0..<runs).map { _ in
        if rng.next() % 2 == 0 {
            return .repeated(rng.next() % (maxValue + 1), count: Int(rng.next() % 300) + 1)
        }
        let groups = Int(rng.next() % 20) + 1
        return .packed((0..<(groups * 8)).map { _ in rng.next() % (maxValue + 1) })
    }
}

/// Whether two decoded chunks are identical in every field.
func sameColumnData(_ a: ParquetColumnData, _ b: ParquetColumnData) -> Bool {
    a.column.dottedPath == b.column.dottedPath && a.column.index == b.column.index && a.rowGroup == b.rowGroup
        && a.rowCount == b.rowCount && a.levelCount == b.levelCount && a.values.count == b.values.count
        && a.values.width == b.values.width && a.values.bytes == b.values.bytes && a.values.offsets == b.values.offsets
        && a.definitionLevels == b.definitionLevels && a.repetitionLevels == b.repetitionLevels
}

/// A source that can only be read asynchronously (like ranged object reads).
struct AsyncOnlySource: ParquetByteSource {
    let bytes: [UInt8]
    var size: Int64 { Int64(bytes.count) }
    func read(offset: Int64, length: Int) async throws -> [UInt8] { Array(bytes[Int(offset)..<(Int(offset) + length)]) }
}

/// A synchronous source other than the file and memory sources.
struct OtherSynchronousSource: ParquetSynchronousByteSource {
    let bytes: [UInt8]
    var size: Int64 { Int64(bytes.count) }
    func readSynchronously(offset: Int64, length: Int) throws -> [UInt8] {
        Array(bytes[Int(offset)..<(Int(offset) + length)])
    }
}

@Suite("Fast paths")
struct FastPathTests {
    @Test("bit unpacking equals a bit-by-bit reference for every width, start, length and readable size")
    func unpackEveryWidth() {
        var rng = SeededRandom(seed: 11)
        var failures: [String] = []
        let n = 150
        for width in 1...64 {
            let values = (0..<n).map { _ in rng.next() & lowBits(width) }
            let packed = packBits(values, width: width)
            for first in [0, 1, 5, 8, 13, 16, 17] {
                for count in [1, 2, 7, 8, 9, 16, 31, 64, n - first] where first + count <= n {
                    let expected = Array(values[(first)..<(first + count)])
                    let exact = ((first + count) * width + 7) / 8
                    for readable in [exact, packed.count] {
                        var out64 = [UInt64](repeating: 0xDEAD, count: count)
                        packed.withUnsafeBytes { raw in
                            out64.withUnsafeMutableBufferPointer {
                                unpackBits(raw.baseAddress!, byteCount: readable, firstValue: first, width: width,
                                           count: count, into: $0.baseAddress!)
                            }
                        }
                        if out64 != expected { failures.append("UInt64 width \(width) first \(first) count \(count)") }
                        if width <= 32 {
                            var out32 = [UInt32](repeating: 0xDEAD, count: count)
                            packed.withUnsafeBytes { raw in
                                out32.withUnsafeMutableBufferPointer {
                                    unpackBits(raw.baseAddress!, byteCount: readable, firstValue: first, width: width,
                                               count: count, into: $0.baseAddress!)
                                }
                            }
                            if out32.map(UInt64.init) != expected {
                                failures.append("UInt32 width \(width) first \(first) count \(count)")
                            }
                        }
                        if width <= 8 {
                            var out8 = [UInt8](repeating: 0xEE, count: count)
                            packed.withUnsafeBytes { raw in
                                out8.withUnsafeMutableBufferPointer {
                                    unpackBits(raw.baseAddress!, byteCount: readable, firstValue: first, width: width,
                                               count: count, into: $0.baseAddress!)
                                }
                            }
                            if out8.map(UInt64.init) != expected {
                                failures.append("UInt8 width \(width) first \(first) count \(count)")
                            }
                        }
                        if width == 1 {
                            var bits = [UInt8](repeating: 0xEE, count: count)
                            packed.withUnsafeBytes { raw in
                                bits.withUnsafeMutableBufferPointer {
                                    expandBits(raw.baseAddress!, byteCount: readable, firstBit: first, count: count,
                                               into: $0.baseAddress!)
                                }
                            }
                            if bits.map(UInt64.init) != expected { failures.append("expandBits first \(first) count \(count)") }
                        }
                    }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(8))")
    }

    @Test("RLE / bit-packed runs decode in pieces like a reference, for every bit width")
    func hybridRuns() throws {
        var rng = SeededRandom(seed: 12)
        for width in 1...32 {
            let runs = randomRuns(&rng, width: width, maxValue: lowBits(width), runs: 40)
            let expected = runs.flatMap(\.values)
            let data = encodeHybrid(runs, width: width)
            var out = [UInt32](repeating: 0, count: expected.count)
            try data.withUnsafeBytes { raw in
                var decoder = try RLEHybridDecoder(raw, bitWidth: width)
                var done = 0
                while done < expected.count {
                    let piece = min(Int(rng.next() % 700) + 1, expected.count - done)
                    try out.withUnsafeMutableBufferPointer { try decoder.decode(into: $0.baseAddress! + done, count: piece) }
                    done += piece
                }
            }
            #expect(out.map(UInt64.init) == expected, "width \(width)")
        }
    }

    @Test("levels decode with their count of a target level and their highest level", arguments: 1...7)
    func levels(width: Int) throws {
        var rng = SeededRandom(seed: UInt64(20 + width))
        let max = lowBits(width) - UInt64(width > 1 ? 1 : 0)  // not always all ones, so the check matters
        let runs = randomRuns(&rng, width: width, maxValue: max, runs: 60)
        let expected = runs.flatMap(\.values).map { UInt8($0) }
        let data = encodeHybrid(runs, width: width)
        for target in [UInt8(0), UInt8(max)] {
            var out = [UInt8](repeating: 0xEE, count: expected.count)
            var matches = 0
            var highest: UInt8 = 0
            try data.withUnsafeBytes { raw in
                var decoder = try RLEHybridDecoder(raw, bitWidth: width)
                var done = 0
                while done < expected.count {
                    let piece = Swift.min(Int(rng.next() % 500) + 1, expected.count - done)
                    let result = try out.withUnsafeMutableBufferPointer {
                        try decoder.decodeLevels(into: $0.baseAddress! + done, count: piece, counting: target)
                    }
                    matches += result.matches
                    highest = Swift.max(highest, result.highest)
                    done += piece
                }
            }
            #expect(out == expected)
            #expect(matches == expected.filter { $0 == target }.count)
            #expect(highest == expected.max())
        }
        // A level above the column's maximum is an error, in a bit-packed run as in a repeated one.
        if width > 1 {
            for run in [HybridRun.packed([UInt64](repeating: lowBits(width), count: 8)), .repeated(lowBits(width), count: 3)] {
                var buffer = OutputBuffer<UInt8>()
                #expect(throws: ParquetError.self) {
                    _ = try encodeHybrid([run], width: width).withUnsafeBytes { raw in
                        try ColumnChunkDecoder.decodeRLELevels(raw, count: run.values.count, max: Int(max), counting: 0,
                                                               into: &buffer)
                    }
                }
            }
        }
    }

    @Test("BYTE_STREAM_SPLIT decodes every width, in whole blocks and the rest")
    func byteStreamSplit() throws {
        var rng = SeededRandom(seed: 13)
        // (physical type, width, type length)
        for (type, width, length) in [(Int32(5), 8, nil), (4, 4, nil), (1, 4, nil), (2, 8, nil), (7, 3, Int32(3)),
                                      (7, 16, 16)] as [(Int32, Int, Int32?)] {
            for count in [1, 7, 8, 9, 37, 64] {
                let values = (0..<(count * width)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                var split = [UInt8](repeating: 0, count: values.count)
                for i in 0..<count { for b in 0..<width { split[b * count + i] = values[i * width + b] } }
                let page = SyntheticPage(numValues: Int32(count), encoding: 9, body: split)
                let column = SyntheticColumn(physicalType: type, typeLength: length, numValues: Int64(count), pages: [page])
                let file = try ParquetFile.openSynchronously(bytes: syntheticFile(rows: Int64(count), columns: [column]))
                let data = try file.readColumnSynchronously(rowGroup: 0, column: 0)
                #expect(data.values.bytes == values, "type \(type) width \(width) count \(count)")
            }
        }
    }

    static let strings: [[UInt8]] = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 3, 0, 40, 2].enumerated().map { i, n in
        (0..<n).map { UInt8(truncatingIfNeeded: $0 * 7 + i) }
    }

    @Test("PLAIN strings of every length up to past 64 bytes, ending at the page's last byte")
    func plainStrings() throws {
        for values in [FastPathTests.strings, FastPathTests.strings.reversed(), [[UInt8](repeating: 9, count: 5)]] {
            let page = SyntheticPage(numValues: Int32(values.count), body: plainByteArrays(values))
            let column = SyntheticColumn(physicalType: 6, numValues: Int64(values.count * 2), pages: [page, page])
            let file = try ParquetFile.openSynchronously(bytes: syntheticFile(rows: Int64(values.count * 2), columns: [column]))
            let data = try file.readColumnSynchronously(rowGroup: 0, column: 0)
            #expect(data.values.count == values.count * 2)
            #expect((0..<data.values.count).map { Array(data.values.valueBytes(at: $0)) } == values + values)
        }
        // A length running past the page is an error.
        let broken = plainByteArrays([[1, 2, 3]]).dropLast()
        let column = SyntheticColumn(physicalType: 6, numValues: 1, pages: [SyntheticPage(numValues: 1, body: Array(broken))])
        let file = try ParquetFile.openSynchronously(bytes: syntheticFile(rows: 1, columns: [column]))
        #expect(throws: ParquetError.self) { _ = try file.readColumnSynchronously(rowGroup: 0, column: 0) }
    }

    @Test("dictionary gathers over several index batches, for strings and fixed widths")
    func dictionaryGathers() throws {
        var rng = SeededRandom(seed: 14)
        let dictionary = FastPathTests.strings
        let count = 9000  // more than two batches of indices
        let width = bitWidth(of: dictionary.count - 1)
        var runs: [HybridRun] = []
        var total = 0
        while total < count {
            let run = rng.next() % 3 == 0
                ? HybridRun.repeated(rng.next() % UInt64(dictionary.count), count: Int(rng.next() % 50) + 1)
                : .packed((0..<(8 * (Int(rng.next() % 30) + 1))).map { _ in rng.next() % UInt64(dictionary.count) })
            runs.append(run)
            total += run.values.count
        }
        let indices = Array(runs.flatMap(\.values).prefix(count)).map { Int($0) }
        let body = [UInt8(width)] + encodeHybrid(runs, width: width)
        // Strings.
        let stringPages = [SyntheticPage(type: 2, numValues: Int32(dictionary.count), body: plainByteArrays(dictionary)),
                           SyntheticPage(numValues: Int32(count), encoding: 8, body: body)]
        let strings = SyntheticColumn(physicalType: 6, numValues: Int64(count), pages: stringPages)
        let stringFile = try ParquetFile.openSynchronously(bytes: syntheticFile(rows: Int64(count), columns: [strings]))
        let stringData = try stringFile.readColumnSynchronously(rowGroup: 0, column: 0)
        #expect((0..<stringData.values.count).map { Array(stringData.values.valueBytes(at: $0)) } == indices.map { dictionary[$0] })
        // Fixed widths: INT32, INT64, FIXED_LEN_BYTE_ARRAY(12), FIXED_LEN_BYTE_ARRAY(16), FIXED_LEN_BYTE_ARRAY(5).
        for (type, valueWidth, length) in [(Int32(1), 4, nil), (2, 8, nil), (7, 12, Int32(12)), (7, 16, 16), (7, 5, 5)]
            as [(Int32, Int, Int32?)]
        {
            let values = (0..<dictionary.count).map { i in (0..<valueWidth).map { UInt8(truncatingIfNeeded: i * 31 + $0) } }
            let pages = [SyntheticPage(type: 2, numValues: Int32(values.count), body: values.flatMap { $0 }),
                         SyntheticPage(numValues: Int32(count), encoding: 8, body: body)]
            let column = SyntheticColumn(physicalType: type, typeLength: length, numValues: Int64(count), pages: pages)
            let file = try ParquetFile.openSynchronously(bytes: syntheticFile(rows: Int64(count), columns: [column]))
            let data = try file.readColumnSynchronously(rowGroup: 0, column: 0)
            #expect(data.values.bytes == indices.flatMap { values[$0] }, "width \(valueWidth)")
        }
        // An index past the dictionary (15 values, 4-bit indices) inside a bit-packed run is an error.
        let short = Array(dictionary.prefix(15))
        var bad = (0..<8).map { UInt64($0) }
        bad[5] = 15
        let badPages = [SyntheticPage(type: 2, numValues: 15, body: plainByteArrays(short)),
                        SyntheticPage(numValues: 8, encoding: 8, body: [4] + encodeHybrid([.packed(bad)], width: 4))]
        let badFile = try ParquetFile.openSynchronously(
            bytes: syntheticFile(rows: 8, columns: [SyntheticColumn(physicalType: 6, numValues: 8, pages: badPages)]))
        let error = try #require(throws: ParquetError.self) { _ = try badFile.readColumnSynchronously(rowGroup: 0, column: 0) }
        #expect(error.message.contains("dictionary index 15"))
    }

    @Test("compressed pages without levels decompress straight into the values, v1 and v2")
    func directDecompression() throws {
        let values = (0..<1000).map { Int64($0) * 1_000_003 - 7 }
        let first = littleEndian64(Array(values[0..<600]))
        let second = littleEndian64(Array(values[600...]))
        let v1 = [SyntheticPage(numValues: 600, body: snappyLiterals(first), uncompressedSize: Int32(first.count)),
                  SyntheticPage(numValues: 400, body: snappyLiterals(second), uncompressedSize: Int32(second.count))]
        let v2 = [SyntheticPage(type: 3, numValues: 600, body: snappyLiterals(first), uncompressedSize: Int32(first.count),
                                v2Levels: (0, 0), v2Compressed: true),
                  SyntheticPage(numValues: 400, body: snappyLiterals(second), uncompressedSize: Int32(second.count))]
        for pages in [v1, v2] {
            let column = SyntheticColumn(physicalType: 2, codec: 1, numValues: 1000, pages: pages)
            let file = try ParquetFile.openSynchronously(bytes: syntheticFile(rows: 1000, columns: [column]))
            let data = try file.readColumnSynchronously(rowGroup: 0, column: 0)
            #expect(data.values.bytes == littleEndian64(values))
            #expect(data.values.count == 1000)
        }
        // A page decompressing to fewer bytes than its values need is an error.
        let short = SyntheticPage(numValues: 600, body: snappyLiterals(Array(first.dropLast(8))),
                                  uncompressedSize: Int32(first.count - 8))
        let file = try ParquetFile.openSynchronously(bytes: syntheticFile(
            rows: 600, columns: [SyntheticColumn(physicalType: 2, codec: 1, numValues: 600, pages: [short])]))
        let error = try #require(throws: ParquetError.self) { _ = try file.readColumnSynchronously(rowGroup: 0, column: 0) }
        #expect(error.message.contains("600 values of 8 bytes"))
    }

    /// Small files of different shapes and sizes, decoded one after another into one value.
    static func syntheticShapes() -> [[UInt8]] {
        let manyStrings = (0..<3000).map { FastPathTests.strings[$0 % FastPathTests.strings.count] }
        let bigStrings = SyntheticColumn(physicalType: 6, numValues: 3000,
                                         pages: [SyntheticPage(numValues: 3000, body: plainByteArrays(manyStrings))])
        let ints = SyntheticColumn(numValues: 3, pages: [SyntheticPage(numValues: 3, body: littleEndian([7, -8, 9]))])
        // Optional INT32 with levels [1, 0, 1, 1, 0] (v1, RLE levels).
        let levels = encodeHybrid([.packed([1, 0, 1, 1, 0, 0, 0, 0])], width: 1)
        let optionalBody = littleEndian([Int32(levels.count)]) + levels + littleEndian([5, 6, 7])
        let optional = SyntheticColumn(repetition: 1, numValues: 5,
                                       pages: [SyntheticPage(numValues: 5, body: optionalBody)])
        let fewStrings = SyntheticColumn(physicalType: 6, numValues: 2,
                                         pages: [SyntheticPage(numValues: 2, body: plainByteArrays([[1], [2, 3]]))])
        return [syntheticFile(rows: 3000, columns: [bigStrings]), syntheticFile(rows: 3, columns: [ints]),
                syntheticFile(rows: 5, columns: [optional]), syntheticFile(rows: 2, columns: [fewStrings]),
                syntheticFile(rows: 3000, columns: [bigStrings])]
    }

    @Test("decoding into a reused value gives what fresh reads give, across shapes and sizes")
    func reusedBuffers() async throws {
        var reused = ParquetColumnData()
        #expect(reused.values.count == 0 && reused.levelCount == 0)
        for bytes in FastPathTests.syntheticShapes() + FastPathTests.syntheticShapes().reversed() {
            let file = try ParquetFile.openSynchronously(bytes: bytes)
            let fresh = try file.readColumnSynchronously(rowGroup: 0, column: 0)
            try file.readColumnSynchronously(rowGroup: 0, column: 0, into: &reused)
            #expect(sameColumnData(fresh, reused))
            try await file.readColumn(rowGroup: 0, column: 0, into: &reused)
            #expect(sameColumnData(fresh, reused))
            for source in [AsyncOnlySource(bytes: bytes), OtherSynchronousSource(bytes: bytes)] as [any ParquetByteSource] {
                let other = try await ParquetFile.open(source: source)
                try await other.readColumn(rowGroup: 0, column: 0, into: &reused)
                #expect(sameColumnData(fresh, reused))
                #expect(sameColumnData(fresh, try await other.readColumn(rowGroup: 0, column: 0)))
            }
        }
        // A copy taken before the next read keeps its contents.
        let shapes = FastPathTests.syntheticShapes()
        let first = try ParquetFile.openSynchronously(bytes: shapes[0])
        try first.readColumnSynchronously(rowGroup: 0, column: 0, into: &reused)
        let kept = reused
        try ParquetFile.openSynchronously(bytes: shapes[1]).readColumnSynchronously(rowGroup: 0, column: 0, into: &reused)
        #expect(sameColumnData(kept, try first.readColumnSynchronously(rowGroup: 0, column: 0)))
        // After an error the value is empty, and the next read works.
        let broken = Array(shapes[0].prefix(200)) + [UInt8](repeating: 0xFF, count: 64) + shapes[0].dropFirst(264)
        if let file = try? ParquetFile.openSynchronously(bytes: broken) {
            if (try? file.readColumnSynchronously(rowGroup: 0, column: 0, into: &reused)) == nil {
                #expect(reused.values.count == 0 && reused.levelCount == 0 && reused.values.bytes.isEmpty)
            }
        }
        try first.readColumnSynchronously(rowGroup: 0, column: 0, into: &reused)
        #expect(sameColumnData(reused, try first.readColumnSynchronously(rowGroup: 0, column: 0)))
    }

    @Test("pooled decode memory drops arrays too large to keep, and scans give the same totals every time")
    func pooledMemory() async throws {
        let limit = DecodeMemoryPool.maxRetainedBytes
        var memory = DecodeScratch()
        memory.chunk = [UInt8](repeating: 1, count: limit / 2 + 1)
        memory.page = [1, 2, 3]
        memory.scanOutput.offsets = [Int](repeating: 0, count: limit / 16 / 8 * 7)
        // Under the limit: nothing is released.
        memory.trim(to: limit)
        #expect(memory.chunk.count == limit / 2 + 1 && memory.scanOutput.offsets.count == limit / 16 / 8 * 7)
        // Over it: the largest array goes first, and only as many as needed.
        memory.dictBytes = [UInt8](repeating: 2, count: limit / 4)
        memory.trim(to: limit)
        #expect(memory.chunk.capacity == 0)
        #expect(memory.dictBytes.count == limit / 4 && memory.scanOutput.offsets.count == limit / 16 / 8 * 7)
        #expect(memory.page == [1, 2, 3])
        #expect(memory.retainedBytes <= limit)
        for bytes in FastPathTests.syntheticShapes() {
            let file = try ParquetFile.openSynchronously(bytes: bytes)
            let first = try await scan(file)
            let second = try await scan(file)
            #expect(first.rows == second.rows && first.values == second.values && first.decodedBytes == second.decodedBytes)
            #expect(first.rows == file.numRows)
        }
    }

    @Test("every corpus file decodes the same into reused values as fresh, from memory and from disk",
          .enabled(if: Corpus.enabled, "the Parquet corpus is not available (set SLUICE_CORPUS)"))
    func reusedBuffersOverCorpus() async throws {
        var fromMemory = ParquetColumnData()
        var fromDisk = ParquetColumnData()
        var compared = 0
        for entry in try Corpus.manifest() where entry.readable {
            let url = Corpus.parquet.appendingPathComponent(entry.file)
            guard let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int, size < 8 << 20
            else { continue }
            let options = ParquetReadOptions(verifyChecksums: !entry.file.contains("corrupt-checksum"))
            let memory = try ParquetFile.openSynchronously(bytes: try Corpus.bytes(entry.file), options: options)
            let disk = try await ParquetFile.open(path: url.path, options: options)
            for group in memory.rowGroups.indices {
                for column in memory.schema.columns.indices {
                    let fresh: ParquetColumnData
                    do {
                        fresh = try memory.readColumnSynchronously(rowGroup: group, column: column)
                    } catch {
                        #expect(throws: ParquetError.self) {
                            try memory.readColumnSynchronously(rowGroup: group, column: column, into: &fromMemory)
                        }
                        continue
                    }
                    try memory.readColumnSynchronously(rowGroup: group, column: column, into: &fromMemory)
                    try await disk.readColumn(rowGroup: group, column: column, into: &fromDisk)
                    #expect(sameColumnData(fresh, fromMemory), "\(entry.file) group \(group) column \(column)")
                    #expect(sameColumnData(fresh, fromDisk), "\(entry.file) group \(group) column \(column) from disk")
                    compared += 1
                }
            }
        }
        #expect(compared > 100)
    }
}
