/// A human-readable description of a file: its schema tree with physical and logical types,
/// then every row group with each column chunk's codec, encodings and sizes.
public func describeSchema(_ file: ParquetFile) -> String {
    var lines: [String] = []
    lines.append("rows: \(file.numRows), row groups: \(file.rowGroups.count), format version: \(file.version)")
    if let createdBy = file.createdBy { lines.append("created by: \(createdBy)") }
    if !file.keyValueMetadata.isEmpty {
        lines.append("key/value metadata:")
        for kv in file.keyValueMetadata {
            lines.append("  \(kv.key): \(kv.value.map { "\($0.utf8.count) bytes" } ?? "(none)")")
        }
    }
    lines.append("message \(file.schema.root.name) {")
    func walk(_ node: ParquetSchemaNode, indent: String) {
        var annotation: [String] = []
        if let logical = node.logicalType { annotation.append(logical.description) }
        if let converted = node.convertedType, node.logicalType == nil || converted.description != node.logicalType?.description {
            annotation.append("converted \(converted)")
        }
        let note = annotation.isEmpty ? "" : " (" + annotation.joined(separator: ", ") + ")"
        if let physical = node.physicalType {
            let type = physical == .fixedLenByteArray ? "\(physical)(\(node.typeLength ?? 0))" : physical.description
            lines.append("\(indent)\(node.repetition) \(type) \(node.name)\(note);"
                         + "  -- column \(node.columnIndex ?? 0), max definition \(node.maxDefinitionLevel), max repetition \(node.maxRepetitionLevel)")
        } else {
            lines.append("\(indent)\(node.repetition) group \(node.name)\(note) {")
            for child in node.children { walk(child, indent: indent + "  ") }
            lines.append("\(indent)}")
        }
    }
    for child in file.schema.root.children { walk(child, indent: "  ") }
    lines.append("}")
    for (g, group) in file.rowGroups.enumerated() {
        lines.append("row group \(g): \(group.numRows) rows, \(group.totalByteSize) bytes")
        for (c, chunk) in group.columns.enumerated() {
            let path = c < file.schema.columns.count ? file.schema.columns[c].dottedPath : chunk.pathInSchema.joined(separator: ".")
            let encodings = chunk.encodings.map(\.description).joined(separator: ", ")
            lines.append("  \(path): \(chunk.physicalType) \(chunk.codec) [\(encodings)] \(chunk.numValues) values, "
                         + "\(chunk.totalCompressedSize) bytes stored, \(chunk.totalUncompressedSize) bytes uncompressed")
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

/// Totals from ``scan(_:)``.
public struct ParquetScanSummary: Sendable {
    /// Rows decoded.
    public var rows: Int64 = 0
    /// Leaf values decoded (nulls excluded), over all columns.
    public var values: Int64 = 0
    /// Bytes of decoded values (fixed-width bytes, or string bytes plus 4 per string) over all columns.
    public var decodedBytes: Int64 = 0
    /// Column chunk bytes read from the source.
    public var storedBytes: Int64 = 0

    /// An empty summary.
    public init() {}
}

/// Decodes every column chunk of every row group without producing output; used to measure
/// decoding speed and to validate a whole file.
public func scan(_ file: ParquetFile) async throws(ParquetError) -> ParquetScanSummary {
    var summary = ParquetScanSummary()
    // The output arrays come from (and go back to) the decode memory pool, so that scanning
    // file after file decodes into warm memory.
    var memory = DecodeMemoryPool.take()
    var data = ParquetColumnData(reusing: &memory.scanOutput)
    defer {
        memory.scanOutput = data.takeBuffers()
        DecodeMemoryPool.give(memory)
    }
    for group in file.rowGroups.indices {
        for column in file.schema.columns.indices {
            try await file.readColumn(rowGroup: group, column: column, into: &data)
            summary.values += Int64(data.values.count)
            let width = data.values.width
            let count = data.values.count
            summary.decodedBytes += Int64(width == 0 ? data.values.bytes.count + 4 * count : data.values.bytes.count)
            summary.storedBytes += file.rowGroups[group].columns[column].totalCompressedSize
        }
        summary.rows += file.rowGroups[group].numRows
    }
    return summary
}
