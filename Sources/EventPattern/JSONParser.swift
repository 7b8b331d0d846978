extension JSONValue {
    /// The default nesting limit: deep enough for any event Sluice accepts, shallow enough that a
    /// hostile body of nested brackets fails after a few bytes.
    public static let defaultMaxDepth = 64

    /// The deepest nesting any parse accepts, whatever `maxDepth` asks for. Releasing, comparing
    /// and hashing a `JSONValue` recurse once per level, so this ceiling keeps them well inside the
    /// smallest thread stacks (512 KiB).
    public static let maxSupportedDepth = 512

    /// Parses exactly one JSON value (RFC 8259, strict) from `bytes`.
    ///
    /// Rejected with a ``JSONParseError`` naming the byte offset: empty input, a byte-order mark,
    /// invalid UTF-8 anywhere in a string, unescaped control characters, invalid escapes and unpaired
    /// surrogates, leading zeros, `NaN`/`Infinity`, trailing commas, comments, anything after the
    /// value, and containers nested deeper than `maxDepth` (checked when the bracket that would
    /// exceed it is read, so a body of a million `[` fails after 65 bytes; the parser itself never
    /// recurses). `maxDepth` is capped at ``maxSupportedDepth``.
    ///
    /// Duplicate object keys keep the first key's position and the last value.
    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth)
        throws(JSONParseError) -> JSONValue
    {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            parseResult(buffer, maxDepth: maxDepth)
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { parseResult($0, maxDepth: maxDepth) }.get()
    }

    /// Parses exactly one JSON value from raw memory (see the `Collection` overload for the rules).
    public static func parse(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth)
        throws(JSONParseError) -> JSONValue
    {
        try parseResult(buffer.assumingMemoryBound(to: UInt8.self), maxDepth: maxDepth).get()
    }

    /// Parses exactly one JSON value from the UTF-8 of `text` (see the `Collection` overload for the rules).
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { parseResult($0, maxDepth: maxDepth) }.get()
    }

    static func parseResult(_ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Result<JSONValue, JSONParseError> {
        var parser = JSONParser(bytes: buffer, maxDepth: min(max(maxDepth, 0), maxSupportedDepth))
        do {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }
}

/// An iterative (non-recursive) JSON parser over a byte buffer.
///
/// Values of open containers wait on one shared stack and are moved into their array or object
/// when the closing bracket arrives, so nesting costs no machine stack and every element is copied
/// once. Strings without escapes become `String`s straight from the input bytes.
struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var index = 0
    /// Values of the open containers' elements / members, innermost last.
    private var values: [JSONValue] = []
    /// Keys of the open objects' members, innermost last.
    private var keys: [String] = []
    private var frames: [Frame] = []
    /// Reused buffer for strings that contain escapes.
    private var scratch: [UInt8] = []

    private struct Frame {
        var isObject: Bool
        var valueStart: Int
        var keyStart: Int
        var openedAt: Int
    }

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            throw JSONParseError(offset: 0, message: "a byte-order mark is not allowed before the JSON value")
        }
        skipWhitespace()
        if index == bytes.count {
            throw JSONParseError(offset: index, message: "the input is empty; expected a JSON value")
        }
        outer: while true {
            guard var value = try parseValueStart() else { continue outer }
            while true {
                guard let frame = frames.last else {
                    skipWhitespace()
                    if index != bytes.count {
                        throw unexpected("after the JSON value; only whitespace may follow it")
                    }
                    return value
                }
                values.append(value)
                skipWhitespace()
                guard index < bytes.count else {
                    throw JSONParseError(
                        offset: index,
                        message: "unexpected end of input inside the \(frame.isObject ? "object" : "array") opened at byte offset \(frame.openedAt)"
                    )
                }
                let byte = bytes[index]
                if frame.isObject {
                    if byte == UInt8(ascii: ",") {
                        index += 1
                        try parseKeyAndColon()
                        continue outer
                    }
                    if byte == UInt8(ascii: "}") {
                        index += 1
                        value = closeObject()
                        continue
                    }
                    throw unexpected("expected ',' or '}' after an object member")
                } else {
                    if byte == UInt8(ascii: ",") {
                        index += 1
                        continue outer
                    }
                    if byte == UInt8(ascii: "]") {
                        index += 1
                        value = closeArray()
                        continue
                    }
                    throw unexpected("expected ',' or ']' after an array element")
                }
            }
        }
    }

    /// Reads a scalar (returned) or opens a container: an empty one is returned at once, a non-empty
    /// one is pushed and `nil` tells the caller to read its first element.
    private mutating func parseValueStart() throws(JSONParseError) -> JSONValue? {
        skipWhitespace()
        guard index < bytes.count else {
            throw JSONParseError(offset: index, message: "unexpected end of input; expected a value")
        }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try push(isObject: true)
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                frames.removeLast()
                return .object([])
            }
            try parseKeyAndColon()
            return nil
        case UInt8(ascii: "["):
            try push(isObject: false)
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                frames.removeLast()
                return .array([])
            }
            return nil
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            throw unexpected("expected a value (object, array, string, number, true, false or null)")
        }
    }

    private mutating func push(isObject: Bool) throws(JSONParseError) {
        guard frames.count < maxDepth else {
            throw JSONParseError(
                offset: index,
                message: "nesting exceeds the maximum depth of \(maxDepth) arrays and objects"
            )
        }
        frames.append(Frame(isObject: isObject, valueStart: values.count, keyStart: keys.count, openedAt: index))
    }

    private mutating func parseKeyAndColon() throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count else {
            throw JSONParseError(offset: index, message: "unexpected end of input; expected an object key")
        }
        guard bytes[index] == UInt8(ascii: "\"") else {
            throw unexpected("expected a string key in double quotes")
        }
        keys.append(try parseString())
        skipWhitespace()
        guard index < bytes.count else {
            throw JSONParseError(offset: index, message: "unexpected end of input; expected ':' after an object key")
        }
        guard bytes[index] == UInt8(ascii: ":") else {
            throw unexpected("expected ':' after an object key")
        }
        index += 1
    }

    private mutating func closeArray() -> JSONValue {
        let frame = frames.removeLast()
        let elements = Array(values[frame.valueStart...])
        values.removeSubrange(frame.valueStart...)
        return .array(elements)
    }

    private mutating func closeObject() -> JSONValue {
        let frame = frames.removeLast()
        let count = values.count - frame.valueStart
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(count)
        // Duplicates are rare; a linear scan is cheapest for small objects, a dictionary keeps big
        // ones linear.
        if count <= 12 {
            for offset in 0..<count {
                let key = keys[frame.keyStart + offset]
                let value = values[frame.valueStart + offset]
                if let existing = members.firstIndex(where: { utf8Equal($0.key, key) }) {
                    members[existing].value = value
                } else {
                    members.append((key: key, value: value))
                }
            }
        } else {
            var positions: [UTF8Key: Int] = [:]
            positions.reserveCapacity(count)
            for offset in 0..<count {
                let key = keys[frame.keyStart + offset]
                let value = values[frame.valueStart + offset]
                if let existing = positions[UTF8Key(key)] {
                    members[existing].value = value
                } else {
                    positions[UTF8Key(key)] = members.count
                    members.append((key: key, value: value))
                }
            }
        }
        values.removeSubrange(frame.valueStart...)
        keys.removeSubrange(frame.keyStart...)
        return .object(members)
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = index
        let length = literal.utf8CodeUnitCount
        let matches = literal.withUTF8Buffer { expected -> Bool in
            guard bytes.count - start >= length else { return false }
            for offset in 0..<length where bytes[start + offset] != expected[offset] {
                return false
            }
            return true
        }
        guard matches else {
            throw unexpected("expected a value (object, array, string, number, true, false or null)")
        }
        index += length
    }

    // MARK: Strings

    /// Parses the string starting at the opening quote under `index`.
    private mutating func parseString() throws(JSONParseError) -> String {
        let quote = index
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let string = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return string
            }
            if byte == UInt8(ascii: "\\") {
                return try parseEscapedString(quote: quote, start: start)
            }
            if byte < 0x20 {
                throw controlCharacter(byte)
            }
            if byte < 0x80 {
                index += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        throw JSONParseError(offset: index, message: "unterminated string that starts at byte offset \(quote)")
    }

    /// Continues a string from its first backslash, building the decoded bytes in `scratch`.
    private mutating func parseEscapedString(quote: Int, start: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        var runStart = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                index += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") {
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                try parseEscape()
                runStart = index
                continue
            }
            if byte < 0x20 {
                throw controlCharacter(byte)
            }
            if byte < 0x80 {
                index += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        throw JSONParseError(offset: index, message: "unterminated string that starts at byte offset \(quote)")
    }

    /// Decodes the escape under `index` (a backslash) into `scratch`.
    private mutating func parseEscape() throws(JSONParseError) {
        let backslash = index
        guard index + 1 < bytes.count else {
            throw JSONParseError(offset: bytes.count, message: "unexpected end of input inside an escape sequence")
        }
        let kind = bytes[index + 1]
        index += 2
        switch kind {
        case UInt8(ascii: "\""): scratch.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): scratch.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): scratch.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4(escapeAt: backslash)
            if (0xD800...0xDBFF).contains(scalar) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(
                        offset: backslash,
                        message: "high surrogate \\u\(hex4(scalar)) is not followed by a low surrogate escape"
                    )
                }
                let lowEscape = index
                index += 2
                let low = try readHex4(escapeAt: lowEscape)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError(
                        offset: lowEscape,
                        message: "high surrogate \\u\(hex4(scalar)) is followed by \\u\(hex4(low)), not a low surrogate"
                    )
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw JSONParseError(
                    offset: backslash,
                    message: "low surrogate \\u\(hex4(scalar)) without a preceding high surrogate"
                )
            }
            appendUTF8(scalar)
        default:
            throw JSONParseError(
                offset: backslash,
                message: "invalid escape sequence \\\(describeByte(kind)); valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX"
            )
        }
    }

    private mutating func readHex4(escapeAt backslash: Int) throws(JSONParseError) -> UInt32 {
        guard bytes.count - index >= 4 else {
            throw JSONParseError(offset: backslash, message: "a \\u escape needs four hexadecimal digits")
        }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default:
                throw JSONParseError(
                    offset: index + offset,
                    message: "a \\u escape needs four hexadecimal digits, found \(describeByte(byte))"
                )
            }
            value = value << 4 | digit
        }
        index += 4
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `index` (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF) and steps over it.
    private mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = bytes[index]
        let length: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondHigh = 0x9F
        case 0xF0: length = 4; secondLow = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondHigh = 0x8F
        default:
            throw JSONParseError(offset: index, message: "invalid UTF-8: \(describeByte(lead)) cannot start a character")
        }
        guard bytes.count - index >= length else {
            throw JSONParseError(offset: index, message: "invalid UTF-8: the input ends inside a multi-byte character")
        }
        let second = bytes[index + 1]
        guard second >= secondLow, second <= secondHigh else {
            throw JSONParseError(
                offset: index + 1,
                message: "invalid UTF-8: \(describeByte(second)) cannot follow \(describeByte(lead))"
            )
        }
        for offset in 2..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else {
                throw JSONParseError(
                    offset: index + offset,
                    message: "invalid UTF-8: \(describeByte(byte)) is not a continuation byte"
                )
            }
        }
        index += length
    }

    // MARK: Numbers

    private mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let syntax = try NumberSyntax.scan(bytes, from: index)
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<syntax.end]), as: UTF8.self)
        let value = syntax.doubleValue(in: bytes)
        index = syntax.end
        return JSONNumber(validatedText: text, doubleValue: value)
    }

    // MARK: Errors

    private func unexpected(_ expectation: String) -> JSONParseError {
        JSONParseError(offset: index, message: "\(expectation), found \(describeByte(bytes[index]))")
    }

    private func controlCharacter(_ byte: UInt8) -> JSONParseError {
        JSONParseError(
            offset: index,
            message: "control character \(describeByte(byte)) must be escaped inside a string"
        )
    }
}

