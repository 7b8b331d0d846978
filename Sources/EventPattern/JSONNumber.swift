/// A JSON number: its text exactly as written plus the nearest `Double`.
///
/// Keeping the text lets the service echo events byte for byte and compare large integers (account
/// ids, S3 sizes beyond 2^53) without rounding; `doubleValue` serves numeric comparisons. A number
/// too large for `Double` (`1e400`) keeps its text and has an infinite `doubleValue`.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number as written, always valid RFC 8259 number syntax (`-0`, `1e400`, `5242880.0`).
    public let text: String
    /// The nearest `Double`, `±infinity` when the magnitude overflows.
    public let doubleValue: Double

    /// Validates `text` against the RFC 8259 number grammar; `nil` when it does not conform.
    public init?(_ text: String) {
        var text = text
        let parsed: (valid: Bool, value: Double) = text.withUTF8 { bytes in
            guard let syntax = try? NumberSyntax.scan(bytes, from: 0), syntax.end == bytes.count else {
                return (false, 0)
            }
            return (true, syntax.doubleValue(in: bytes))
        }
        guard parsed.valid else { return nil }
        self.text = text
        self.doubleValue = parsed.value
    }

    /// An integer.
    public init(_ value: Int64) {
        self.text = String(value)
        self.doubleValue = Double(value)
    }

    /// A finite `Double`, written as its shortest round-tripping text; `nil` for NaN and infinities.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        // Swift prints the shortest text that reads back as the same Double, in a form that is
        // already valid JSON ("5242880.0", "1e-05", "-0.0", "1.2345678901234567e+19").
        self.text = "\(value)"
        self.doubleValue = value
    }

    /// Internal: a number whose text the parser already validated.
    init(validatedText: String, doubleValue: Double) {
        self.text = validatedText
        self.doubleValue = doubleValue
    }

    /// The value as an `Int64` when it is mathematically an integer that `Int64` holds exactly
    /// (`5242880`, `5242880.0`, `5.24288e6`), else `nil` (`1.5`, `1e19`, `9223372036854775808`).
    public var int64Value: Int64? {
        var text = text
        return text.withUTF8 { bytes -> Int64? in
            guard let decimal = Decimal10(bytes) else { return nil }
            return decimal.int64Value
        }
    }

    /// The text.
    public var description: String { text }

    /// Numbers are equal when their texts are (see ``JSONValue``'s equality).
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool { lhs.text == rhs.text }

    /// Hashes the text.
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

// MARK: - Comparable form used by the pattern matcher

extension JSONNumber {
    /// The number's position in the total order of doubles, or `nil` when the number cannot be
    /// compared numerically.
    ///
    /// The pattern language compares numbers as doubles, but only numbers that a double represents
    /// without loss: the value must be finite and its text must equal (as a decimal) the shortest
    /// text of the nearest double. `5242880`, `301.8` and `1e-320` qualify; `1e400`, `0.1000000000000000055`
    /// and `9007199254740993` (beyond 2^53) do not, and then only exact-text matching applies.
    ///
    /// The key orders `-0` below `+0`, like the bit-level encoding the pattern language uses.
    var comparableKey: UInt64? {
        let value = doubleValue
        guard value.isFinite else { return nil }
        var text = text
        let exact = text.withUTF8 { bytes in Self.isExactShortest(bytes, value: value) }
        guard exact else { return nil }
        return Self.orderKey(value)
    }

    /// Maps a double to an unsigned integer with the same order (negative values reversed).
    static func orderKey(_ value: Double) -> UInt64 {
        let bits = value.bitPattern
        return bits >> 63 == 0 ? bits | (1 << 63) : ~bits
    }

    /// Whether the decimal written in `bytes` equals the shortest decimal of `value` (its nearest double).
    static func isExactShortest(_ bytes: UnsafeBufferPointer<UInt8>, value: Double) -> Bool {
        guard let written = Decimal10(bytes) else { return false }
        if written.isZero { return value == 0 }
        // Fast path: a decimal with at most 15 significant digits survives the round trip through a
        // normal double (DBL_DIG), so no shorter, different decimal can name the same double.
        if written.digits.count <= 15, value.isNormal { return true }
        var shortest = "\(value)"
        return shortest.withUTF8 { shortestBytes in
            guard let canonical = Decimal10(shortestBytes) else { return false }
            return canonical == written
        }
    }
}

/// A decimal number reduced to significant digits and a power of ten, for exact comparisons:
/// `value = sign * digits * 10^exponent`, `digits` without leading or trailing zeros.
struct Decimal10: Equatable {
    var negative: Bool
    var digits: [UInt8]
    var exponent: Int

    var isZero: Bool { digits.isEmpty }

    /// Reads JSON number syntax or Swift's `Double` description (`1.5e+19`, `5e-324`); `nil` for
    /// anything else (`inf`, `nan`).
    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var digits: [UInt8] = []
        var fractionDigits = 0
        var sawDigit = false
        var inFraction = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                sawDigit = true
                if !(digits.isEmpty && byte == UInt8(ascii: "0")) {
                    digits.append(byte - UInt8(ascii: "0"))
                }
                if inFraction { fractionDigits += 1 }
            } else if byte == UInt8(ascii: "."), !inFraction {
                inFraction = true
            } else {
                break
            }
            index += 1
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if index < bytes.count {
            guard bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") else { return nil }
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var sawExponentDigit = false
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                sawExponentDigit = true
                // Saturate: exponents this large make the value overflow or vanish anyway.
                if exponent < 100_000_000 {
                    exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                }
                index += 1
            }
            guard sawExponentDigit else { return nil }
            if exponentNegative { exponent = -exponent }
        }
        guard index == bytes.count else { return nil }
        // Leading zeros of the integer part were skipped; zeros after the point but before the
        // first significant digit were skipped too, while still counting as fraction digits.
        exponent -= fractionDigits
        while let last = digits.last, last == 0 {
            digits.removeLast()
            exponent += 1
        }
        self.negative = negative && !digits.isEmpty
        self.digits = digits
        self.exponent = digits.isEmpty ? 0 : exponent
    }

    /// The value when it is an integer within `Int64`.
    var int64Value: Int64? {
        if digits.isEmpty { return 0 }
        guard exponent >= 0, digits.count + exponent <= 19 else { return nil }
        var magnitude: UInt64 = 0
        for digit in digits {
            magnitude = magnitude * 10 + UInt64(digit)
        }
        for _ in 0..<exponent {
            let (product, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            magnitude = product
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}
