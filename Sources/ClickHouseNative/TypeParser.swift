/// A type text that is not a ClickHouse type this library understands.
public struct ClickHouseTypeParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text that was parsed.
    public var text: String
    /// The UTF-8 offset in `text` where parsing stopped.
    public var offset: Int
    /// What is wrong there.
    public var reason: String

    /// Creates an error.
    public init(text: String, offset: Int, reason: String) {
        self.text = text
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        "cannot parse ClickHouse type \"\(text)\" at offset \(offset): \(reason)"
    }
}

extension ClickHouseType {
    /// The deepest nesting of type arguments accepted, so that hostile text cannot exhaust the stack.
    public static let maximumNestingDepth = 64

    /// Parses a type text such as `Array(Nullable(Decimal(18, 4)))` or `Tuple(a Int32, b String)`.
    ///
    /// Accepts the canonical text of `system.columns` from ClickHouse 18.16 and 26.9 plus the usual
    /// shorthands (`Decimal32(S)`, `Enum8('a', 'b')`). Types that this library cannot encode (for example
    /// `AggregateFunction`, `JSON`, `Variant`) are reported as errors naming the type family.
    public init(parsing text: String) throws(ClickHouseTypeParseError) {
        var parser = TypeTextParser(text: text)
        let type = try parser.parseType(depth: 0)
        try parser.expectEnd()
        self = type
    }
}

/// A recursive-descent parser over the UTF-8 bytes of a type text.
private struct TypeTextParser {
    let text: String
    let bytes: [UInt8]
    var position = 0

    init(text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    func fail(_ reason: String, at offset: Int? = nil) -> ClickHouseTypeParseError {
        ClickHouseTypeParseError(text: text, offset: offset ?? position, reason: reason)
    }

    // MARK: Lexing

    mutating func skipSpaces() {
        while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x09 || bytes[position] == 0x0A || bytes[position] == 0x0D {
            position += 1
        }
    }

    mutating func peek() -> UInt8? {
        skipSpaces()
        return position < bytes.count ? bytes[position] : nil
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        if peek() == byte {
            position += 1
            return true
        }
        return false
    }

    mutating func expect(_ byte: UInt8) throws(ClickHouseTypeParseError) {
        guard consume(byte) else {
            let found = position < bytes.count ? "'\(Character(Unicode.Scalar(bytes[position])))'" : "the end"
            throw fail("expected '\(Character(Unicode.Scalar(byte)))' but found \(found)")
        }
    }

    mutating func expectEnd() throws(ClickHouseTypeParseError) {
        if peek() != nil { throw fail("unexpected text after the type") }
    }

    static func isIdentifierStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }

    static func isIdentifierPart(_ b: UInt8) -> Bool {
        isIdentifierStart(b) || (b >= 0x30 && b <= 0x39)
    }

    /// Whether a bare or back-quoted identifier starts here.
    mutating func atIdentifier() -> Bool {
        guard let b = peek() else { return false }
        return Self.isIdentifierStart(b) || b == 0x60
    }

