/// A ClickHouse data type, as declared for a table column.
///
/// Parse the text that `system.columns.type` holds with ``init(parsing:)``; ``description`` prints the
/// canonical text that both ClickHouse 18.16 and 26.9 print for the same type (for example
/// `Decimal32(2)` prints as `Decimal(9, 2)`, and enum members are listed in value order).
public indirect enum ClickHouseType: Hashable, Sendable {
    case int8, int16, int32, int64, int128, int256
    case uint8, uint16, uint32, uint64, uint128, uint256
    case float32, float64
    /// `Decimal(P, S)`, also written `Decimal32(S)` (P = 9), `Decimal64(S)` (18), `Decimal128(S)` (38) and `Decimal256(S)` (76).
    case decimal(precision: Int, scale: Int)
    case string
    /// `FixedString(N)`: exactly `N` bytes per value, zero-padded.
    case fixedString(Int)
    /// Days since 1970-01-01 as UInt16.
    case date
    /// Days since 1970-01-01 as Int32.
    case date32
    /// Seconds since the epoch as UInt32; the time zone only affects text conversions.
    case dateTime(timezone: String?)
    /// Ticks of 10^-precision seconds since the epoch as Int64.
    case dateTime64(precision: Int, timezone: String?)
    case uuid
    case bool
    /// `Enum8('name' = value, ...)`; the members are kept in value order.
    case enum8([EnumMember])
    /// `Enum16('name' = value, ...)`; the members are kept in value order.
    case enum16([EnumMember])
    case ipv4, ipv6
    case lowCardinality(ClickHouseType)
    case nullable(ClickHouseType)
    case array(ClickHouseType)
    /// `Tuple(T1, T2)` or `Tuple(a T1, b T2)`.
    case tuple([TupleElement])
    case map(key: ClickHouseType, value: ClickHouseType)
    /// `Nested(a T1, b T2)` as a single column (tables created with `flatten_nested = 0`); stored as `Array(Tuple(...))`.
    case nested([TupleElement])
    /// `SimpleAggregateFunction(f, T)`: values are plain `T` values.
    case simpleAggregateFunction(function: String, ClickHouseType)

    /// One member of an `Enum8`/`Enum16`.
    public struct EnumMember: Hashable, Sendable {
        /// The member's name.
        public var name: String
        /// The stored code.
        public var value: Int
        /// Creates a member.
        public init(name: String, value: Int) {
            self.name = name
            self.value = value
        }
    }

    /// One element of a `Tuple` or `Nested` type.
    public struct TupleElement: Hashable, Sendable {
        /// The element's name, or `nil` for an unnamed tuple element.
        public var name: String?
        /// The element's type.
        public var type: ClickHouseType
        /// Creates an element.
        public init(name: String? = nil, type: ClickHouseType) {
            self.name = name
            self.type = type
        }
    }
}

// MARK: - Properties used by encoders

extension ClickHouseType {
    /// The number of bytes of one value in the Native format for types stored as fixed-width values, else `nil`.
    public var fixedWidth: Int? {
        switch self {
        case .int8, .uint8, .bool, .enum8: return 1
        case .int16, .uint16, .date, .enum16: return 2
        case .int32, .uint32, .float32, .date32, .dateTime, .ipv4: return 4
        case .int64, .uint64, .float64, .dateTime64: return 8
        case .int128, .uint128, .uuid, .ipv6: return 16
        case .int256, .uint256: return 32
        case .decimal(let precision, _): return Self.decimalWidth(precision: precision)
        case .fixedString(let n): return n
        case .simpleAggregateFunction(_, let inner): return inner.fixedWidth
        default: return nil
        }
    }

    /// The storage width in bytes of a decimal of the given precision (4, 8, 16 or 32).
    public static func decimalWidth(precision: Int) -> Int {
        if precision <= 9 { return 4 }
        if precision <= 18 { return 8 }
        if precision <= 38 { return 16 }
        return 32
    }

    /// Whether a `NULL` can be stored (`Nullable(T)` or `LowCardinality(Nullable(T))`).
    public var isNullable: Bool {
        switch self {
        case .nullable: return true
        case .lowCardinality(let inner): return inner.isNullable
        case .simpleAggregateFunction(_, let inner): return inner.isNullable
        default: return false
        }
    }

    /// The type with one `Nullable` or `LowCardinality` wrapper and `SimpleAggregateFunction` removed, recursively,
    /// down to the value type (for example `LowCardinality(Nullable(String))` -> `String`).
    public var valueType: ClickHouseType {
        switch self {
        case .nullable(let inner), .lowCardinality(let inner), .simpleAggregateFunction(_, let inner):
            return inner.valueType
        default:
            return self
        }
    }

