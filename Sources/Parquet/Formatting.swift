/// Text renderings shared by the JSON Lines printer: shortest round-trip floats in the
/// style of Python's `repr`, decimals, base64, ISO-8601 dates, times and timestamps.
enum Formatting {
    static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN { out.append(contentsOf: #""NaN""#.utf8); return }
        if value.isInfinite {
            out.append(contentsOf: (value < 0 ? #""-Infinity""# : #""Infinity""#).utf8)
            return
        }
        if value == 0 {
            out.append(contentsOf: (value.sign == .minus ? "-0.0" : "0.0").utf8)
            return
        }
        // Swift's description is the shortest text that round-trips; re-lay it out as Python does.
        var text = Array(value.description.utf8)
        var negative = false
        if text.first == UInt8(ascii: "-") {
            negative = true
            text.removeFirst()
        }
        var mantissa = text[...]
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            mantissa = text[..<e]
            exponent = Int(String(decoding: text[(e + 1)...], as: UTF8.self)) ?? 0
        }
        var digits: [UInt8] = []
        var pointPosition = mantissa.count
        for (i, c) in mantissa.enumerated() {
            if c == UInt8(ascii: ".") { pointPosition = i } else { digits.append(c) }
        }
        // value = 0.digits * 10^decimalPoint
        var decimalPoint = pointPosition + exponent
        while digits.first == UInt8(ascii: "0") && digits.count > 1 {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while digits.last == UInt8(ascii: "0") && digits.count > 1 { digits.removeLast() }
        if negative { out.append(UInt8(ascii: "-")) }
        if decimalPoint > -4 && decimalPoint <= 16 {
            if decimalPoint <= 0 {
                out.append(contentsOf: "0.".utf8)
                out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -decimalPoint))
                out.append(contentsOf: digits)
            } else if decimalPoint >= digits.count {
                out.append(contentsOf: digits)
                out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: decimalPoint - digits.count))
                out.append(contentsOf: ".0".utf8)
            } else {
                out.append(contentsOf: digits[..<decimalPoint])
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[decimalPoint...])
            }
        } else {
            out.append(digits[0])
            if digits.count > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[1...])
            }
            let e = decimalPoint - 1
            out.append(UInt8(ascii: "e"))
            out.append(UInt8(ascii: e < 0 ? "-" : "+"))
            let magnitude = String(abs(e))
            if magnitude.count < 2 { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: magnitude.utf8)
        }
    }

    /// Converts an IEEE half-precision value to Double.
    static func halfToDouble(_ bits: UInt16) -> Double {
        let sign = (bits >> 15) & 1
        let exponent = Int((bits >> 10) & 0x1F)
        let fraction = Double(bits & 0x3FF)
        var result: Double
        if exponent == 0 {
            result = fraction * 0x1p-24
        } else if exponent == 31 {
            result = fraction == 0 ? .infinity : .nan
        } else {
            result = (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
        if sign == 1 { result = -result }
        return result
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func appendBase64(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let alphabet = base64Alphabet
        var i = 0
        let n = bytes.count
        while i + 3 <= n {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(v >> 18)])
            out.append(alphabet[Int((v >> 12) & 63)])
            out.append(alphabet[Int((v >> 6) & 63)])
            out.append(alphabet[Int(v & 63)])
            i += 3
        }
        if n - i == 1 {
            let v = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(v >> 18)])
            out.append(alphabet[Int((v >> 12) & 63)])
            out.append(contentsOf: "==".utf8)
        } else if n - i == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(v >> 18)])
            out.append(alphabet[Int((v >> 12) & 63)])
            out.append(alphabet[Int((v >> 6) & 63)])
            out.append(UInt8(ascii: "="))
        }
    }

    static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        let hex = Array("0123456789abcdef".utf8)
        // Invalid UTF-8 is replaced (U+FFFD) so the output stays valid JSON.
        let text = String(decoding: bytes, as: UTF8.self)
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 15)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Writes a decimal from its unscaled magnitude digits (base 10, most significant first).
    static func appendDecimal(negative: Bool, digits: [UInt8], scale: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if negative && !(digits.allSatisfy { $0 == UInt8(ascii: "0") }) { out.append(UInt8(ascii: "-")) }
        var padded = digits
        if padded.count < scale + 1 {
            padded.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: scale + 1 - padded.count), at: 0)
        }
        let integerDigits = padded.count - scale
        out.append(contentsOf: padded[..<integerDigits])
        if scale > 0 {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: padded[integerDigits...])
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendDecimal(_ value: Int64, scale: Int, to out: inout [UInt8]) {
        appendDecimal(negative: value < 0, digits: Array(String(value.magnitude).utf8), scale: scale, to: &out)
    }

    /// Decimal from big-endian two's-complement bytes of any length.
    static func appendDecimal(bigEndian bytes: UnsafeRawBufferPointer, scale: Int, to out: inout [UInt8]) {
        if bytes.isEmpty {
            appendDecimal(negative: false, digits: [UInt8(ascii: "0")], scale: scale, to: &out)
            return
        }
        let negative = bytes[0] & 0x80 != 0
        // Magnitude as base-2^32 limbs, most significant first.
        var magnitude = [UInt8](bytes)
        if negative {
            for i in magnitude.indices { magnitude[i] = ~magnitude[i] }
            var i = magnitude.count - 1
            while i >= 0 {
                let (sum, overflow) = magnitude[i].addingReportingOverflow(1)
                magnitude[i] = sum
                if !overflow { break }
                i -= 1
            }
        }
        var limbs: [UInt32] = []
        let pad = (4 - magnitude.count % 4) % 4
        let full = [UInt8](repeating: 0, count: pad) + magnitude
        for i in stride(from: 0, to: full.count, by: 4) {
            limbs.append(UInt32(full[i]) << 24 | UInt32(full[i + 1]) << 16 | UInt32(full[i + 2]) << 8 | UInt32(full[i + 3]))
        }
        var chunks: [UInt32] = []
        while limbs.contains(where: { $0 != 0 }) {
            var remainder: UInt64 = 0
            for i in limbs.indices {
                let current = remainder << 32 | UInt64(limbs[i])
                limbs[i] = UInt32(current / 1_000_000_000)
                remainder = current % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
        }
        var digits: [UInt8] = []
        if chunks.isEmpty { digits = [UInt8(ascii: "0")] }
        for (i, chunk) in chunks.reversed().enumerated() {
            let text = Array(String(chunk).utf8)
            if i > 0 { digits.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 9 - text.count)) }
            digits.append(contentsOf: text)
        }
        appendDecimal(negative: negative, digits: digits, scale: scale, to: &out)
    }

    /// Proleptic Gregorian (year, month, day) from days since 1970-01-01.
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    static func appendPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
        let text = String(value)
        if text.count < width { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - text.count)) }
        out.append(contentsOf: text.utf8)
    }

    static func appendDate(days: Int64, to out: inout [UInt8]) {
        let (y, m, d) = civil(fromDays: days)
        // Years outside 0000...9999 use the ISO 8601 expanded form: a sign and at least 6 digits.
        if y < 0 {
            out.append(UInt8(ascii: "-"))
            appendPadded(-y, width: 6, to: &out)
        } else if y > 9999 {
            out.append(UInt8(ascii: "+"))
            appendPadded(y, width: 6, to: &out)
        } else {
            appendPadded(y, width: 4, to: &out)
        }
        out.append(UInt8(ascii: "-"))
        appendPadded(Int64(m), width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(Int64(d), width: 2, to: &out)
    }

    /// `HH:MM:SS[.fraction]` for a time of day given in `unit`s (`digits` fraction digits).
    static func appendTimeOfDay(_ units: Int64, perSecond: Int64, digits: Int, to out: inout [UInt8]) {
        let seconds = units / perSecond
        let fraction = units % perSecond
        appendPadded(seconds / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(seconds / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(seconds % 60, width: 2, to: &out)
        if digits > 0 {
            out.append(UInt8(ascii: "."))
            appendPadded(fraction, width: digits, to: &out)
        }
    }

    static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b
        var r = a % b
        if r < 0 {
            r += b
            q -= 1
        }
        return (q, r)
    }

    static func appendTimestamp(_ value: Int64, unit: ParquetTimeUnit, to out: inout [UInt8]) {
        let perDay = unit.perSecond * 86_400
        let (days, within) = floorDivMod(value, perDay)
        appendTimestamp(days: days, unitsOfDay: within, perSecond: unit.perSecond, digits: unit.fractionDigits, to: &out)
    }

    static func appendTimestamp(days: Int64, unitsOfDay: Int64, perSecond: Int64, digits: Int, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendDate(days: days, to: &out)
        out.append(UInt8(ascii: "T"))
        appendTimeOfDay(unitsOfDay, perSecond: perSecond, digits: digits, to: &out)
        out.append(contentsOf: "Z\"".utf8)
    }
}
