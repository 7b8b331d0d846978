// libFuzzer entry point over the whole decode path: footer, schema, every column chunk of
// every row group, nesting, and JSON Lines rendering. Built together with the Parquet
// sources into one module by `scripts/fuzz parquet`.

/// Limits small enough that no input can make one run allocate gigabytes.
let fuzzOptions = ParquetReadOptions(
    verifyChecksums: true, maxFooterBytes: 8 << 20, maxColumnChunkBytes: 64 << 20, maxPageBytes: 64 << 20,
    maxDecodedColumnBytes: 256 << 20)

@_cdecl("LLVMFuzzerTestOneInput")
public func parquetFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for verify in [true, false] {
        var options = fuzzOptions
        options.verifyChecksums = verify
        guard let file = try? ParquetFile.openSynchronously(bytes: bytes, options: options) else { return 0 }
        _ = describeSchema(file)
        for group in file.rowGroups.indices {
            var columns: [ParquetColumnData] = []
            for column in file.schema.columns.indices {
                guard let decoded = try? file.readColumnSynchronously(rowGroup: group, column: column) else { break }
                columns.append(decoded)
            }
            guard columns.count == file.schema.columns.count,
                let printer = try? RowPrinter(schema: file.schema, columns: columns)
            else { continue }
            var out: [UInt8] = []
            for row in 0..<min(Int(file.rowGroups[group].numRows), 100_000) {
                if (try? printer.appendRow(row, to: &out)) == nil { break }
                if out.count > 1 << 20 { out.removeAll(keepingCapacity: true) }
            }
        }
    }
    return 0
}
