public import ClickHouseNative
public import Parquet

/// Turns decoded Parquet row groups into Native block columns of the table's exact types, following a
/// ``TranscodePlan``. Works column by column, so at any time it holds the converted columns of one row group plus the
/// Parquet chunks of one table column; it never builds rows.
public struct ParquetNativeTranscoder: Sendable {
    /// The plan.
    public let plan: TranscodePlan

    /// Creates a transcoder.
    public init(plan: TranscodePlan) {
        self.plan = plan
    }

    /// Converts one row group of `rowCount` rows. `read` returns the decoded chunk of a leaf column (an index into
    /// the file's `schema.columns`); it is called once per needed leaf, and each chunk is released after its table
    /// column is built.
    ///
    /// - Throws: ``TranscodeValueError`` for a value its column cannot hold, or what `read` throws.
    public func transcode(
        rowGroup: Int, rowCount: Int, read: (Int) async throws -> ParquetColumnData
    ) async throws -> [NativeColumn] {
        var result: [NativeColumn] = []
        result.reserveCapacity(plan.columns.count)
        for column in plan.columns {
            switch column.source {
            case .constant(let value, _):
                result.append(NativeColumn(name: column.name, type: column.type, data: Self.replicate(value, rows: rowCount)))
            case .file(let field, let step, let leaves):
                var decoded: [Int: Decoded] = [:]
                for leaf in leaves {
                    let data = try await read(leaf)
                    do {
                        decoded[leaf] = try Decoded(data)
                    } catch {
                        throw TranscodeValueError(column: column.name, rowGroup: rowGroup, row: nil, reason: "\(error)")
                    }
                }
                let data: NativeColumnData
                do {
                    data = try Self.run(step, decoded)
                } catch {
                    throw TranscodeValueError(column: column.name, rowGroup: rowGroup, row: error.row, reason: "\(field): \(error.reason)")
                }
                guard data.count == rowCount else {
                    throw TranscodeValueError(
                        column: column.name, rowGroup: rowGroup, row: nil,
                        reason: "the file column \(field) has \(data.count) rows where the row group has \(rowCount)")
                }
                result.append(NativeColumn(name: column.name, type: column.type, data: data))
            }
        }
        return result
    }

    /// Reads and converts every row group of `file`, handing blocks of at most `blockRows` rows and about
    /// `blockBytes` bytes to `body`, in file order.
    public func transcode(
        file: ParquetFile, blockRows: Int = 65536, blockBytes: Int = 16 << 20, body: ([NativeColumn]) async throws -> Void
    ) async throws {
        for (rowGroup, info) in file.rowGroups.enumerated() {
            let rows = Int(info.numRows)
            guard rows > 0 else { continue }
            let columns = try await transcode(rowGroup: rowGroup, rowCount: rows) { leaf in
                try await file.readColumn(rowGroup: rowGroup, column: leaf)
            }
            for block in Self.split(columns, rows: rows, blockRows: blockRows, blockBytes: blockBytes) {
                try await body(block)
            }
        }
    }

    /// Splits a row group's columns into blocks of at most `blockRows` rows and about `blockBytes` bytes.
    public static func split(_ columns: [NativeColumn], rows: Int, blockRows: Int, blockBytes: Int) -> [[NativeColumn]] {
        guard rows > 0 else { return [] }
        let bytes = max(1, columns.reduce(0) { $0 + $1.data.estimatedByteCount })
        let bySize = max(1, Int((Double(blockBytes) / Double(bytes)) * Double(rows)))
        let step = max(1, min(blockRows, bySize))
        if step >= rows { return [columns] }
        return stride(from: 0, to: rows, by: step).map { start in
            let range = start..<min(rows, start + step)
            return columns.map { NativeColumn(name: $0.name, type: $0.type, data: $0.data.slice(range)) }
        }
    }

    /// A decoded leaf with the index of each slot's value. Flat columns skip the general level walk: their slots
    /// are the rows, and a column without NULLs maps row i to value i.
    struct Decoded {
        var data: ParquetColumnData
        var nesting: ParquetNesting?
        var valueIndex: [Int32]
        var identity: Bool

        init(_ data: ParquetColumnData) throws(ParquetError) {
            self.data = data
            let column = data.column
            if column.maxRepetitionLevel == 0, column.pathNodes.count == 1 {
                nesting = nil
                if data.values.count == data.levelCount {
                    identity = true
                    valueIndex = []
                } else {
                    identity = false
                    let top = UInt8(column.maxDefinitionLevel)
                    var next: Int32 = 0
                    var index = [Int32](repeating: -1, count: data.levelCount)
                    data.definitionLevels.withUnsafeBufferPointer { levels in
                        for slot in 0..<min(levels.count, index.count) where levels[slot] == top {
                            index[slot] = next
                            next += 1
                        }
                    }
                    guard Int(next) == data.values.count else {
                        throw ParquetError(.corrupt, "levels describe \(next) values but \(data.values.count) were decoded",
                                           rowGroup: data.rowGroup, columnPath: column.dottedPath)
                    }
                    valueIndex = index
                }
            } else {
                let nesting = try data.nesting()
                self.nesting = nesting
                valueIndex = nesting.valueIndex
                identity = false
            }
        }

