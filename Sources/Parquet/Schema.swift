/// A field of the schema tree: a group (with children) or a leaf column (with a physical type).
public final class ParquetSchemaNode: Sendable {
    /// The field name as stored.
    public let name: String
    /// Required, optional or repeated.
    public let repetition: ParquetRepetition
    /// The physical type, for leaves; `nil` for groups.
    public let physicalType: ParquetPhysicalType?
    /// Byte width of FIXED_LEN_BYTE_ARRAY leaves.
    public let typeLength: Int?
    /// The logical type (from the LogicalType annotation, or derived from the converted type).
    public let logicalType: ParquetLogicalType?
    /// The legacy converted type as stored, if any.
    public let convertedType: ParquetConvertedType?
    /// The field id, if the writer stored one.
    public let fieldId: Int?
    /// Child fields of a group, in order; empty for leaves.
    public let children: [ParquetSchemaNode]
    /// For leaves, the index of the column in ``ParquetSchema/columns``.
    public let columnIndex: Int?
    /// The maximum definition level of this field (count of optional and repeated fields on
    /// the path from the root down to and including this one).
    public let maxDefinitionLevel: Int
    /// The maximum repetition level of this field (count of repeated fields on the path).
    public let maxRepetitionLevel: Int
    /// Names from the top-level field down to this one.
    public let path: [String]

    init(
        element: SchemaElement, logicalType: ParquetLogicalType?, children: [ParquetSchemaNode], columnIndex: Int?,
        maxDef: Int, maxRep: Int, path: [String]
    ) {
        self.name = element.name
        self.repetition = element.repetition ?? .required
        self.physicalType = children.isEmpty ? element.type : nil
        self.typeLength = element.typeLength.map { Int($0) }
        self.logicalType = logicalType
        self.convertedType = element.convertedType
        self.fieldId = element.fieldId.map { Int($0) }
        self.children = children
        self.columnIndex = columnIndex
        self.maxDefinitionLevel = maxDef
        self.maxRepetitionLevel = maxRep
        self.path = path
    }

    /// True for leaf columns.
    public var isLeaf: Bool { physicalType != nil }
}

/// A leaf column: where its values come from and how they are nested.
public struct ParquetColumnDescriptor: Sendable {
    /// Position among the leaves (and among each row group's column chunks).
    public let index: Int
    /// The leaf node.
    public let node: ParquetSchemaNode
    /// Every node from the top-level field down to the leaf (the root is not included).
    public let pathNodes: [ParquetSchemaNode]

    /// Names from the top-level field down to the leaf.
    public var path: [String] { node.path }
    /// The path joined with dots, e.g. `a.list.element`.
    public var dottedPath: String { node.path.joined(separator: ".") }
    /// The leaf's physical type.
    public var physicalType: ParquetPhysicalType { node.physicalType! }
    /// The leaf's logical type, if any.
    public var logicalType: ParquetLogicalType? { node.logicalType }
    /// Byte width for FIXED_LEN_BYTE_ARRAY (0 otherwise).
    public var typeLength: Int { node.typeLength ?? 0 }
    /// Maximum definition level; a value is present when its level equals this.
    public var maxDefinitionLevel: Int { node.maxDefinitionLevel }
    /// Maximum repetition level; zero for columns outside any list.
    public var maxRepetitionLevel: Int { node.maxRepetitionLevel }
}

/// The schema of a file: the tree of fields and the list of leaf columns.
public struct ParquetSchema: Sendable {
    /// The root group; its children are the top-level columns.
    public let root: ParquetSchemaNode
    /// Leaf columns in file order.
    public let columns: [ParquetColumnDescriptor]

    /// Deepest nesting accepted; deeper schemas are rejected as unsupported.
    static let maxDepth = 100

    init(elements: [SchemaElement]) throws(ParquetError) {
        guard let first = elements.first else { throw .corrupt("the schema is empty") }
        guard let rootChildren = first.numChildren, rootChildren >= 0 else {
            throw .corrupt("the schema root is not a group")
        }
        var builder = Builder(elements: elements)
        builder.position = 1
        var children: [ParquetSchemaNode] = []
        for _ in 0..<Int(rootChildren) {
            children.append(try builder.node(depth: 1, parentDef: 0, parentRep: 0, parentPath: [], ancestors: []))
        }
        guard builder.position == elements.count else {
            throw .corrupt("the schema lists \(elements.count) elements but its tree uses \(builder.position)")
        }
        var rootElement = first
        rootElement.repetition = .required
        root = ParquetSchemaNode(element: rootElement, logicalType: nil, children: children, columnIndex: nil,
                                 maxDef: 0, maxRep: 0, path: [])
        columns = builder.columns
    }

