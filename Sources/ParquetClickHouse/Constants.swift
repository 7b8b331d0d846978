import ClickHouseNative

/// Text values (Hive partition values, lineage values) converted to one value of a column type.
enum ConstantParser {
    /// One row of `type`'s base value (Nullable and LowCardinality accept plain data) parsed from `text`.
    static func column(text: String, type: ClickHouseType) throws(CompileError) -> NativeColumnData {
        let base = Compiler.scalarBase(type)
        func fail(_ why: String = "") -> CompileError {
            CompileError(reason: "\"\(text)\" is not a \(base) value" + (why.isEmpty ? "" : ": \(why)"))
        }
        func integer(_ low: Int128, _ high: Int128, width: Int) throws(CompileError) -> NativeColumnData {
            guard let value = Int128(text), value >= low, value <= high else { throw fail() }
            let bytes = withUnsafeBytes(of: value.littleEndian) { Array($0) } + Array(repeating: value < 0 ? 0xFF : 0, count: 16)
            return .fixed(try! FixedWidthBuffer(width: width, bytes: Array(bytes[0..<width])))
        }
        switch base {
        case .string: return .strings(StringBuffer([text]))
        case .fixedString(let n):
            let bytes = Array(text.utf8)
            guard bytes.count <= n else { throw fail("longer than \(n) bytes") }
            return .fixed(try! FixedWidthBuffer(width: n, bytes: bytes + Array(repeating: 0, count: n - bytes.count)))
        case .int8: return try integer(-128, 127, width: 1)
        case .int16: return try integer(-32768, 32767, width: 2)
        case .int32: return try integer(Int128(Int32.min), Int128(Int32.max), width: 4)
        case .int64: return try integer(Int128(Int64.min), Int128(Int64.max), width: 8)
        case .uint8: return try integer(0, 255, width: 1)
        case .uint16: return try integer(0, 65535, width: 2)
        case .uint32: return try integer(0, Int128(UInt32.max), width: 4)
        case .uint64: return try integer(0, Int128(UInt64.max), width: 8)
        case .int128: return try integer(.min, .max, width: 16)
        case .uint128: return try integer(0, .max, width: 16)
        case .float32:
            guard let value = Float(text) else { throw fail() }
            return .fixed(FixedWidthBuffer(float32: [value]))
        case .float64:
            guard let value = Double(text) else { throw fail() }
            return .fixed(FixedWidthBuffer(float64: [value]))
        case .bool:
            switch text.lowercased() {
            case "true", "1": return .fixed(FixedWidthBuffer([1] as [UInt8]))
            case "false", "0": return .fixed(FixedWidthBuffer([0] as [UInt8]))
            default: throw fail()
            }
        case .date, .date32:
            guard let days = civilDays(text) else { throw fail("expected YYYY-MM-DD") }
            if base == .date {
                guard (0...65535).contains(days) else { throw fail("outside the Date range") }
                return .fixed(FixedWidthBuffer([UInt16(days)]))
            }
            guard (-25567...120529).contains(days) else { throw fail("outside the Date32 range") }
            return .fixed(FixedWidthBuffer([Int32(days)]))
        case .dateTime:
            guard let seconds = dateTimeSeconds(text), (0...Int64(UInt32.max)).contains(seconds) else { throw fail("expected YYYY-MM-DD[ hh:mm:ss] in UTC") }
            return .fixed(FixedWidthBuffer([UInt32(seconds)]))
        case .dateTime64(let precision, _):
            guard let seconds = dateTimeSeconds(text) else { throw fail("expected YYYY-MM-DD[ hh:mm:ss] in UTC") }
            var scale: Int64 = 1
            for _ in 0..<precision { scale *= 10 }
            return .fixed(FixedWidthBuffer([seconds * scale]))
        case .decimal(let precision, let scale):
            guard let unscaled = decimalUnscaled(text, scale: scale), precision > 38 || unscaled.magnitude < ScalarConversion.powersOfTen[precision].magnitude else {
                throw fail()
            }
            let width = ClickHouseType.decimalWidth(precision: precision)
            let bytes = withUnsafeBytes(of: unscaled.littleEndian) { Array($0) } + Array(repeating: unscaled < 0 ? 0xFF : 0, count: 16)
            return .fixed(try! FixedWidthBuffer(width: width, bytes: Array(bytes[0..<width])))
        case .enum8(let members), .enum16(let members):
            guard let member = members.first(where: { $0.name == text }) else { throw fail("not a member") }
            if case .enum8 = base { return .fixed(FixedWidthBuffer([Int8(member.value)])) }
            return .fixed(FixedWidthBuffer([Int16(member.value)]))
        case .uuid:
            let hex = text.filter { $0 != "-" }
            guard hex.count == 32, let bytes = hexBytes(hex) else { throw fail() }
            return .fixed(try! FixedWidthBuffer(width: 16, bytes: Array(bytes[0..<8].reversed()) + Array(bytes[8..<16].reversed())))
        default:
            throw CompileError(reason: "a \(base) column cannot take the text value \"\(text)\"")
        }
    }

    /// Days from 1970-01-01 for `YYYY-MM-DD` (proleptic Gregorian).
    static func civilDays(_ text: String) -> Int? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= lengths[month - 1] else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Seconds since the epoch for `YYYY-MM-DD`, `YYYY-MM-DD hh:mm:ss` or `YYYY-MM-DDThh:mm:ss[Z]` (UTC).
    static func dateTimeSeconds(_ text: String) -> Int64? {
        var trimmed = Substring(text)
        if trimmed.hasSuffix("Z") { trimmed = trimmed.dropLast() }
        let date = trimmed.prefix(10)
        guard let days = civilDays(String(date)) else { return nil }
        var seconds = Int64(days) * 86_400
        let rest = trimmed.dropFirst(10)
        if !rest.isEmpty {
            guard rest.first == " " || rest.first == "T" else { return nil }
            let clock = rest.dropFirst().split(separator: ":")
            guard clock.count == 3, let h = Int(clock[0]), let m = Int(clock[1]), let s = Int(clock[2]),
                (0...23).contains(h), (0...59).contains(m), (0...59).contains(s)
            else { return nil }
            seconds += Int64(h * 3600 + m * 60 + s)
        }
        return seconds
    }

    /// The unscaled integer of a decimal text with exactly `scale` fraction digits after padding.
    static func decimalUnscaled(_ text: String, scale: Int) -> Int128? {
        var body = Substring(text)
        var negative = false
        if body.hasPrefix("-") {
            negative = true
            body = body.dropFirst()
        }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty || parts.count == 2 else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= scale, (parts[0] + fraction).allSatisfy(\.isNumber) else { return nil }
        guard let value = Int128(String(parts[0].isEmpty ? "0" : parts[0]) + fraction + String(repeating: "0", count: scale - fraction.count)) else {
            return nil
        }
        return negative ? -value : value
    }

    static func hexBytes(_ hex: String) -> [UInt8]? {
        var result: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = nibble(high), let l = nibble(low) else { return nil }
            result.append(h << 4 | l)
        }
        return result
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
