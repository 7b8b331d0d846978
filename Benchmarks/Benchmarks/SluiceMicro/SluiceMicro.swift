// Micro-benchmarks of Sluice's hot loops, through the libraries' public APIs.
//
// The Parquet hot loops (bit unpacking, RLE runs, dictionary gathers, delta decoding, codec calls) are not public
// on their own, so each is measured by decoding a one-column chunk whose shape makes that loop dominate; the
// files come from `scripts/bench_lib/gen_data.py micro` (run by `scripts/bench micro`) under `.bench-data/micro-v1/`, or
// `SLUICE_BENCH_DATA`. Without them the Parquet benchmarks are left out with a message.
//
// Allocation counts (`mallocCountTotal`) are deterministic, so each benchmark has a static p90 threshold in
// `Thresholds/SluiceMicro.<name>.p90.json`; `swift package benchmark thresholds check` reports any drift.
// Wall-clock figures are printed but never checked: on shared machines they are noise.
//
// Benchmark names hold no spaces or `/`: package-benchmark 1.38 writes threshold files with those replaced by `_`
// but looks them up verbatim, so such a name would never find its thresholds.
import AWSSigV4
import Benchmark
import ClickHouseNative
import EventPattern
import Foundation
import Parquet

/// Where the generated Parquet files are: `SLUICE_BENCH_DATA`, else `<repository>/.bench-data/micro-v1`.
private func microDataDirectory() -> URL {
    if let dir = ProcessInfo.processInfo.environment["SLUICE_BENCH_DATA"], !dir.isEmpty {
        return URL(fileURLWithPath: dir)
    }
    // .../Benchmarks/Benchmarks/SluiceMicro/SluiceMicro.swift -> repository root
    let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".bench-data/micro-v1")
}

/// Whether `scripts/bench --quick` asked for short runs.
private let quick = ProcessInfo.processInfo.environment["SLUICE_BENCH_QUICK"] == "1"

/// One generated single-column Parquet file and what its decode exercises.
private struct ChunkCase {
    var name: String
    var file: String
}

/// The Parquet shapes, each isolating one hot loop (see scripts/bench_lib/gen_data.py for how each file is written).
private let chunkCases: [ChunkCase] = [
    ChunkCase(name: "Parquet.bit-unpack-dict-indices-17bit-int32", file: "bitpack_w17.parquet"),
    ChunkCase(name: "Parquet.rle-dict-runs-int64", file: "rle_runs.parquet"),
    ChunkCase(name: "Parquet.dict-gather-strings", file: "dict_strings.parquet"),
    ChunkCase(name: "Parquet.def-levels-50pct-nulls-int64", file: "levels_nullable.parquet"),
    ChunkCase(name: "Parquet.delta-binary-packed-int64", file: "delta_int64.parquet"),
    ChunkCase(name: "Parquet.delta-byte-array-strings", file: "delta_strings.parquet"),
    ChunkCase(name: "Parquet.plain-int64-uncompressed", file: "plain_int64.none.parquet"),
    ChunkCase(name: "Parquet.plain-int64-snappy", file: "plain_int64.snappy.parquet"),
    ChunkCase(name: "Parquet.plain-int64-zstd", file: "plain_int64.zstd.parquet"),
]

/// Measures wall clock, throughput and allocations; the static thresholds check allocations only, with a
/// tolerance of 2 % or 8 allocations per iteration, whichever is larger.
private func configuration(scaling: BenchmarkScalingFactor = .one) -> Benchmark.Configuration {
    let mallocTolerance = BenchmarkThresholds(relative: [.p90: 2.0], absolute: [.p90: 8])
    return Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: quick ? 1 : 3,
        scalingFactor: scaling,
        maxDuration: quick ? .milliseconds(400) : .seconds(2),
        maxIterations: quick ? 50 : 1_000,
        thresholds: [.mallocCountTotal: mallocTolerance]
    )
}