    private struct Builder {
        let elements: [SchemaElement]
        var position = 0
        var columns: [ParquetColumnDescriptor] = []
        var pendingPaths: [[ParquetSchemaNode]] = []

        init(elements: [SchemaElement]) { self.elements = elements }

        mutating func node(depth: Int, parentDef: Int, parentRep: Int, parentPath: [String], ancestors: [Int])
            throws(ParquetError) -> ParquetSchemaNode
        {
            guard depth <= ParquetSchema.maxDepth else {
                throw .unsupported("the schema is nested deeper than \(ParquetSchema.maxDepth) levels")
            }
            guard position < elements.count else { throw .corrupt("the schema tree needs more elements than stored") }
            let element = elements[position]
            position += 1
            let repetition = element.repetition ?? .required
            let def = parentDef + (repetition == .required ? 0 : 1)
            let rep = parentRep + (repetition == .repeated ? 1 : 0)
            let path = parentPath + [element.name]
            let logical = effectiveLogicalType(element)
            if let count = element.numChildren, element.type == nil || count > 0 {
                guard count > 0 else {
                    throw .unsupported("group \(path.joined(separator: ".")) has no fields")
                }
                guard Int(count) <= elements.count - position else {
                    throw .corrupt("group \(path.joined(separator: ".")) claims \(count) children but the schema has fewer elements")
                }
                let firstLeaf = columns.count
                var children: [ParquetSchemaNode] = []
                children.reserveCapacity(Int(count))
                for _ in 0..<Int(count) {
                    children.append(try node(depth: depth + 1, parentDef: def, parentRep: rep, parentPath: path,
                                             ancestors: ancestors))
                }
                let group = ParquetSchemaNode(element: element, logicalType: logical, children: children,
                                              columnIndex: nil, maxDef: def, maxRep: rep, path: path)
                // Prepend this group to the path of every leaf created below it.
                for i in firstLeaf..<columns.count {
                    let old = columns[i]
                    columns[i] = ParquetColumnDescriptor(index: old.index, node: old.node,
                                                          pathNodes: [group] + old.pathNodes)
                }
                return group
            }
            guard let type = element.type else {
                throw .corrupt("schema element \(path.joined(separator: ".")) has neither a type nor children")
            }
            if type == .fixedLenByteArray {
                guard let length = element.typeLength, length > 0, length <= 1 << 24 else {
                    throw .corrupt("FIXED_LEN_BYTE_ARRAY column \(path.joined(separator: ".")) has an invalid length \(element.typeLength ?? 0)")
                }
            }
            if case .decimal(let precision, let scale) = logical {
                guard scale >= 0, scale <= 10_000, precision >= 0 else {
                    throw .corrupt("decimal column \(path.joined(separator: ".")) has precision \(precision) and scale \(scale)")
                }
            }
            let leaf = ParquetSchemaNode(element: element, logicalType: logical, children: [], columnIndex: columns.count,
                                         maxDef: def, maxRep: rep, path: path)
            columns.append(ParquetColumnDescriptor(index: columns.count, node: leaf, pathNodes: [leaf]))
            return leaf
        }
    }
}

private func effectiveLogicalType(_ e: SchemaElement) -> ParquetLogicalType? {
    if let logical = e.logicalType {
        if case .decimal(let p, let s) = logical, p == 0, let ep = e.precision {
            return .decimal(precision: Int(ep), scale: s)
        }
        return logical
    }
    guard let converted = e.convertedType else { return nil }
    switch converted {
    case .utf8: return .string
    case .map, .mapKeyValue: return .map
    case .list: return .list
    case .enumeration: return .enumeration
    case .decimal: return .decimal(precision: Int(e.precision ?? 0), scale: Int(e.scale ?? 0))
    case .date: return .date
    case .timeMillis: return .time(unit: .millis, isAdjustedToUTC: true)
    case .timeMicros: return .time(unit: .micros, isAdjustedToUTC: true)
    case .timestampMillis: return .timestamp(unit: .millis, isAdjustedToUTC: true)
    case .timestampMicros: return .timestamp(unit: .micros, isAdjustedToUTC: true)
    case .uint8: return .integer(bitWidth: 8, isSigned: false)
    case .uint16: return .integer(bitWidth: 16, isSigned: false)
    case .uint32: return .integer(bitWidth: 32, isSigned: false)
    case .uint64: return .integer(bitWidth: 64, isSigned: false)
    case .int8: return .integer(bitWidth: 8, isSigned: true)
    case .int16: return .integer(bitWidth: 16, isSigned: true)
    case .int32: return .integer(bitWidth: 32, isSigned: true)
    case .int64: return .integer(bitWidth: 64, isSigned: true)
    case .json: return .json
    case .bson: return .bson
    case .interval: return .interval
    default: return nil
    }
}
