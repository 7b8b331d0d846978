public import ClickHouseNative
public import Parquet

/// A column of the target table, as the transcoder needs it (built from `system.columns`).
public struct TargetColumn: Sendable, Hashable {
    /// How the server fills a column that an insert leaves out.
    public enum Fill: Sendable, Hashable {
        /// No default expression: an insert must provide it (unless it is Nullable, which defaults to NULL).
        case required
        /// `DEFAULT expr`: the server computes it when the file lacks the column.
        case hasDefault
        /// `MATERIALIZED`, `ALIAS` or `EPHEMERAL`: never inserted.
        case computed
    }

    /// The column name.
    public var name: String
    /// The type text as the server prints it.
    public var typeName: String
    /// The parsed type, or `nil` when ClickHouseNative cannot encode it.
    public var type: ClickHouseType?
    /// How the server fills it.
    public var fill: Fill

    /// Creates a column description.
    public init(name: String, typeName: String, type: ClickHouseType?, fill: Fill) {
        self.name = name
        self.typeName = typeName
        self.type = type
        self.fill = fill
    }

    /// A column whose type text parses with ``ClickHouseType/init(parsing:)``.
    public init(name: String, typeName: String, fill: Fill = .required) {
        self.init(name: name, typeName: typeName, type: try? ClickHouseType(parsing: typeName), fill: fill)
    }
}

/// How file columns are matched to table columns, and the values that do not come from the file.
public struct MappingOptions: Sendable, Hashable {
    /// Match names ignoring ASCII case (`clickhouse.match_case_insensitive`). An ambiguous match is an error.
    public var caseInsensitive: Bool
    /// Hive-style partition values from the object key (`ds=2025-09-10` gives `["ds": "2025-09-10"]`), used for table
    /// columns of those names that the file lacks; converted to the column type.
    public var partitionValues: [String: String]
    /// Lineage values (`_source_key`, `_source_etag`, `_correlation_id`, `_loaded_at`, `_sluice_load_id`), used
    /// when the table has columns of those names; converted to the column type.
    public var lineage: [String: String]

    /// Creates options.
    public init(caseInsensitive: Bool = false, partitionValues: [String: String] = [:], lineage: [String: String] = [:]) {
        self.caseInsensitive = caseInsensitive
        self.partitionValues = partitionValues
        self.lineage = lineage
    }
}

/// The file does not fit the table. Lists every mismatch; nothing should be inserted. Pipeline code E003.
public struct SchemaMismatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// One column that does not fit.
    public struct Mismatch: Sendable, Hashable, CustomStringConvertible {
        /// The table column (or the file column when the table lacks it).
        public var column: String
        /// The Parquet type, or `-` when the file lacks the column.
        public var parquetType: String
        /// The ClickHouse type, or `-`.
        public var clickHouseType: String
        /// Why it does not fit.
        public var reason: String

        public var description: String { "\(column) (Parquet \(parquetType) -> ClickHouse \(clickHouseType)): \(reason)" }
    }

    /// Every mismatch, in table column order.
    public var mismatches: [Mismatch]

    /// The pipeline error code.
    public var code: String { "E003" }

    public var description: String {
        "E003 schema mismatch in \(mismatches.count) column\(mismatches.count == 1 ? "" : "s"): "
            + mismatches.map(\.description).joined(separator: "; ")
    }
}

/// A value that its column cannot hold (out of range, NULL in a non-Nullable column, precision that would be lost).
/// Pipeline code E003.
public struct TranscodeValueError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The table column.
    public var column: String
    /// The row group.
    public var rowGroup: Int
    /// The row within the row group, when known.
    public var row: Int?
    /// What is wrong.
    public var reason: String

    /// The pipeline error code.
    public var code: String { "E003" }

    public var description: String {
        "E003 column \(column), row group \(rowGroup)\(row.map { ", row \($0)" } ?? ""): \(reason)"
    }
}

