/// Writes every row of `file` as one JSON object per line, in the canonical form shared with
/// the test corpus: top-level columns in schema order; floats as the shortest round-trip text
/// (NaN and infinities as strings); decimals as strings with exactly `scale` fraction digits;
/// binary as padded base64; timestamps as ISO-8601 UTC with as many fraction digits as the
/// unit has; dates `YYYY-MM-DD`; lists as arrays; maps as arrays of `[key, value]`; structs
/// as objects.
///
/// Rows are produced one row group at a time (every column chunk of the group is decoded
/// first), and `output` is called with pieces of at most about 1 MiB, each ending at a line
/// break.
public func writeJSONLines(
    file: ParquetFile, isolation: isolated (any Actor)? = #isolation, to output: ([UInt8]) throws -> Void
) async throws {
    var buffer: [UInt8] = []
    buffer.reserveCapacity(1 << 20)
    for group in file.rowGroups.indices {
        let columns = try await file.readRowGroup(group)
        let printer = try RowPrinter(schema: file.schema, columns: columns)
        let rows = Int(file.rowGroups[group].numRows)
        for row in 0..<rows {
            do {
                try printer.appendRow(row, to: &buffer)
            } catch {
                throw error.located(rowGroup: group)
            }
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count >= 1 << 20 {
                try output(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
    }
    if !buffer.isEmpty { try output(buffer) }
}

/// Assembles rows from the decoded column chunks of one row group.
struct RowPrinter {
    enum LeafKind {
        case null, boolean, int32, uint32, int64, uint64, date, int96, float, double, float16, string, binary
        case time(ParquetTimeUnit), timestamp(ParquetTimeUnit)
        case decimal32(Int), decimal64(Int), decimalBytes(Int)
    }

    let schema: ParquetSchema
    let columns: [ParquetColumnData]
    let nestings: [ParquetNesting]
    let kinds: [LeafKind]
    /// For each schema node, a leaf below it and the node's index on that leaf's path.
    let places: [ObjectIdentifier: (column: Int, pathIndex: Int)]

    init(schema: ParquetSchema, columns: [ParquetColumnData]) throws(ParquetError) {
        self.schema = schema
        self.columns = columns
        var nestings: [ParquetNesting] = []
        var places: [ObjectIdentifier: (column: Int, pathIndex: Int)] = [:]
        for (c, data) in columns.enumerated() {
            nestings.append(try data.nesting())
            for (i, node) in data.column.pathNodes.enumerated() where places[ObjectIdentifier(node)] == nil {
                places[ObjectIdentifier(node)] = (c, i)
            }
        }
        self.nestings = nestings
        self.places = places
        self.kinds = schema.columns.map(RowPrinter.kind(of:))
    }

    static func kind(of column: ParquetColumnDescriptor) -> LeafKind {
        let logical = column.logicalType
        if logical == .null { return .null }
        switch column.physicalType {
        case .boolean: return .boolean
        case .int32:
            switch logical {
            case .integer(_, false): return .uint32
            case .date: return .date
            case .time(let unit, _) where unit == .millis: return .time(.millis)
            case .decimal(_, let scale): return .decimal32(scale)
            default: return .int32
            }
        case .int64:
            switch logical {
            case .integer(_, false): return .uint64
            case .time(let unit, _) where unit != .millis: return .time(unit)
            case .timestamp(let unit, _): return .timestamp(unit)
            case .decimal(_, let scale): return .decimal64(scale)
            default: return .int64
            }
        case .int96: return .int96
        case .float: return .float
        case .double: return .double
        case .byteArray:
            switch logical {
            case .string, .json: return .string
            case .decimal(_, let scale): return .decimalBytes(scale)
            default: return .binary
            }
        case .fixedLenByteArray:
            switch logical {
            case .decimal(_, let scale): return .decimalBytes(scale)
            case .float16 where column.typeLength == 2: return .float16
            default: return .binary
            }
        }
    }

    func place(_ node: ParquetSchemaNode) throws(ParquetError) -> (column: Int, pathIndex: Int) {
        guard let p = places[ObjectIdentifier(node)] else {
            throw ParquetError(.unsupported, "group \(node.path.joined(separator: ".")) has no leaf columns")
        }
        return p
    }

    func corrupt(_ node: ParquetSchemaNode) -> ParquetError {
        ParquetError(.corrupt, "the levels of the columns below \(node.path.joined(separator: ".")) disagree",
                     columnPath: node.path.joined(separator: "."))
    }

    func appendRow(_ row: Int, to out: inout [UInt8]) throws(ParquetError) {
        out.append(UInt8(ascii: "{"))
        for (i, field) in schema.root.children.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendKey(field.name, to: &out)
            try appendField(field, slot: row, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    func appendKey(_ name: String, to out: inout [UInt8]) {
        var name = name
        name.withUTF8 { Formatting.appendJSONString(UnsafeRawBufferPointer($0), to: &out) }
        out.append(UInt8(ascii: ":"))
    }

    func items(_ node: ParquetSchemaNode, slot: Int) throws(ParquetError) -> Range<Int> {
        let (c, p) = try place(node)
        guard let offsets = nestings[c].offsets[p], slot >= 0, slot + 1 < offsets.count else { throw corrupt(node) }
        let lower = offsets[slot]
        let upper = offsets[slot + 1]
        guard lower <= upper else { throw corrupt(node) }
        return lower..<upper
    }

    /// A field as it appears inside its parent: repeated fields become arrays.
    func appendField(_ node: ParquetSchemaNode, slot: Int, to out: inout [UInt8]) throws(ParquetError) {
        if node.repetition == .repeated {
            out.append(UInt8(ascii: "["))
            for (n, item) in try items(node, slot: slot).enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                try appendPresent(node, slot: item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        } else {
            try appendValue(node, slot: slot, to: &out)
        }
    }

    func appendValue(_ node: ParquetSchemaNode, slot: Int, to out: inout [UInt8]) throws(ParquetError) {
        if node.repetition == .optional {
            let (c, p) = try place(node)
            guard let validity = nestings[c].validity[p], slot >= 0, slot < validity.count else { throw corrupt(node) }
            if validity[slot] == 0 {
                out.append(contentsOf: "null".utf8)
                return
            }
        }
        try appendPresent(node, slot: slot, to: &out)
    }

    func appendPresent(_ node: ParquetSchemaNode, slot: Int, to out: inout [UInt8]) throws(ParquetError) {
        if node.isLeaf {
            try appendLeaf(node, slot: slot, to: &out)
            return
        }
        let logical = node.logicalType
        if logical == .list, node.children.count == 1, node.children[0].repetition == .repeated {
            let repeated = node.children[0]
            out.append(UInt8(ascii: "["))
            for (n, item) in try items(repeated, slot: slot).enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                if let element = listElement(list: node, repeated: repeated) {
                    try appendField(element, slot: item, to: &out)
                } else {
                    try appendPresent(repeated, slot: item, to: &out)
                }
            }
            out.append(UInt8(ascii: "]"))
            return
        }
        if logical == .map, node.children.count == 1, node.children[0].repetition == .repeated,
            !node.children[0].isLeaf
        {
            let entries = node.children[0]
            let key = entries.children[0]
            let value = entries.children.count > 1 ? entries.children[1] : nil
            out.append(UInt8(ascii: "["))
            for (n, item) in try items(entries, slot: slot).enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                if let value {
                    out.append(UInt8(ascii: "["))
                    try appendField(key, slot: item, to: &out)
                    out.append(UInt8(ascii: ","))
                    try appendField(value, slot: item, to: &out)
                    out.append(UInt8(ascii: "]"))
                } else {
                    try appendField(key, slot: item, to: &out)
                }
            }
            out.append(UInt8(ascii: "]"))
            return
        }
        out.append(UInt8(ascii: "{"))
        for (i, child) in node.children.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendKey(child.name, to: &out)
            try appendField(child, slot: slot, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The element field of a LIST, or nil when the repeated field itself is the element
    /// (the backward-compatibility rules of the format specification).
    func listElement(list: ParquetSchemaNode, repeated: ParquetSchemaNode) -> ParquetSchemaNode? {
        if repeated.isLeaf || repeated.children.count != 1 { return nil }
        let only = repeated.children[0]
        if only.repetition == .repeated { return only }
        if repeated.name == "array" || repeated.name == list.name + "_tuple" { return nil }
        return only
    }

    func appendLeaf(_ node: ParquetSchemaNode, slot: Int, to out: inout [UInt8]) throws(ParquetError) {
        let (c, _) = try place(node)
        let index = nestings[c].valueIndex
        guard slot >= 0, slot < index.count else { throw corrupt(node) }
        let v = Int(index[slot])
        if v < 0 {
            out.append(contentsOf: "null".utf8)
            return
        }
        let values = columns[c].values
        guard v < values.count else { throw corrupt(node) }
        switch kinds[c] {
        case .null: out.append(contentsOf: "null".utf8)
        case .boolean: out.append(contentsOf: (values.boolean(at: v) ? "true" : "false").utf8)
        case .int32: out.append(contentsOf: String(values.int32(at: v)).utf8)
        case .uint32: out.append(contentsOf: String(UInt32(bitPattern: values.int32(at: v))).utf8)
        case .int64: out.append(contentsOf: String(values.int64(at: v)).utf8)
        case .uint64: out.append(contentsOf: String(UInt64(bitPattern: values.int64(at: v))).utf8)
        case .date:
            out.append(UInt8(ascii: "\""))
            Formatting.appendDate(days: Int64(values.int32(at: v)), to: &out)
            out.append(UInt8(ascii: "\""))
        case .time(let unit):
            let raw = unit == .millis ? Int64(values.int32(at: v)) : values.int64(at: v)
            let (_, within) = Formatting.floorDivMod(raw, unit.perSecond * 86_400)
            out.append(UInt8(ascii: "\""))
            Formatting.appendTimeOfDay(within, perSecond: unit.perSecond, digits: unit.fractionDigits, to: &out)
            out.append(UInt8(ascii: "\""))
        case .timestamp(let unit): Formatting.appendTimestamp(values.int64(at: v), unit: unit, to: &out)
        case .int96:
            let (day, nanos) = values.int96(at: v).epochDayAndNanos
            Formatting.appendTimestamp(days: day, unitsOfDay: nanos, perSecond: 1_000_000_000, digits: 9, to: &out)
        case .float: Formatting.appendDouble(Double(values.float(at: v)), to: &out)
        case .double: Formatting.appendDouble(values.double(at: v), to: &out)
        case .float16:
            let bits = values.bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: v * 2, as: UInt16.self) }
            Formatting.appendDouble(Formatting.halfToDouble(UInt16(littleEndian: bits)), to: &out)
        case .decimal32(let scale): Formatting.appendDecimal(Int64(values.int32(at: v)), scale: scale, to: &out)
        case .decimal64(let scale): Formatting.appendDecimal(values.int64(at: v), scale: scale, to: &out)
        case .decimalBytes(let scale):
            let range = values.byteRange(at: v)
            values.bytes.withUnsafeBytes {
                Formatting.appendDecimal(bigEndian: UnsafeRawBufferPointer(rebasing: $0[range]), scale: scale, to: &out)
            }
        case .string:
            let range = values.byteRange(at: v)
            values.bytes.withUnsafeBytes {
                Formatting.appendJSONString(UnsafeRawBufferPointer(rebasing: $0[range]), to: &out)
            }
        case .binary:
            let range = values.byteRange(at: v)
            out.append(UInt8(ascii: "\""))
            values.bytes.withUnsafeBytes {
                Formatting.appendBase64(UnsafeRawBufferPointer(rebasing: $0[range]), to: &out)
            }
            out.append(UInt8(ascii: "\""))
        }
    }
}