    /// A bare identifier or a back-quoted name.
    mutating func identifier() throws(ClickHouseTypeParseError) -> String {
        guard let b = peek() else { throw fail("expected a name but found the end") }
        if b == 0x60 { return try quoted(0x60) }
        guard Self.isIdentifierStart(b) else { throw fail("expected a name") }
        let start = position
        while position < bytes.count, Self.isIdentifierPart(bytes[position]) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// A literal quoted by `quote` with backslash escapes.
    mutating func quoted(_ quote: UInt8) throws(ClickHouseTypeParseError) -> String {
        let start = position
        guard peek() == quote else { throw fail("expected a quoted string") }
        position += 1
        var out: [UInt8] = []
        while position < bytes.count {
            let b = bytes[position]
            position += 1
            if b == quote { return String(decoding: out, as: UTF8.self) }
            if b == 0x5C {
                guard position < bytes.count else { break }
                let escaped = bytes[position]
                position += 1
                switch escaped {
                case 0x6E: out.append(0x0A)  // \n
                case 0x74: out.append(0x09)  // \t
                case 0x72: out.append(0x0D)  // \r
                case 0x30: out.append(0x00)  // \0
                case 0x62: out.append(0x08)  // \b
                case 0x66: out.append(0x0C)  // \f
                default: out.append(escaped)
                }
            } else {
                out.append(b)
            }
        }
        throw fail("unterminated quoted string", at: start)
    }

    mutating func integer(_ what: String) throws(ClickHouseTypeParseError) -> Int {
        _ = peek()
        let start = position
        var negative = false
        if position < bytes.count, bytes[position] == 0x2D || bytes[position] == 0x2B {
            negative = bytes[position] == 0x2D
            position += 1
        }
        var value = 0
        var digits = 0
        while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(bytes[position] - 0x30))
            if o1 || o2 || digits > 18 { throw fail("\(what) is too large", at: start) }
            value = a
            digits += 1
            position += 1
        }
        if digits == 0 { throw fail("expected \(what)", at: start) }
        return negative ? -value : value
    }

    // MARK: Grammar

    mutating func parseType(depth: Int) throws(ClickHouseTypeParseError) -> ClickHouseType {
        if depth > ClickHouseType.maximumNestingDepth { throw fail("types are nested too deeply") }
        let start = position
        guard atIdentifier(), peek() != 0x60 else { throw fail("expected a type name") }
        let family = try identifier()
        switch family {
        case "Int8": return .int8
        case "Int16": return .int16
        case "Int32": return .int32
        case "Int64": return .int64
        case "Int128": return .int128
        case "Int256": return .int256
        case "UInt8": return .uint8
        case "UInt16": return .uint16
        case "UInt32": return .uint32
        case "UInt64": return .uint64
        case "UInt128": return .uint128
        case "UInt256": return .uint256
        case "Float32": return .float32
        case "Float64": return .float64
        case "String": return .string
        case "Date": return .date
        case "Date32": return .date32
        case "UUID": return .uuid
        case "Bool": return .bool
        case "IPv4": return .ipv4
        case "IPv6": return .ipv6
        case "Decimal":
            try expect(0x28)
            let precision = try integer("a precision")
            let scale = consume(0x2C) ? try integer("a scale") : 0
            try expect(0x29)
            return try decimal(precision, scale, at: start)
        case "Decimal32", "Decimal64", "Decimal128", "Decimal256":
            try expect(0x28)
            let scale = try integer("a scale")
            try expect(0x29)
            let precision = ["Decimal32": 9, "Decimal64": 18, "Decimal128": 38, "Decimal256": 76][family]!
            return try decimal(precision, scale, at: start)
        case "FixedString":
            try expect(0x28)
            let n = try integer("a length")
            try expect(0x29)
            guard n >= 1, n <= 0xFF_FFFF else { throw fail("FixedString length \(n) is out of range", at: start) }
            return .fixedString(n)
        case "DateTime":
            guard consume(0x28) else { return .dateTime(timezone: nil) }
            let timezone = try quoted(0x27)
            try expect(0x29)
            return .dateTime(timezone: timezone)
        case "DateTime64":
            try expect(0x28)
            let precision = try integer("a precision")
            guard (0...9).contains(precision) else { throw fail("DateTime64 precision \(precision) is out of range 0...9", at: start) }
            var timezone: String?
            if consume(0x2C) {
                _ = peek()
                timezone = try quoted(0x27)
            }
            try expect(0x29)
            return .dateTime64(precision: precision, timezone: timezone)
        case "Enum8", "Enum16":
            let members = try enumMembers(bits: family == "Enum8" ? 8 : 16, start: start)
            return family == "Enum8" ? .enum8(members) : .enum16(members)
        case "LowCardinality":
            try expect(0x28)
            let inner = try parseType(depth: depth + 1)
            try expect(0x29)
            return .lowCardinality(inner)
        case "Nullable":
            try expect(0x28)
            let inner = try parseType(depth: depth + 1)
            try expect(0x29)
            return .nullable(inner)
        case "Array":
            try expect(0x28)
            let inner = try parseType(depth: depth + 1)
            try expect(0x29)
            return .array(inner)
        case "Tuple":
            return .tuple(try elements(depth: depth, namesRequired: false))
        case "Nested":
            return .nested(try elements(depth: depth, namesRequired: true))
        case "Map":
            try expect(0x28)
            let key = try parseType(depth: depth + 1)
            try expect(0x2C)
            let value = try parseType(depth: depth + 1)
            try expect(0x29)
            return .map(key: key, value: value)
        case "SimpleAggregateFunction":
            try expect(0x28)
            let function = try functionText()
            try expect(0x2C)
            let inner = try parseType(depth: depth + 1)
            try expect(0x29)
            return .simpleAggregateFunction(function: function, inner)
        default:
            throw fail("unsupported type \(family)", at: start)
        }
    }

    func decimal(_ precision: Int, _ scale: Int, at start: Int) throws(ClickHouseTypeParseError) -> ClickHouseType {
        guard (1...76).contains(precision) else { throw fail("Decimal precision \(precision) is out of range 1...76", at: start) }
        guard (0...precision).contains(scale) else { throw fail("Decimal scale \(scale) is out of range 0...\(precision)", at: start) }
        return .decimal(precision: precision, scale: scale)
    }

    mutating func enumMembers(bits: Int, start: Int) throws(ClickHouseTypeParseError) -> [ClickHouseType.EnumMember] {
        try expect(0x28)
        let range = bits == 8 ? -128...127 : -32768...32767
        var members: [ClickHouseType.EnumMember] = []
        var next = 1
        repeat {
            _ = peek()
            let name = try quoted(0x27)
            var value = next
            if consume(0x3D) { value = try integer("an enum value") }
            guard range.contains(value) else { throw fail("Enum\(bits) value \(value) is out of range", at: start) }
            if members.contains(where: { $0.name == name || $0.value == value }) {
                throw fail("Enum\(bits) repeats the name '\(name)' or the value \(value)", at: start)
            }
            members.append(.init(name: name, value: value))
            next = value + 1
        } while consume(0x2C)
        try expect(0x29)
        members.sort { $0.value < $1.value }
        return members
    }

    mutating func elements(depth: Int, namesRequired: Bool) throws(ClickHouseTypeParseError) -> [ClickHouseType.TupleElement] {
        try expect(0x28)
        var result: [ClickHouseType.TupleElement] = []
        repeat {
            var name: String?
            if atIdentifier() {
                // `name Type` when a second identifier follows the first; otherwise the identifier is the type.
                let save = position
                let candidate = try identifier()
                if atIdentifier(), peek() != 0x60 {
                    name = candidate
                } else {
                    position = save
                }
            }
            if namesRequired, name == nil { throw fail("Nested needs a name for every element") }
            let type = try parseType(depth: depth + 1)
            result.append(.init(name: name, type: type))
        } while consume(0x2C)
        try expect(0x29)
        let names = result.compactMap(\.name)
        if !names.isEmpty, names.count != result.count { throw fail("a tuple names either all or none of its elements") }
        if Set(names).count != names.count { throw fail("a tuple repeats an element name") }
        return result
    }

    /// The aggregate function of a `SimpleAggregateFunction`, with its parameters kept as written.
    mutating func functionText() throws(ClickHouseTypeParseError) -> String {
        var name = try identifier()
        if peek() == 0x28 {
            let start = position
            var level = 0
            while position < bytes.count {
                let b = bytes[position]
                position += 1
                if b == 0x28 { level += 1 }
                if b == 0x29 {
                    level -= 1
                    if level == 0 { break }
                }
            }
            if level != 0 { throw fail("unbalanced parentheses in the aggregate function", at: start) }
            name += String(decoding: bytes[start..<position], as: UTF8.self)
        }
        return name
    }
}