/// Which table columns are filled from which file columns or constants, checked once per file.
///
/// Columns match by name (optionally ignoring case); a flattened Nested column `n.x` takes field `x` (or the field at
/// position x) of the file's list of structs `n`. Conversions are lossless by type, and checked by value where the
/// type alone cannot tell:
///
/// | Parquet | ClickHouse |
/// |---|---|
/// | BOOLEAN | Bool, or any integer, Decimal or Float type |
/// | INT32/INT64 (INT(bits, signed) annotations respected) | integer types that hold every value of the source type, Float64 (up to 32 bits), Float32 (up to 16 bits), Decimal(P, S) with P - S digits for the source type |
/// | DECIMAL(p, s) on INT32/INT64/FIXED/BYTE_ARRAY | Decimal(P, S) with S >= s and P - S >= p - s; integers when s = 0; over 16 bytes only Decimal256 of the same scale |
/// | DATE | Date32, Date (values 1970-01-01...2149-06-06), DateTime (whole days within its range), DateTime64(p) |
/// | TIMESTAMP(unit), INT96 | DateTime64(p) (finer to coarser only when no precision is lost), DateTime (whole seconds within its range) |
/// | FLOAT, DOUBLE, FLOAT16 | Float32/Float64 (DOUBLE only to Float64) |
/// | BYTE_ARRAY | String, FixedString(N) (values up to N bytes, zero-padded), Enum8/16 (by member name) |
/// | FIXED_LEN_BYTE_ARRAY(n) | FixedString(N >= n), String, UUID and IPv6 (n = 16) |
/// | LIST, repeated field | Array(T) (a NULL list becomes an empty array, as in ClickHouse's own Parquet input) |
/// | MAP | Map(K, V) |
/// | struct | Tuple(named: by field name; unnamed: by position); fields of a NULL struct get NULL or their default |
///
/// Any of these may be wrapped in Nullable and LowCardinality; a NULL into a non-Nullable column is a value error.
/// TIME, INTERVAL and unknown logical types have no ClickHouse type here.
public struct TranscodePlan: Sendable {
    /// One column of the blocks.
    public struct Column: Sendable {
        /// The table column name (the block header names it).
        public var name: String
        /// The table column type (the block header declares exactly this).
        public var type: ClickHouseType
        /// Where the values come from.
        public var source: Source
    }

    /// Where a column's values come from.
    public enum Source: Sendable {
        /// A top-level field of the file.
        case file(field: String, step: Step, leaves: [Int])
        /// A partition or lineage value, the same in every row.
        case constant(NativeColumnData, origin: String)
    }

    /// The columns of every block, in table order.
    public let columns: [Column]
    /// Table columns left to the server (DEFAULT, MATERIALIZED, ALIAS, or Nullable without a value).
    public let omitted: [String]
    /// File columns that the table does not have (ignored).
    public let unusedFileColumns: [String]

