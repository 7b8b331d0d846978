import ClickHouseNative
import Testing

@Suite("ClickHouse type text")
struct TypeParserTests {
    /// Type texts exactly as `system.columns.type` printed them on 18.16.1 and 26.9.2.1.
    static let canonical = [
        "UInt8", "Int8", "Int16", "Int32", "Int64", "UInt16", "UInt32", "UInt64", "Float32", "Float64",
        "Int128", "Int256", "UInt128", "UInt256",
        "Decimal(9, 2)", "Decimal(20, 3)", "Decimal(18, 4)", "Decimal(38, 5)", "Decimal(76, 10)",
        "String", "FixedString(3)", "Date", "Date32", "DateTime", "DateTime('UTC')", "DateTime('Europe/Berlin')",
        "DateTime64(3)", "DateTime64(6, 'Asia/Tokyo')", "UUID", "Bool", "IPv4", "IPv6",
        "Enum8('c' = -2, 'a\\'b' = 1)", "Enum16('x' = 1000)",
        "Array(Int32)", "Array(String)", "Array(Nullable(Int8))", "Array(LowCardinality(String))",
        "Tuple(Int32, String)", "Tuple(a Int32, `b c` String)", "LowCardinality(Nullable(String))",
        "Map(String, Array(Nullable(Int64)))", "SimpleAggregateFunction(max, UInt64)",
        "Nested(x Int32, y String)", "Array(Array(Tuple(a Map(String, Decimal(9, 2)), b Nullable(FixedString(16)))))",
    ]

    @Test(arguments: canonical)
    func printsBackTheServersText(_ text: String) throws {
        #expect(try ClickHouseType(parsing: text).description == text)
    }

    @Test func shorthandsBecomeCanonical() throws {
        let cases: [(String, String)] = [
            ("Decimal32(2)", "Decimal(9, 2)"),
            ("Decimal64(4)", "Decimal(18, 4)"),
            ("Decimal128(5)", "Decimal(38, 5)"),
            ("Decimal256(0)", "Decimal(76, 0)"),
            ("Decimal(10)", "Decimal(10, 0)"),
            ("Enum8('a', 'b')", "Enum8('a' = 1, 'b' = 2)"),
            ("Enum8('b' = 2, 'a' = 1)", "Enum8('a' = 1, 'b' = 2)"),
            ("  Array( Nullable ( Int32 ) ) ", "Array(Nullable(Int32))"),
            ("Map(String,Int32)", "Map(String, Int32)"),
            ("Tuple(`a` Int32)", "Tuple(a Int32)"),
        ]
        for (input, expected) in cases {
            #expect(try ClickHouseType(parsing: input).description == expected, "\(input)")
        }
    }

    @Test func structure() throws {
        let type = try ClickHouseType(parsing: "Array(LowCardinality(Nullable(String)))")
        #expect(type == .array(.lowCardinality(.nullable(.string))))
        #expect(try ClickHouseType(parsing: "DateTime64(3, 'UTC')") == .dateTime64(precision: 3, timezone: "UTC"))
        #expect(try ClickHouseType(parsing: "Enum8('a\\'b' = 1)") == .enum8([.init(name: "a'b", value: 1)]))
        #expect(try ClickHouseType(parsing: "Tuple(a Int32, b String)") == .tuple([.init(name: "a", type: .int32), .init(name: "b", type: .string)]))
        #expect(try ClickHouseType(parsing: "LowCardinality(Nullable(String))").isNullable)
        #expect(try ClickHouseType(parsing: "LowCardinality(Nullable(String))").valueType == .string)
        #expect(try ClickHouseType(parsing: "Map(String, Array(IPv6))").families == ["Map", "String", "Array", "IPv6"])
        #expect(ClickHouseType.decimal(precision: 19, scale: 2).fixedWidth == 16)
        #expect(ClickHouseType.decimal(precision: 39, scale: 2).fixedWidth == 32)
        #expect(ClickHouseType.fixedString(7).fixedWidth == 7)
        #expect(ClickHouseType.string.fixedWidth == nil)
    }

    @Test(arguments: [
        ("", 0, "expected a type name"),
        ("Int33", 0, "unsupported type Int33"),
        ("AggregateFunction(sum, UInt64)", 0, "unsupported type AggregateFunction"),
        ("Array(Int32", 11, "expected ')' but found the end"),
        ("Array(Int32))", 12, "unexpected text after the type"),
        ("Decimal(77, 2)", 0, "Decimal precision 77 is out of range 1...76"),
        ("Decimal(9, 10)", 0, "Decimal scale 10 is out of range 0...9"),
        ("DateTime64(10)", 0, "DateTime64 precision 10 is out of range 0...9"),
        ("FixedString(0)", 0, "FixedString length 0 is out of range"),
        ("Enum8('a' = 200)", 0, "Enum8 value 200 is out of range"),
        ("Enum8('a' = 1, 'a' = 2)", 0, "Enum8 repeats the name 'a' or the value 2"),
        ("DateTime('UTC", 9, "unterminated quoted string"),
        ("Nested(Int32)", 7, "Nested needs a name for every element"),
        ("Tuple(a Int32, String)", 22, "a tuple names either all or none of its elements"),
        ("FixedString(99999999999999999999)", 12, "a length is too large"),
    ] as [(String, Int, String)])
    func rejectsBadText(_ text: String, _ offset: Int, _ reason: String) {
        #expect(throws: ClickHouseTypeParseError(text: text, offset: offset, reason: reason)) {
            try ClickHouseType(parsing: text)
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() throws {
        let text = String(repeating: "Array(", count: 5000) + "Int8" + String(repeating: ")", count: 5000)
        #expect(throws: ClickHouseTypeParseError.self) { try ClickHouseType(parsing: text) }
        let ok = String(repeating: "Array(", count: 60) + "Int8" + String(repeating: ")", count: 60)
        #expect(try ClickHouseType(parsing: ok).description == ok)
    }
}

@Suite("Type text from random pieces")
struct TypeParserRandomTests {
    /// A small deterministic generator, so that a failure can be replayed.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func neverCrashesAndWhatParsesPrintsBackTheSameType() throws {
        let pieces = [
            "Array(", "Nullable(", "LowCardinality(", "Tuple(", "Map(", "Enum8(", "Decimal(", "DateTime64(", "FixedString(",
            ")", ",", " ", "'", "`", "\\", "=", "-", "1", "3", "Int8", "String", "UInt64", "a ", "b ", "'x' = 1", "DateTime",
        ]
        var random = SplitMix(state: 42)
        var parsed = 0
        for _ in 0..<5000 {
            var text = ""
            for _ in 0..<Int(random.next() % 12) { text += pieces[Int(random.next() % UInt64(pieces.count))] }
            do {
                let type = try ClickHouseType(parsing: text)
                parsed += 1
                #expect(try ClickHouseType(parsing: type.description) == type, "\(text)")
            } catch {
                #expect(!error.reason.isEmpty)
                #expect(error.offset >= 0 && error.offset <= text.utf8.count, "\(text)")
            }
        }
        #expect(parsed > 50)
    }
}