        /// One value index per slot (materialised for the identity case).
        var indexes: [Int32] { identity ? (0..<Int32(data.levelCount)).map { $0 } : valueIndex }

        var slotDepths: Int { nesting?.slotCounts.count ?? 1 }

        /// Whether the leaf itself (not a parent) is NULL at `slot`.
        func leafIsNull(at slot: Int, position: Int, parents: [Int]) -> Bool {
            guard let nesting else { return !identity && valueIndex[slot] < 0 }
            let parentsPresent = parents.allSatisfy { nesting.validity[$0]?[slot] != 0 }
            return parentsPresent && nesting.validity[position]?[slot] == 0
        }
    }

    struct Failure: Error {
        var row: Int?
        var reason: String
    }

    static func run(_ step: Step, _ decoded: [Int: Decoded]) throws(Failure) -> NativeColumnData {
        switch step.kind {
        case .scalar(let leaf, let place, let conversion, let target, let sameDepthOptionals):
            guard let input = decoded[leaf] else { throw Failure(row: nil, reason: "leaf \(leaf) was not read") }
            let base: NativeColumnData
            do {
                base = try conversion.convert(
                    input.data.values, indexes: input.identity ? nil : input.valueIndex, count: input.data.levelCount,
                    target: Compiler.scalarBase(target))
            } catch {
                throw Failure(row: input.slotDepths == 1 ? error.slot : nil, reason: error.reason)
            }
            let nullMap: [UInt8]? = input.identity || !input.valueIndex.contains(where: { $0 < 0 })
                ? nil : input.valueIndex.map { $0 < 0 ? 1 : 0 }
            if case .lowCardinality(let inner) = Compiler.unwrapAggregate(target), case .strings(let strings) = base,
                let encoded = DictionaryEncoder.encode(strings, nullMap: inner.isNullable ? nullMap : nil, nullable: inner.isNullable)
            {
                if nullMap != nil, !inner.isNullable { try checkNulls(input, place: place, parents: sameDepthOptionals, target: target) }
                return encoded
            }
            guard let nullMap else { return base }
            if target.isNullable { return .nullable(nullMap: nullMap, values: base) }
            try checkNulls(input, place: place, parents: sameDepthOptionals, target: target)
            return base

        case .list(let repeated, let element):
            let offsets = try offsets(repeated, decoded)
            return .array(offsets: offsets, elements: try run(element, decoded))

        case .map(let entries, let key, let value):
            let offsets = try offsets(entries, decoded)
            return .map(offsets: offsets, keys: try run(key, decoded), values: try run(value, decoded))

        case .tuple(let steps):
            var columns: [NativeColumnData] = []
            for step in steps { columns.append(try run(step, decoded)) }
            return .tuple(columns)
        }
    }

    /// A NULL of the value itself cannot go into a non-Nullable column; a NULL of an enclosing struct gives the default
    /// value, as ClickHouse's own Parquet input does.
    static func checkNulls(_ input: Decoded, place: LeafIndex.Place, parents: [Int], target: ClickHouseType) throws(Failure) {
        guard input.data.column.node.repetition == .optional, !input.identity else { return }
        for (slot, index) in input.valueIndex.enumerated() where index < 0 {
            if input.leafIsNull(at: slot, position: place.position, parents: parents) {
                throw Failure(row: input.slotDepths == 1 ? slot : nil, reason: "NULL in a column of the non-Nullable type \(target)")
            }
        }
    }

    /// The cumulative end offsets of a repeated node's items per parent slot.
    static func offsets(_ place: LeafIndex.Place, _ decoded: [Int: Decoded]) throws(Failure) -> [UInt64] {
        guard let input = decoded[place.leaf], let nesting = input.nesting, place.position < nesting.offsets.count,
            let offsets = nesting.offsets[place.position], offsets.first == 0
        else { throw Failure(row: nil, reason: "the list structure is missing") }
        return offsets.dropFirst().map { UInt64($0) }
    }

    /// `rows` copies of a one-row column.
    static func replicate(_ one: NativeColumnData, rows: Int) -> NativeColumnData {
        switch one {
        case .fixed(let buffer):
            var out = FixedWidthBuffer(width: buffer.width, capacity: rows)
            for _ in 0..<rows { try! out.append(littleEndianBytes: buffer.bytes) }
            return .fixed(out)
        case .strings(let buffer):
            var out = StringBuffer(capacity: rows, byteCapacity: buffer.bytes.count * rows)
            for _ in 0..<rows { out.append(bytes: buffer.bytes) }
            return .strings(out)
        default:
            return one
        }
    }
}
