// sluice-decode-bench: times Sluice's Parquet decoder on whole files, for `scripts/bench decode`.
//
//   sluice-decode-bench [--warmup N] [--repeat N] [--min-sample-seconds S] FILE...
//
// For each file it opens it with `ParquetFile.open(path:)` and decodes every column chunk of every row group with
// `scan(_:)`, `warmup` times unmeasured and then `repeat` samples measured. A sample repeats the open + scan enough
// times to last at least `S` seconds (judged from the last warm-up), so that small files are not timer noise, and
// records the time of one. It prints one JSON object per file:
// `{"file": ..., "seconds": [...], "inner": ..., "rows": ..., "values": ..., "decoded_bytes": ..., "stored_bytes": ...}`.
// Opening is inside the timed region, as it is in pyarrow's `read_table`. A file that fails prints
// `{"file": ..., "error": ...}` and the tool goes on; the exit status is 0 unless the arguments are wrong.
import Foundation
import Parquet

/// The command line, parsed.
struct Arguments {
    var warmup = 1
    var repeats = 5
    var minSampleSeconds = 0.0
    var files: [String] = []

    init(_ argv: [String]) throws(UsageError) {
        var i = 0
        while i < argv.count {
            let arg = argv[i]
            switch arg {
            case "--warmup", "--repeat":
                guard i + 1 < argv.count, let n = Int(argv[i + 1]), n >= 0 else {
                    throw UsageError(message: "\(arg) needs a non-negative integer")
                }
                if arg == "--warmup" { warmup = n } else { repeats = max(n, 1) }
                i += 2
            case "--min-sample-seconds":
                guard i + 1 < argv.count, let s = Double(argv[i + 1]), s >= 0, s <= 60 else {
                    throw UsageError(message: "--min-sample-seconds needs a number of seconds between 0 and 60")
                }
                minSampleSeconds = s
                i += 2
            case "-h", "--help":
                throw UsageError(message: Self.usage)
            default:
                files.append(arg)
                i += 1
            }
        }
        if files.isEmpty { throw UsageError(message: Self.usage) }
    }

    static let usage = "usage: sluice-decode-bench [--warmup N] [--repeat N] [--min-sample-seconds S] FILE..."
}

/// Wrong arguments: the message is printed and the tool exits 2.
struct UsageError: Error {
    var message: String
}

/// One file's measurements.
struct Measurement: Encodable {
    var file: String
    var seconds: [Double] = []
    var inner = 1
    var rows: Int64 = 0
    var values: Int64 = 0
    var decodedBytes: Int64 = 0
    var storedBytes: Int64 = 0
    var error: String?

    enum CodingKeys: String, CodingKey {
        case file, seconds, inner, rows, values, error
        case decodedBytes = "decoded_bytes"
        case storedBytes = "stored_bytes"
    }
}

/// Opens and scans `path` once, returning the elapsed time and the scan's totals.
func timedScan(_ path: String) async throws(ParquetError) -> (Double, ParquetScanSummary) {
    let clock = ContinuousClock()
    let start = clock.now
    let file = try await ParquetFile.open(path: path)
    let summary = try await scan(file)
    let elapsed = start.duration(to: clock.now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return (seconds, summary)
}

func run(_ arguments: Arguments) async {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    for path in arguments.files {
        var measurement = Measurement(file: path)
        do {
            var last = 0.0
            for _ in 0..<max(arguments.warmup, 1) { last = try await timedScan(path).0 }
            let inner = last > 0 ? min(max(Int((arguments.minSampleSeconds / last).rounded(.up)), 1), 10_000) : 1
            measurement.inner = inner
            for _ in 0..<arguments.repeats {
                var total = 0.0
                var summary = ParquetScanSummary()
                for _ in 0..<inner {
                    let (seconds, scanned) = try await timedScan(path)
                    total += seconds
                    summary = scanned
                }
                measurement.seconds.append(total / Double(inner))
                measurement.rows = summary.rows
                measurement.values = summary.values
                measurement.decodedBytes = summary.decodedBytes
                measurement.storedBytes = summary.storedBytes
            }
        } catch {
            measurement.error = error.description
        }
        if let data = try? encoder.encode(measurement) {
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

do {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    await run(arguments)
} catch {
    FileHandle.standardError.write(Data((error.message + "\n").utf8))
    exit(2)
}