let benchmarks: @Sendable () -> Void = {
    // MARK: Parquet column chunks

    let dataDirectory = microDataDirectory()
    var missing: [String] = []
    for chunk in chunkCases {
        let url = dataDirectory.appendingPathComponent(chunk.file)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            missing.append(chunk.file)
            continue
        }
        let bytes = [UInt8](data)
        Benchmark(chunk.name, configuration: configuration()) { benchmark in
            // Opening parses the footer; it is outside the measured region.
            let file: ParquetFile
            do { file = try ParquetFile.openSynchronously(bytes: bytes) } catch {
                benchmark.error("cannot open \(chunk.file): \(error)")
                return
            }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                for group in file.rowGroups.indices {
                    do {
                        blackHole(try file.readColumnSynchronously(rowGroup: group, column: 0))
                    } catch {
                        benchmark.error("cannot decode \(chunk.file): \(error)")
                        return
                    }
                }
            }
            benchmark.stopMeasurement()
        }
    }
    if !missing.isEmpty {
        print("SluiceMicro: Parquet micro-benchmarks skipped, files missing under \(dataDirectory.path) "
            + "(run scripts/bench micro to generate them): \(missing.joined(separator: ", "))")
    }

    // MARK: ClickHouse Native encoding

    let rows = 65_536
    let ids = FixedWidthBuffer((0..<rows).map { Int64($0) * 7_919 })
    let prices = FixedWidthBuffer(float64: (0..<rows).map { Double($0) * 0.25 })
    var names = StringBuffer(capacity: rows, byteCapacity: rows * 16)
    for i in 0..<rows { names.append("customer-\(i % 5_000)") }
    let nullMap = (0..<rows).map { UInt8($0 % 10 == 0 ? 1 : 0) }
    var elementOffsets: [UInt64] = []
    elementOffsets.reserveCapacity(rows)
    var end: UInt64 = 0
    for i in 0..<rows {
        end += UInt64(i % 4)
        elementOffsets.append(end)
    }
    let elements = FixedWidthBuffer((0..<Int(end)).map { Int32(truncatingIfNeeded: $0) })
    let columns = [
        NativeColumn(name: "id", type: .int64, data: .fixed(ids)),
        NativeColumn(name: "name", type: .string, data: .strings(names)),
        NativeColumn(name: "price", type: .nullable(.float64), data: .nullable(nullMap: nullMap, values: .fixed(prices))),
        NativeColumn(name: "tags", type: .array(.int32), data: .array(offsets: elementOffsets, elements: .fixed(elements))),
    ]
    Benchmark("Native.block-65536-rows-int64-string-nullable-float64-array-int32", configuration: configuration()) {
        benchmark in
        var writer = NativeBlockWriter(capacity: 4 << 20)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            writer.removeAll()
            do { try writer.writeBlock(columns) } catch {
                benchmark.error("\(error)")
                return
            }
            blackHole(writer.bytes.count)
        }
        benchmark.stopMeasurement()
    }

    // MARK: Event JSON parsing and matching

    let event = Array(
        """
        {"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",\
        "account":"111122223333","time":"2025-09-10T00:00:00Z","region":"us-east-1",\
        "resources":["arn:aws:s3:::data-pipeline-curated-dev"],"detail":{"version":"0",\
        "bucket":{"name":"data-pipeline-curated-dev"},"object":{"key":"market/prices/ds=2025-09-10/part-001.parquet",\
        "size":1048576,"etag":"b1946ac92492d2347c6235b4d2611184","sequencer":"617f08299329d189"},\
        "request-id":"N4N7GDK58NMKJ12R","requester":"123456789012","source-ip-address":"1.2.3.4","reason":"PutObject"}}
        """.utf8)
    Benchmark("JSON.parse-eventbridge-object-created-572-bytes", configuration: configuration(scaling: .kilo)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            do { blackHole(try JSONValue.parse(event)) } catch {
                benchmark.error("\(error)")
                return
            }
        }
    }
    let patternJSON = EventPattern.s3ObjectCreated(
        bucket: "data-pipeline-curated-dev",
        keyPrefixes: ["market/", "customer/", "product/", "analytics/"],
        minSizeExclusive: 1_024
    )
    if let pattern = try? EventPattern(json: patternJSON), let parsed = try? JSONValue.parse(event) {
        Benchmark("EventPattern.match-s3-object-created", configuration: configuration(scaling: .kilo)) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(pattern.matches(parsed))
            }
        }
    }

    // MARK: SigV4

    let signer = SigV4Signer(
        credentials: SigV4Credentials(
            accessKeyID: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            sessionToken: nil
        ),
        region: "us-east-1",
        service: "s3",
        options: .s3
    )
    let request = SigV4Request(
        method: "GET",
        path: "/data-pipeline-curated-dev/market/prices/ds%3D2025-09-10/part-001.parquet",
        headers: [
            SigV4Header("Host", "s3.us-east-1.amazonaws.com"),
            SigV4Header("Range", "bytes=0-8388607"),
        ]
    )
    let date = Date(timeIntervalSince1970: 1_757_462_400)
    Benchmark("SigV4.sign-s3-ranged-get-headers", configuration: configuration(scaling: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(signer.signHeaders(request, payload: .unsigned, date: date))
        }
    }
}