    /// Matches `schema` to `table`.
    /// - Throws: ``SchemaMismatchError`` listing every column that does not fit.
    public init(parquet schema: ParquetSchema, table: [TargetColumn], options: MappingOptions = MappingOptions()) throws(SchemaMismatchError) {
        var columns: [Column] = []
        var omitted: [String] = []
        var mismatches: [SchemaMismatchError.Mismatch] = []
        let fields = schema.root.children
        var usedFields = Set<String>()
        let index = LeafIndex(schema: schema)

        func fold(_ name: String) -> String { options.caseInsensitive ? name.lowercased() : name }

        for column in table {
            if column.fill == .computed {
                omitted.append(column.name)
                continue
            }
            let matches = fields.filter { fold($0.name) == fold(column.name) }
            guard let type = column.type else {
                if matches.isEmpty, column.fill == .hasDefault {
                    omitted.append(column.name)
                } else {
                    mismatches.append(.init(
                        column: column.name, parquetType: matches.first.map(describe) ?? "-", clickHouseType: column.typeName,
                        reason: "the type \(column.typeName) cannot be written by Sluice"))
                }
                continue
            }
            if matches.count > 1 {
                mismatches.append(.init(
                    column: column.name, parquetType: matches.map(\.name).joined(separator: ", "), clickHouseType: column.typeName,
                    reason: "several file columns match the name when case is ignored"))
                continue
            }
            if let field = matches.first {
                usedFields.insert(field.name)
                do {
                    let step = try Compiler(index: index).field(field, type)
                    columns.append(Column(name: column.name, type: type, source: .file(field: field.name, step: step, leaves: index.leaves(under: field))))
                } catch {
                    mismatches.append(.init(column: column.name, parquetType: describe(field), clickHouseType: column.typeName, reason: error.reason))
                }
                continue
            }
            // A flattened Nested column (`n.x Array(T)`; 18.16 also stores `Array(Tuple(...))` this way as `n.1`, `n.2`):
            // the items of the file's list of structs, field `x` (or the field at that 1-based position).
            if let dot = column.name.firstIndex(of: "."), case .array(let itemType) = Compiler.unwrapAggregate(type) {
                let prefix = String(column.name[..<dot])
                let member = String(column.name[column.name.index(after: dot)...])
                let parents = fields.filter { fold($0.name) == fold(prefix) }
                if parents.count == 1, let parent = parents.first {
                    usedFields.insert(parent.name)
                    do {
                        let step = try Compiler(index: index).nestedMember(parent, member: member, itemType: itemType, fold: fold)
                        columns.append(Column(name: column.name, type: type, source: .file(field: parent.name, step: step, leaves: index.leaves(under: parent))))
                    } catch {
                        mismatches.append(.init(column: column.name, parquetType: describe(parent), clickHouseType: column.typeName, reason: error.reason))
                    }
                    continue
                }
            }
            let constantText = options.partitionValues.first { fold($0.key) == fold(column.name) }.map { ($0.value, "partition value") }
                ?? options.lineage.first { fold($0.key) == fold(column.name) }.map { ($0.value, "lineage value") }
            if let (text, origin) = constantText {
                do {
                    let value = try ConstantParser.column(text: text, type: type)
                    columns.append(Column(name: column.name, type: type, source: .constant(value, origin: origin)))
                } catch {
                    mismatches.append(.init(column: column.name, parquetType: "\(origin) \"\(text)\"", clickHouseType: column.typeName, reason: error.reason))
                }
                continue
            }
            if column.fill == .hasDefault || type.isNullable {
                omitted.append(column.name)
            } else {
                mismatches.append(.init(
                    column: column.name, parquetType: "-", clickHouseType: column.typeName,
                    reason: "the file has no such column and the table column has no default"))
            }
        }
        if !mismatches.isEmpty { throw SchemaMismatchError(mismatches: mismatches) }
        self.columns = columns
        self.omitted = omitted
        self.unusedFileColumns = fields.map(\.name).filter { !usedFields.contains($0) }
    }

    /// The Parquet leaf columns (indexes into `schema.columns`) that the blocks need, in ascending order.
    public var leafColumns: [Int] {
        var result = Set<Int>()
        for column in columns { if case .file(_, _, let leaves) = column.source { result.formUnion(leaves) } }
        return result.sorted()
    }
}

/// A short description of a field's Parquet type for messages.
func describe(_ node: ParquetSchemaNode) -> String {
    var text = ""
    if node.repetition == .repeated { text += "repeated " }
    if node.isLeaf {
        text += node.physicalType.map { "\($0)" } ?? "?"
        if let length = node.typeLength, node.physicalType == .fixedLenByteArray { text += "(\(length))" }
    } else {
        text += "group"
    }
    if let logical = node.logicalType { text += " \(logical)" }
    if node.repetition == .optional { text += " (optional)" }
    return text
}

/// Where each schema node's levels can be read: the first leaf under it, and the node's position on that leaf's path.
struct LeafIndex: Sendable {
    struct Place: Sendable, Hashable {
        var leaf: Int
        var position: Int
    }

    let places: [ObjectIdentifier: Place]
    let leavesUnder: [ObjectIdentifier: [Int]]
    let paths: [Int: [ParquetSchemaNode]]

    init(schema: ParquetSchema) {
        var places: [ObjectIdentifier: Place] = [:]
        var under: [ObjectIdentifier: [Int]] = [:]
        var paths: [Int: [ParquetSchemaNode]] = [:]
        for column in schema.columns {
            paths[column.index] = column.pathNodes
            for (position, node) in column.pathNodes.enumerated() {
                let id = ObjectIdentifier(node)
                if places[id] == nil { places[id] = Place(leaf: column.index, position: position) }
                under[id, default: []].append(column.index)
            }
        }
        self.places = places
        self.leavesUnder = under
        self.paths = paths
    }

    func place(_ node: ParquetSchemaNode) -> Place? { places[ObjectIdentifier(node)] }

    func leaves(under node: ParquetSchemaNode) -> [Int] { leavesUnder[ObjectIdentifier(node)] ?? [] }
}