/// `'x'` for printable ASCII, `byte 0x0A` otherwise.
func describeByte(_ byte: UInt8) -> String {
    if byte >= 0x21, byte < 0x7F {
        return "'\(Character(Unicode.Scalar(byte)))'"
    }
    let digits = String(byte, radix: 16, uppercase: true)
    return "byte 0x\(digits.count == 1 ? "0" + digits : digits)"
}

private func hex4(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

/// The shape of one RFC 8259 number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
struct NumberSyntax {
    var start: Int
    var end: Int
    var negative: Bool
    /// Significant digits (leading zeros dropped) while they fit; `significandOverflow` once not.
    var significand: UInt64
    var significantDigits: Int
    var significandOverflow: Bool
    /// Power of ten applied to `significand` (explicit exponent minus fraction digits).
    var decimalExponent: Int

    /// Scans a number at `start`; the error names the offending byte.
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) throws(JSONParseError) -> NumberSyntax {
        var index = start
        var syntax = NumberSyntax(
            start: start, end: start, negative: false, significand: 0, significantDigits: 0,
            significandOverflow: false, decimalExponent: 0
        )
        func isDigit(_ i: Int) -> Bool {
            i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9")
        }
        func found(_ i: Int) -> String {
            i < bytes.count ? describeByte(bytes[i]) : "the end of input"
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            syntax.negative = true
            index += 1
        }
        guard isDigit(index) else {
            throw JSONParseError(offset: index, message: "expected a digit in a number, found \(found(index))")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if isDigit(index) {
                throw JSONParseError(offset: index - 1, message: "numbers must not have leading zeros")
            }
        } else {
            while isDigit(index) {
                syntax.addDigit(bytes[index])
                index += 1
            }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else {
                throw JSONParseError(
                    offset: index,
                    message: "expected a digit after the decimal point, found \(found(index))"
                )
            }
            while isDigit(index) {
                syntax.addDigit(bytes[index])
                syntax.decimalExponent -= 1
                index += 1
            }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard isDigit(index) else {
                throw JSONParseError(offset: index, message: "expected a digit in the exponent, found \(found(index))")
            }
            var exponent = 0
            while isDigit(index) {
                if exponent < 1_000_000 {
                    exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                }
                index += 1
            }
            syntax.decimalExponent += exponentNegative ? -exponent : exponent
        }
        syntax.end = index
        return syntax
    }

    private mutating func addDigit(_ byte: UInt8) {
        let digit = UInt64(byte - UInt8(ascii: "0"))
        if significantDigits == 0, digit == 0 {
            return
        }
        if significantDigits < 19 {
            significand = significand * 10 + digit
        } else {
            significandOverflow = true
            // The dropped digit still scales the value.
            decimalExponent += 1
        }
        significantDigits += 1
    }

    /// The correctly rounded double: exact arithmetic when the significand and the power of ten are
    /// both exact doubles (Clinger's fast path), the C library's conversion otherwise.
    func doubleValue(in bytes: UnsafeBufferPointer<UInt8>) -> Double {
        if significand == 0, !significandOverflow {
            return negative ? -0.0 : 0.0
        }
        if !significandOverflow, significand < 1 << 53, decimalExponent >= -22, decimalExponent <= 22 {
            var value = Double(significand)
            let power = exactPowersOfTen[abs(decimalExponent)]
            value = decimalExponent < 0 ? value / power : value * power
            return negative ? -value : value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        // Valid JSON number syntax is always accepted by the conversion; overflow yields infinity.
        return Double(text) ?? (negative ? -.infinity : .infinity)
    }
}

private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]
