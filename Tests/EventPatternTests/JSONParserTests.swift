import EventPattern
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    private func parse(_ text: String, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        try JSONValue.parse(Array(text.utf8), maxDepth: maxDepth)
    }

    private func failure(_ bytes: [UInt8], maxDepth: Int = JSONValue.defaultMaxDepth) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(bytes, maxDepth: maxDepth)
            return nil
        } catch {
            return error
        }
    }

    private func failure(_ text: String) -> JSONParseError? {
        failure(Array(text.utf8))
    }

    // MARK: Values

    @Test("scalars, containers and whitespace")
    func basicValues() throws {
        #expect(try parse("null") == .null)
        #expect(try parse(" \t\r\ntrue\n") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse("\"hi\"") == .string("hi"))
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object([]))
        #expect(try parse("[1, \"a\", [true, null], {\"k\": {}}]") == [1, "a", [true, nil], ["k": [:]]])
        let value = try parse(#"{"b": 1, "a": [2, 3], "c": {"d": null}}"#)
        #expect(value.objectValue?.map(\.key) == ["b", "a", "c"], "members keep their written order")
        #expect(value["a"]?[1] == 3)
        #expect(value["c"]?["d"]?.isNull == true)
    }

    @Test("duplicate keys keep the first position and the last value")
    func duplicateKeys() throws {
        let value = try parse(#"{"a": 1, "b": 2, "a": 3}"#)
        #expect(value.objectValue?.map(\.key) == ["a", "b"])
        #expect(value["a"] == 3)

        // Large objects take the dictionary path.
        var text = "{"
        for index in 0..<40 { text += "\"k\(index)\": \(index), " }
        text += "\"k7\": \"last\", \"k39\": true}"
        let large = try parse(text)
        #expect(large.objectValue?.count == 40)
        #expect(large["k7"] == "last")
        #expect(large["k39"] == true)
        #expect(large.objectValue?[7].key == "k7")
    }

    @Test("keys that differ only in Unicode normalisation stay distinct")
    func normalisationDistinctKeys() throws {
        // "é" precomposed and "e" + combining acute: canonically equivalent, different bytes.
        let value = try parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}")
        #expect(value.objectValue?.count == 2)
        #expect(value["\u{E9}"] == 1)
        #expect(value["e\u{301}"] == 2)
    }

    // MARK: Depth

    @Test("100k nested brackets fail fast at the depth cap instead of overflowing the stack")
    func depthCap() {
        let deepArrays = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        let error = failure(deepArrays)
        #expect(error?.offset == 64)
        #expect(error?.message.contains("maximum depth of 64") == true)

        var deepObjects: [UInt8] = []
        for _ in 0..<100_000 { deepObjects.append(contentsOf: Array(#"{"a":"#.utf8)) }
        #expect(failure(deepObjects)?.offset == 64 * 5)

        // A caller's cap above the supported ceiling is lowered to it.
        let nested = String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)
        let capped = failure(Array(nested.utf8), maxDepth: 50_000)
        #expect(capped?.offset == JSONValue.maxSupportedDepth)
        #expect(capped?.message.contains("maximum depth of 512") == true)
        let deepest = String(repeating: "[", count: 512) + "0" + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try parse(deepest, maxDepth: 50_000) }
    }

    @Test("exactly maxDepth levels are accepted")
    func depthBoundary() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try parse(ok) }
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(failure(tooDeep)?.offset == 64)
        #expect(try parse("[[1]]", maxDepth: 2) == [[1]])
        #expect(failure(Array("[[1]]".utf8), maxDepth: 1)?.offset == 1)
        #expect(try parse("7", maxDepth: 0) == 7)
    }

    // MARK: Numbers

    @Test("numbers keep their text and get a Double")
    func numbers() throws {
        let huge = try #require(try parse("1e400").numberValue)
        #expect(huge.text == "1e400")
        #expect(huge.doubleValue == .infinity)
        let negativeHuge = try #require(try parse("-1E+400").numberValue)
        #expect(negativeHuge.doubleValue == -.infinity)

        let negativeZero = try #require(try parse("-0").numberValue)
        #expect(negativeZero.text == "-0")
        #expect(negativeZero.doubleValue == 0 && negativeZero.doubleValue.sign == .minus)
        #expect(try parse("-0.0e5").doubleValue?.sign == .minus)

        let big = try #require(try parse("12345678901234567890123").numberValue)
        #expect(big.text == "12345678901234567890123")
        #expect(big.int64Value == nil)
        #expect(big.doubleValue == 1.2345678901234568e22)

        #expect(try parse("9223372036854775807").integerValue == Int64.max)
        #expect(try parse("-9223372036854775808").integerValue == Int64.min)
        #expect(try parse("9223372036854775808").integerValue == nil)
        #expect(try parse("5242880").integerValue == 5_242_880)
        #expect(try parse("5242880.0").integerValue == 5_242_880)
        #expect(try parse("5.24288e6").integerValue == 5_242_880)
        #expect(try parse("1.5").integerValue == nil)
        #expect(try parse("1E-320").doubleValue == Double("1E-320"))
        #expect(try parse("301.8").doubleValue == 301.8)
        #expect(try parse("0.000001").doubleValue == 0.000001)
        #expect(try parse("-3e2").doubleValue == -300)
        #expect(try parse("-3e2") != JSONValue.double(-300), "numbers compare by their text")
        #expect(try parse("-300") == .integer(-300))
    }

    @Test("the fast decimal conversion agrees with the C library on many values")
    func numberConversionAgreement() throws {
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<20_000 {
            let digits = Int(generator.next() % 17) + 1
            var mantissa = ""
            for position in 0..<digits {
                let digit = generator.next() % 10
                mantissa += position == 0 && digit == 0 && digits > 1 ? "1" : String(digit)
            }
            let point = Int(generator.next() % UInt64(digits + 1))
            var text = mantissa
            if point > 0, point < digits {
                text.insert(".", at: text.index(text.startIndex, offsetBy: point))
            }
            if generator.next() % 2 == 0 {
                text += "e\(Int(generator.next() % 60) - 30)"
            }
            if generator.next() % 3 == 0 { text = "-" + text }
            let parsed = try #require(try parse(text).numberValue)
            let reference = try #require(Double(text))
            #expect(parsed.doubleValue == reference, "\(text)")
            #expect(parsed.text == text)
        }
    }

    @Test("invalid numbers are refused at the offending byte", arguments: [
        ("01", 0, "leading zeros"),
        ("-", 1, "expected a digit"),
        ("-a", 1, "expected a digit"),
        ("1.", 2, "after the decimal point"),
        ("1.e5", 2, "after the decimal point"),
        (".5", 0, "expected a value"),
        ("1e", 2, "exponent"),
        ("1e+", 3, "exponent"),
        ("+1", 0, "expected a value"),
        ("NaN", 0, "expected a value"),
        ("Infinity", 0, "expected a value"),
        ("-Infinity", 1, "expected a digit"),
        ("0x10", 1, "after the JSON value"),
        ("[1,02]", 3, "leading zeros"),
    ])
    func invalidNumbers(_ text: String, _ offset: Int, _ phrase: String) throws {
        let error = try #require(failure(text), "\(text) must be refused")
        #expect(error.offset == offset, "\(text): \(error)")
        #expect(error.message.contains(phrase), "\(text): \(error)")
    }

    // MARK: Strings

    @Test("escapes decode, including surrogate pairs")
    func escapes() throws {
        #expect(try parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{8} \u{C} \n \r \t"))
        #expect(try parse(#""caf\u00e9 \u00E9""#) == .string("café é"))
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse(#""a\u0000b""#).stringValue?.utf8.count == 3)
        #expect(try parse(#""prefix \u65e5\u672c suffix""#) == .string("prefix 日本 suffix"))
        #expect(try parse("\"raw 日本 😀 é\"") == .string("raw 日本 😀 é"))
    }

    @Test("invalid escapes and unpaired surrogates are refused", arguments: [
        (#""\x""#, 1, "invalid escape sequence"),
        (#""\u12""#, 1, "four hexadecimal digits"),
        (#""\u12G4""#, 5, "four hexadecimal digits"),
        (#""\ud83d""#, 1, "not followed by a low surrogate"),
        (#""\ud83d x""#, 1, "not followed by a low surrogate"),
        (#""\ud83d\u0041""#, 7, "not a low surrogate"),
        (#""\ude00""#, 1, "without a preceding high surrogate"),
        (#""abc\"#, 5, "end of input inside an escape"),
    ])
    func invalidEscapes(_ text: String, _ offset: Int, _ phrase: String) throws {
        let error = try #require(failure(text), "\(text) must be refused")
        #expect(error.offset == offset, "\(text): \(error)")
        #expect(error.message.contains(phrase), "\(text): \(error)")
    }

    @Test("raw control characters inside strings are refused")
    func controlCharacters() throws {
        for byte: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x1F] {
            let error = try #require(failure([UInt8(ascii: "\""), UInt8(ascii: "a"), byte, UInt8(ascii: "\"")]))
            #expect(error.offset == 2)
            #expect(error.message.contains("control character"))
        }
        // DEL is not a control character for JSON.
        #expect(try JSONValue.parse([0x22, 0x7F, 0x22]) == .string("\u{7F}"))
    }

    @Test("invalid UTF-8 is refused at the offending byte", arguments: [
        ([0x22, 0xC0, 0x80, 0x22], 1),  // overlong NUL
        ([0x22, 0xC1, 0xBF, 0x22], 1),  // overlong
        ([0x22, 0xE0, 0x80, 0xAF, 0x22], 2),  // overlong three-byte form
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 2),  // UTF-16 surrogate
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 2),  // above U+10FFFF
        ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1),
        ([0x22, 0x80, 0x22], 1),  // lone continuation byte
        ([0x22, 0x61, 0xE2, 0x82, 0x22], 4),  // truncated sequence, then the quote
        ([0x22, 0xE2, 0x82], 1),  // input ends inside the character
        ([0x22, 0x5C, 0x6E, 0xFF, 0x22], 3),  // after an escape
        ([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D], 3),  // in a key
    ] as [([UInt8], Int)])
    func invalidUTF8(_ bytes: [UInt8], _ offset: Int) throws {
        let error = try #require(failure(bytes), "\(bytes) must be refused")
        #expect(error.offset == offset, "\(error)")
        #expect(error.message.contains("UTF-8"), "\(error)")
    }

    @Test("valid multi-byte UTF-8 of every length is accepted")
    func validUTF8() throws {
        let text = "\"\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\u{E000}\u{D7FF}\""
        #expect(try parse(text) == .string("\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}\u{E000}\u{D7FF}"))
    }

    // MARK: Structure errors

    @Test("structural errors name the offset and the expectation", arguments: [
        ("", 0, "empty"),
        ("   ", 3, "empty"),
        ("{} x", 3, "after the JSON value"),
        ("[1]]", 3, "after the JSON value"),
        ("1 2", 2, "after the JSON value"),
        ("[1,]", 3, "expected a value"),
        (#"{"a":1,}"#, 7, "expected a string key"),
        (#"{"a" 1}"#, 5, "expected ':'"),
        (#"{'a': 1}"#, 1, "expected a string key"),
        (#"{"a": 1 "b": 2}"#, 8, "expected ',' or '}'"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("[1, // c\n 2]", 4, "expected a value"),
        ("tru", 0, "expected a value"),
        ("nul", 0, "expected a value"),
        ("[true false]", 6, "expected ',' or ']'"),
        (#""abc"#, 4, "unterminated string that starts at byte offset 0"),
        ("[1, [2, 3]", 10, "inside the array opened at byte offset 0"),
        (#"{"a": {"b": 1}"#, 14, "inside the object opened at byte offset 0"),
        (#"{"a""#, 4, "expected ':'"),
        ("\u{FEFF}{}", 0, "byte-order mark"),
    ])
    func structuralErrors(_ text: String, _ offset: Int, _ phrase: String) throws {
        let error = try #require(failure(text), "\(text.debugDescription) must be refused")
        #expect(error.offset == offset, "\(text.debugDescription): \(error)")
        #expect(error.message.contains(phrase), "\(text.debugDescription): \(error)")
    }

    @Test("the error description is printable as is")
    func errorDescription() throws {
        let error = try #require(failure(#"{"a" 1}"#))
        #expect(error.description == "invalid JSON at byte offset 5: expected ':' after an object key, found '1'")
        #expect(error.code == "E001")
        let control = try #require(failure([0x22, 0x0A, 0x22]))
        #expect(control.description == "invalid JSON at byte offset 1: control character byte 0x0A must be escaped inside a string")
    }

    // MARK: Inputs

    @Test("every input form parses the same value")
    func inputForms() throws {
        let text = #"{"k": ["v", 1.5, {"n": null}]}"#
        let expected: JSONValue = ["k": ["v", 1.5, ["n": nil]]]
        #expect(try JSONValue.parse(text) == expected)
        #expect(try JSONValue.parse(Array(text.utf8)) == expected)
        #expect(try JSONValue.parse(ArraySlice(Array(("xx" + text).utf8))[2...]) == expected)
        // A collection without contiguous storage is copied first.
        #expect(try JSONValue.parse(Array(text.utf8).lazy.map { $0 }) == expected)
        let raw = Array(text.utf8)
        let fromRaw = try raw.withUnsafeBytes { buffer throws(JSONParseError) in try JSONValue.parse(buffer) }
        #expect(fromRaw == expected)
    }
}

/// A small deterministic generator so that property-style tests are reproducible.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
