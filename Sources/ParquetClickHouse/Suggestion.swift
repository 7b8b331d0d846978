public import ClickHouseNative
public import Parquet

extension ClickHouseType {
    /// The ClickHouse column type that holds a Parquet field without loss (for creating a table for a file), or
    /// `nil` when no ClickHouse type can. `modern` allows types that ClickHouse 18.16 lacks (Bool, Date32,
    /// DateTime64, Map, named tuples); without it those fields have no suggestion either.
    public static func suggested(for node: ParquetSchemaNode, modern: Bool = true) -> ClickHouseType? {
        if node.repetition == .repeated {
            guard let element = suggestedPresent(node, modern: modern), element.canBeArrayElement else { return nil }
            return .array(element)
        }
        guard let value = suggestedPresent(node, modern: modern) else { return nil }
        if node.repetition == .optional, node.isLeaf { return .nullable(value) }
        return value
    }

    private static func suggestedPresent(_ node: ParquetSchemaNode, modern: Bool) -> ClickHouseType? {
        if node.isLeaf { return suggestedScalar(node, modern: modern) }
        if node.logicalType == .list, node.children.count == 1, node.children[0].repetition == .repeated {
            let repeated = node.children[0]
            let item = Compiler.listElement(list: node, repeated: repeated)
            let element = item.map { suggested(for: $0, modern: modern) } ?? suggestedPresent(repeated, modern: modern)
            guard let element, element.canBeArrayElement else { return nil }
            return .array(element)
        }
        if node.logicalType == .map, node.children.count == 1, node.children[0].repetition == .repeated, !node.children[0].isLeaf {
            let entries = node.children[0]
            guard modern, entries.children.count == 2, let key = suggestedPresent(entries.children[0], modern: modern),
                let value = suggested(for: entries.children[1], modern: modern)
            else { return nil }
            return .map(key: key, value: value)
        }
        guard !node.children.isEmpty else { return nil }
        var elements: [TupleElement] = []
        for child in node.children {
            guard let type = suggested(for: child, modern: modern) else { return nil }
            elements.append(TupleElement(name: modern ? child.name : nil, type: type))
        }
        return .tuple(elements)
    }

    private static func suggestedScalar(_ node: ParquetSchemaNode, modern: Bool) -> ClickHouseType? {
        guard let physical = node.physicalType else { return nil }
        switch (physical, node.logicalType) {
        case (_, .time?), (_, .interval?), (_, .null?), (_, .variant?), (_, .unknown?):
            return nil
        case (.int32, .date?):
            return modern ? .date32 : nil
        case (.int64, .timestamp(let unit, _)?):
            return modern ? .dateTime64(precision: unit.fractionDigits, timezone: "UTC") : nil
        case (.int96, _):
            return modern ? .dateTime64(precision: 9, timezone: "UTC") : nil
        case (_, .decimal(let p, let s)?):
            guard p <= (modern ? 76 : 38) else { return nil }
            return .decimal(precision: p, scale: s)
        case (.int32, .integer(let bits, let signed)?), (.int64, .integer(let bits, let signed)?):
            switch (bits, signed) {
            case (8, true): return .int8
            case (16, true): return .int16
            case (32, true): return .int32
            case (64, true): return .int64
            case (8, false): return .uint8
            case (16, false): return .uint16
            case (32, false): return .uint32
            case (64, false): return .uint64
            default: return nil
            }
        case (.boolean, _): return modern ? .bool : .uint8
        case (.int32, _): return .int32
        case (.int64, _): return .int64
        case (.float, _): return .float32
        case (.double, _): return .float64
        case (.fixedLenByteArray, .float16?): return .float32
        case (.fixedLenByteArray, .uuid?): return .uuid
        case (.fixedLenByteArray, _): return (node.typeLength ?? 0) > 0 ? .fixedString(node.typeLength ?? 1) : nil
        case (.byteArray, _): return .string
        }
    }

    /// Whether ClickHouse allows the type inside an Array (anything but Nullable(Array/Map/Tuple)).
    var canBeArrayElement: Bool {
        if case .nullable(let inner) = self {
            switch inner {
            case .array, .map, .tuple: return false
            default: return true
            }
        }
        return true
    }
}