    /// Every type name that appears in this type (for example `["Array", "Nullable", "Int32"]`), used to check
    /// what a server version supports.
    public var families: Set<String> {
        var result: Set<String> = []
        collectFamilies(into: &result)
        return result
    }

    private func collectFamilies(into result: inout Set<String>) {
        result.insert(familyName)
        switch self {
        case .lowCardinality(let inner), .nullable(let inner), .array(let inner), .simpleAggregateFunction(_, let inner):
            inner.collectFamilies(into: &result)
        case .tuple(let elements), .nested(let elements):
            for element in elements { element.type.collectFamilies(into: &result) }
        case .map(let key, let value):
            key.collectFamilies(into: &result)
            value.collectFamilies(into: &result)
        default:
            break
        }
    }

    /// The name of the type family (`"Decimal"`, `"DateTime64"`, `"Array"`, ...).
    public var familyName: String {
        switch self {
        case .int8: return "Int8"
        case .int16: return "Int16"
        case .int32: return "Int32"
        case .int64: return "Int64"
        case .int128: return "Int128"
        case .int256: return "Int256"
        case .uint8: return "UInt8"
        case .uint16: return "UInt16"
        case .uint32: return "UInt32"
        case .uint64: return "UInt64"
        case .uint128: return "UInt128"
        case .uint256: return "UInt256"
        case .float32: return "Float32"
        case .float64: return "Float64"
        case .decimal: return "Decimal"
        case .string: return "String"
        case .fixedString: return "FixedString"
        case .date: return "Date"
        case .date32: return "Date32"
        case .dateTime: return "DateTime"
        case .dateTime64: return "DateTime64"
        case .uuid: return "UUID"
        case .bool: return "Bool"
        case .enum8: return "Enum8"
        case .enum16: return "Enum16"
        case .ipv4: return "IPv4"
        case .ipv6: return "IPv6"
        case .lowCardinality: return "LowCardinality"
        case .nullable: return "Nullable"
        case .array: return "Array"
        case .tuple: return "Tuple"
        case .map: return "Map"
        case .nested: return "Nested"
        case .simpleAggregateFunction: return "SimpleAggregateFunction"
        }
    }
}

// MARK: - Canonical text

extension ClickHouseType: CustomStringConvertible {
    /// The canonical type text, as the servers print it in `system.columns`.
    public var description: String {
        switch self {
        case .decimal(let p, let s): return "Decimal(\(p), \(s))"
        case .fixedString(let n): return "FixedString(\(n))"
        case .dateTime(let tz):
            guard let tz else { return "DateTime" }
            return "DateTime(\(Self.quoted(tz)))"
        case .dateTime64(let p, let tz):
            guard let tz else { return "DateTime64(\(p))" }
            return "DateTime64(\(p), \(Self.quoted(tz)))"
        case .enum8(let members): return "Enum8(\(Self.enumBody(members)))"
        case .enum16(let members): return "Enum16(\(Self.enumBody(members)))"
        case .lowCardinality(let inner): return "LowCardinality(\(inner))"
        case .nullable(let inner): return "Nullable(\(inner))"
        case .array(let inner): return "Array(\(inner))"
        case .tuple(let elements): return "Tuple(\(Self.elementsBody(elements)))"
        case .nested(let elements): return "Nested(\(Self.elementsBody(elements)))"
        case .map(let key, let value): return "Map(\(key), \(value))"
        case .simpleAggregateFunction(let function, let inner): return "SimpleAggregateFunction(\(function), \(inner))"
        default: return familyName
        }
    }

    private static func enumBody(_ members: [EnumMember]) -> String {
        members.map { "\(quoted($0.name)) = \($0.value)" }.joined(separator: ", ")
    }

    private static func elementsBody(_ elements: [TupleElement]) -> String {
        elements.map { element in
            guard let name = element.name else { return element.type.description }
            return "\(identifier(name)) \(element.type)"
        }.joined(separator: ", ")
    }

    /// A single-quoted string literal with `\` and `'` escaped, as ClickHouse prints them.
    static func quoted(_ text: String) -> String {
        var out = "'"
        for ch in text.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "'"
    }

    /// A bare identifier when it is one, else a back-quoted one.
    static func identifier(_ name: String) -> String {
        var bare = !name.isEmpty
        for (i, ch) in name.utf8.enumerated() {
            let letter = (ch >= 0x41 && ch <= 0x5A) || (ch >= 0x61 && ch <= 0x7A) || ch == 0x5F
            let digit = ch >= 0x30 && ch <= 0x39
            if !(letter || (digit && i > 0)) { bare = false; break }
        }
        if bare { return name }
        var out = "`"
        for ch in name.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "`": out += "\\`"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "`"
    }
}
