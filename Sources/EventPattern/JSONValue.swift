/// A JSON value as RFC 8259 defines it, keeping what a byte-faithful service needs:
/// object members in their written order, and numbers with their original text.
///
/// Values come from `JSONValue.parse(_:maxDepth:)` (strict, depth-capped) or are built in code
/// with the cases, the literal conformances or ``integer(_:)``.
///
/// Equality is structural and as written: object members compare in order, keys and strings compare
/// by their UTF-8 bytes (no Unicode normalisation), and numbers compare by their text, so `1` and
/// `1.0` are different values (use ``JSONNumber/doubleValue`` to compare them numerically).
///
/// Duplicate keys: the parser keeps one member per key, at the position of the key's first
/// occurrence, holding the value of its last occurrence (what JavaScript's `JSON.parse` does).
/// Objects built in code are not deduplicated; `value["key"]` then answers the last member
/// with the key, consistently with the parser.
public enum JSONValue: Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, with its original text.
    case number(JSONNumber)
    /// A string (always valid Unicode).
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object: its members in order.
    case object([(key: String, value: JSONValue)])
}

// MARK: - Building values

extension JSONValue {
    /// An integer number.
    public static func integer(_ value: Int64) -> JSONValue {
        .number(JSONNumber(value))
    }

    /// An integer number.
    public static func integer(_ value: Int) -> JSONValue {
        .number(JSONNumber(Int64(value)))
    }

    /// A number for a finite `Double` (its shortest round-tripping text), `nil` for NaN and infinities,
    /// which JSON cannot represent.
    public static func double(_ value: Double) -> JSONValue? {
        JSONNumber(value).map { .number($0) }
    }
}

extension JSONValue: ExpressibleByNilLiteral {
    /// `nil` is JSON `null`.
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    /// `true` / `false`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    /// An integer number.
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
}

extension JSONValue: ExpressibleByFloatLiteral {
    /// A number written as the literal's shortest round-tripping text; a literal that overflows
    /// `Double` traps, as an overflowing integer literal would.
    public init(floatLiteral value: Double) {
        guard let number = JSONNumber(value) else {
            preconditionFailure("JSON cannot represent \(value)")
        }
        self = .number(number)
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// A string.
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    /// An array.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// An object whose members keep the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
}

// MARK: - Reading values

extension JSONValue {
    /// The member named `key` (compared byte for byte) when this is an object, else `nil`.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        var index = members.endIndex
        while index > members.startIndex {
            index -= 1
            if utf8Equal(members[index].key, key) { return members[index].value }
        }
        return nil
    }

    /// The element at `index` when this is an array and the index is in bounds, else `nil`.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The Boolean, when this is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number, when this is a number.
    public var numberValue: JSONNumber? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The number as a `Double` (possibly rounded or infinite, see ``JSONNumber/doubleValue``).
    public var doubleValue: Double? {
        numberValue?.doubleValue
    }

    /// The number as an `Int64` when it is an integer that fits exactly (see ``JSONNumber/int64Value``).
    public var integerValue: Int64? {
        numberValue?.int64Value
    }

    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members in order, when this is an object.
    public var objectValue: [(key: String, value: JSONValue)]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The string, when this is a string (same as ``stringValue``).
    public var string: String? { stringValue }

    /// The number, when this is a number (same as ``numberValue``).
    public var number: JSONNumber? { numberValue }

    /// The elements, when this is an array (same as ``arrayValue``).
    public var array: [JSONValue]? { arrayValue }

    /// The members, when this is an object (same as ``objectValue``).
    public var object: [(key: String, value: JSONValue)]? { objectValue }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The JSON type's name for messages: `null`, `boolean`, `number`, `string`, `array` or `object`.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

// MARK: - Equality

extension JSONValue: Equatable {
    /// Structural equality as written (see the type's documentation).
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case (.bool(let a), .bool(let b)):
            return a == b
        case (.number(let a), .number(let b)):
            return a == b
        case (.string(let a), .string(let b)):
            return utf8Equal(a, b)
        case (.array(let a), .array(let b)):
            return a == b
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where !utf8Equal(x.key, y.key) || x.value != y.value {
                return false
            }
            return true
        default:
            return false
        }
    }
}

extension JSONValue: Hashable {
    /// Hashes consistently with ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null:
            hasher.combine(0 as UInt8)
        case .bool(let value):
            hasher.combine(1 as UInt8)
            hasher.combine(value)
        case .number(let value):
            hasher.combine(2 as UInt8)
            hasher.combine(value)
        case .string(let value):
            hasher.combine(3 as UInt8)
            combineUTF8(value, into: &hasher)
        case .array(let elements):
            hasher.combine(4 as UInt8)
            hasher.combine(elements.count)
            for element in elements { element.hash(into: &hasher) }
        case .object(let members):
            hasher.combine(5 as UInt8)
            hasher.combine(members.count)
            for member in members {
                combineUTF8(member.key, into: &hasher)
                member.value.hash(into: &hasher)
            }
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact serialization (see ``serialized()``).
    public var description: String { serialized() }
}

// MARK: - Byte-level string helpers

/// Compares two strings by their UTF-8 bytes. Swift's `==` uses canonical equivalence, which would
/// make `"é"` (one scalar) equal to `"e\u{301}"` (two); JSON and the pattern language compare bytes.
@inline(__always)
func utf8Equal(_ a: String, _ b: String) -> Bool {
    let au = a.utf8
    let bu = b.utf8
    guard au.count == bu.count else { return false }
    if let result = au.withContiguousStorageIfAvailable({ ab in
        bu.withContiguousStorageIfAvailable { bb in ab.elementsEqual(bb) }
    }), let equal = result {
        return equal
    }
    return au.elementsEqual(bu)
}

/// Feeds a string's UTF-8 bytes (and their count, so concatenations differ) into a hasher.
@inline(__always)
func combineUTF8(_ string: String, into hasher: inout Hasher) {
    let view = string.utf8
    hasher.combine(view.count)
    if view.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
        for byte in view { hasher.combine(byte) }
    }
}

/// A string key that hashes and compares by UTF-8 bytes, for dictionaries that must not merge
/// canonically equivalent but differently encoded keys.
struct UTF8Key: Hashable, Sendable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool { utf8Equal(lhs.string, rhs.string) }

    func hash(into hasher: inout Hasher) { combineUTF8(string, into: &hasher) }
}
